package dunlin_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"dunlin"
	"dunlin/shared/api"
	"dunlin/shared/app"
	"dunlin/shared/cfntemplate"
	"dunlin/shared/cost"
	"dunlin/shared/metrics"
	"dunlin/shared/outbound"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/webhooks"
)

func parseTemplate(t *testing.T) *cfntemplate.Template {
	t.Helper()
	tpl, err := cfntemplate.Parse(dunlin.Template)
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// TestEveryFunctionIsBuiltAsSAMWould checks each function's settings and
// builds its folder for linux/arm64 with the flags SAM's Go build uses.
func TestEveryFunctionIsBuiltAsSAMWould(t *testing.T) {
	tpl := parseTemplate(t)
	fns := tpl.Functions()
	if len(fns) == 0 {
		t.Fatal("template has no functions")
	}
	dirs, _ := filepath.Glob("functions/*")
	if len(dirs) != len(fns) {
		t.Errorf("functions/ has %d folders but the template %d functions", len(dirs), len(fns))
	}
	for _, f := range fns {
		t.Run(f.LogicalID, func(t *testing.T) {
			t.Parallel()
			if f.Runtime != "provided.al2023" || !slices.Equal(f.Architectures, []string{"arm64"}) || f.Handler != "bootstrap" || f.BuildMethod != "go1.x" {
				t.Errorf("%+v: want provided.al2023, arm64, bootstrap, BuildMethod go1.x", f)
			}
			dir := strings.TrimSuffix(f.CodeURI, "/")
			if !strings.HasPrefix(dir, "functions/") {
				t.Errorf("CodeUri %q is not under functions/", f.CodeURI)
			}
			if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
				t.Fatalf("CodeUri %s: %v", f.CodeURI, err)
			}
			out := filepath.Join(t.TempDir(), "bootstrap")
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, "./"+dir)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build %s: %v\n%s", dir, err, b)
			}
		})
	}
}

// TestTableIsTheOneTheStoreUses: the keys and indexes the store queries are
// exactly those template.yaml creates, and the table is protected.
func TestTableIsTheOneTheStoreUses(t *testing.T) {
	tpl := parseTemplate(t)
	if ids := tpl.ResourcesOfType("AWS::DynamoDB::Table"); !slices.Equal(ids, []string{"Table"}) {
		t.Fatalf("tables in template: %v, want exactly one named Table", ids)
	}
	tbl, err := tpl.Table("Table")
	if err != nil {
		t.Fatal(err)
	}
	if tbl.BillingMode != "PAY_PER_REQUEST" {
		t.Errorf("BillingMode = %s", tbl.BillingMode)
	}
	keyOf := func(ks []cfntemplate.KeySchemaElement) [2]string {
		var k [2]string
		for _, e := range ks {
			if e.KeyType == "HASH" {
				k[0] = e.AttributeName
			} else {
				k[1] = e.AttributeName
			}
		}
		return k
	}
	if got := keyOf(tbl.KeySchema); got != [2]string{store.Schema.PK, store.Schema.SK} {
		t.Errorf("table key %v, store uses %s/%s", got, store.Schema.PK, store.Schema.SK)
	}
	got := map[string][2]string{}
	for _, g := range tbl.GlobalSecondaryIndex {
		got[g.IndexName] = keyOf(g.KeySchema)
		if g.Projection.ProjectionType != "ALL" {
			t.Errorf("index %s projects %s; the store reads whole items from it", g.IndexName, g.Projection.ProjectionType)
		}
	}
	if len(got) != len(store.Schema.Indexes) {
		t.Errorf("template indexes %v, store uses %v", got, store.Schema.Indexes)
	}
	for name, k := range store.Schema.Indexes {
		if got[name] != k {
			t.Errorf("index %s: template %v, store %v", name, got[name], k)
		}
	}
	defined := map[string]bool{}
	for _, a := range tbl.AttributeDefinitions {
		defined[a.AttributeName] = a.AttributeType == "S"
	}
	for _, k := range append([][2]string{{store.Schema.PK, store.Schema.SK}}, mapValues(store.Schema.Indexes)...) {
		for _, a := range k {
			if !defined[a] {
				t.Errorf("key attribute %s is not defined as a string", a)
			}
		}
	}
	if tbl.TimeToLive == nil || !tbl.TimeToLive.Enabled || tbl.TimeToLive.AttributeName != store.Schema.TTL {
		t.Errorf("TTL %+v, store writes %s", tbl.TimeToLive, store.Schema.TTL)
	}

	res, _ := tpl.Resource("Table")
	for path, want := range map[string]string{
		"DeletionPolicy":                       "Retain",
		"UpdateReplacePolicy":                  "Retain",
		"Properties.DeletionProtectionEnabled": "true",
		"Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled": "true",
		"Properties.SSESpecification.SSEEnabled":                                 "true",
	} {
		n := cfntemplate.Get(res, strings.Split(path, ".")...)
		if n == nil || n.Value != want {
			t.Errorf("Table %s is not %s", path, want)
		}
	}
}

func mapValues(m map[string][2]string) (out [][2]string) {
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestFunctionPoliciesAreLeastPrivilege: no function may scan or manage the
// table, and every action is on this table or its indexes.
func TestFunctionPoliciesAreLeastPrivilege(t *testing.T) {
	tpl := parseTemplate(t)
	for _, id := range tpl.ResourcesOfType("AWS::Serverless::Function") {
		res, _ := tpl.Resource(id)
		pol := cfntemplate.Get(res, "Properties", "Policies")
		if pol == nil {
			t.Errorf("%s has no policies", id)
			continue
		}
		var policies []struct {
			Statement []struct {
				Action   []string `yaml:"Action"`
				Resource []any    `yaml:"Resource"`
			} `yaml:"Statement"`
		}
		if err := pol.Decode(&policies); err != nil {
			t.Fatalf("%s policies: %v (only inline statements are allowed, so they can be checked)", id, err)
		}
		for _, p := range policies {
			for _, st := range p.Statement {
				for _, a := range st.Action {
					if strings.Contains(a, "*") || a == "dynamodb:Scan" || strings.Contains(a, "Table") && a != "dynamodb:ConditionCheckItem" {
						t.Errorf("%s may %s", id, a)
					}
					// Every resource is named, except for the actions
					// that IAM cannot scope to one.
					if slices.Contains(st.Resource, any("*")) && a != "ses:GetAccount" {
						t.Errorf("%s may %s on any resource", id, a)
					}
				}
			}
		}
	}
}

// TestTemplateKeepsCloudFormationTags: the parser must keep short-form
// intrinsics such as !GetAtt as tags rather than fail or flatten them.
func TestTemplateKeepsCloudFormationTags(t *testing.T) {
	tpl := parseTemplate(t)
	res, _ := tpl.Resource("ApiFunction")
	pol := cfntemplate.Get(res, "Properties", "Policies")
	if pol == nil || len(pol.Content) == 0 {
		t.Fatal("ApiFunction has no policies")
	}
	stmt := cfntemplate.Get(pol.Content[0], "Statement")
	resources := cfntemplate.Get(stmt.Content[0], "Resource")
	if len(resources.Content) != 2 {
		t.Fatalf("policy resources: %d", len(resources.Content))
	}
	if n := resources.Content[0]; n.Tag != "!GetAtt" || n.Value != "Table.Arn" {
		t.Errorf("first resource = %s %s, want !GetAtt Table.Arn", n.Tag, n.Value)
	}
	if n := resources.Content[1]; n.Tag != "!Sub" || n.Value != "${Table.Arn}/index/*" {
		t.Errorf("second resource = %s %s, want !Sub ${Table.Arn}/index/*", n.Tag, n.Value)
	}
	api, ok := tpl.Resource("HttpApi")
	if !ok || cfntemplate.Get(api, "Type").Value != "AWS::Serverless::HttpApi" {
		t.Error("no HTTP API resource")
	}
}

// httpRoute is an HttpApi event: a route of API Gateway to a function.
type httpRoute struct {
	function, method, path string
}

func httpRoutes(t *testing.T) []httpRoute {
	t.Helper()
	tpl := parseTemplate(t)
	var out []httpRoute
	for _, id := range tpl.ResourcesOfType("AWS::Serverless::Function") {
		res, _ := tpl.Resource(id)
		ev := cfntemplate.Get(res, "Properties", "Events")
		if ev == nil {
			continue
		}
		var events map[string]struct {
			Type       string `yaml:"Type"`
			Properties struct {
				Method string `yaml:"Method"`
				Path   string `yaml:"Path"`
			} `yaml:"Properties"`
		}
		if err := ev.Decode(&events); err != nil {
			t.Fatalf("%s events: %v", id, err)
		}
		for _, e := range events {
			if e.Type == "HttpApi" {
				out = append(out, httpRoute{id, e.Properties.Method, e.Properties.Path})
			}
		}
	}
	return out
}

// gatewayMatch reports how specifically an API Gateway route path matches
// a request path (0: not at all): literal segments count most, a {var}
// less, a greedy {proxy+} least, as API Gateway picks the most specific.
func gatewayMatch(route, path string) int {
	rs, ps := strings.Split(strings.Trim(route, "/"), "/"), strings.Split(strings.Trim(path, "/"), "/")
	score := 1
	for i, r := range rs {
		if strings.HasSuffix(r, "+}") {
			if len(ps) <= i || ps[i] == "" {
				return 0
			}
			return score
		}
		if i >= len(ps) {
			return 0
		}
		switch {
		case strings.HasPrefix(r, "{"):
			score += 10
		case r == ps[i]:
			score += 100
		default:
			return 0
		}
	}
	if len(ps) != len(rs) {
		return 0
	}
	return score
}

// TestEveryPathReachesItsFunction: every API route, every public page and
// the dashboard's pages are routed by API Gateway to the function that
// serves them, and nothing else is.
func TestEveryPathReachesItsFunction(t *testing.T) {
	routes := httpRoutes(t)
	want := map[string]string{ // method and path -> function
		"GET /app":          "ApiFunction",
		"GET /app/overview": "ApiFunction",
		"POST /app/login":   "ApiFunction",
		"GET /app/customers/cus_1/case-file.html": "ApiFunction",
		"POST /v1/webhooks/stripe":                "WebhooksFunction",
		"POST /v1/webhooks/generic":               "WebhooksFunction",
	}
	example := strings.NewReplacer("{id}", "x1", "{name}", "n", "{language}", "en", "{tone}", "firm", "{step}", "s",
		"{customer_id}", "c1", "{day}", "2026-01-01", "{kind}", "customer", "{token}", "t.1.s")
	for _, rt := range api.New(api.Deps{}).Routes() {
		want[rt.Method+" "+example.Replace(rt.Pattern)] = "ApiFunction"
	}
	for _, p := range api.PublicPages() {
		want[example.Replace(p)] = "ApiFunction"
	}
	for req, fn := range want {
		method, path, _ := strings.Cut(req, " ")
		best, got := 0, "nothing"
		for _, r := range routes {
			if r.method != "ANY" && r.method != method {
				continue
			}
			if s := gatewayMatch(r.path, path); s > best {
				best, got = s, r.function
			}
		}
		if got != fn {
			t.Errorf("%s reaches %s, want %s", req, got, fn)
		}
	}
}

// TestTheAPIIsThrottled: API Gateway throttles every route before the
// functions see the traffic, and the sweep's email cap is configurable.
func TestTheAPIIsThrottled(t *testing.T) {
	tpl := parseTemplate(t)
	res, ok := tpl.Resource("HttpApi")
	if !ok {
		t.Fatal("no HttpApi")
	}
	var s struct {
		Burst int `yaml:"ThrottlingBurstLimit"`
		Rate  int `yaml:"ThrottlingRateLimit"`
	}
	if n := cfntemplate.Get(res, "Properties", "DefaultRouteSettings"); n == nil || n.Decode(&s) != nil || s.Burst <= 0 || s.Rate <= 0 {
		t.Errorf("HttpApi DefaultRouteSettings throttling %+v: want a burst and a rate limit", s)
	}
	for _, env := range []string{"DUNLIN_MAX_EMAILS_PER_RUN: !Ref MaxEmailsPerRun", "DUNLIN_SES_MAX_SEND_RATE: !Ref SesMaxSendRate"} {
		if !strings.Contains(string(dunlin.Template), env) {
			t.Errorf("the template does not set %s", env)
		}
	}
}

// alarm is what an alarm in the template watches.
type alarm struct {
	namespace, metric string
	dims              map[string]string // a !Ref or !GetAtt value as "!Ref X"
	toTopic           bool
}

func alarms(t *testing.T, tpl *cfntemplate.Template) map[string]alarm {
	t.Helper()
	out := map[string]alarm{}
	for _, id := range tpl.ResourcesOfType("AWS::CloudWatch::Alarm") {
		res, _ := tpl.Resource(id)
		props := cfntemplate.Get(res, "Properties")
		a := alarm{namespace: cfntemplate.Get(props, "Namespace").Value, metric: cfntemplate.Get(props, "MetricName").Value, dims: map[string]string{}}
		if d := cfntemplate.Get(props, "Dimensions"); d != nil {
			for _, dim := range d.Content {
				v := cfntemplate.Get(dim, "Value")
				val := v.Value
				if strings.HasPrefix(v.Tag, "!") && !strings.HasPrefix(v.Tag, "!!") { // !Ref, !GetAtt; not YAML's own !!str
					val = v.Tag + " " + v.Value
				}
				a.dims[cfntemplate.Get(dim, "Name").Value] = val
			}
		}
		if acts := cfntemplate.Get(props, "AlarmActions"); acts != nil {
			for _, n := range acts.Content {
				a.toTopic = a.toTopic || n.Tag == "!Ref" && n.Value == "AlarmTopic"
			}
		}
		out[id] = a
	}
	return out
}

// TestAlarmsWatchWhatCanFail: every function has an alarm on its errors
// and its throttles; the sweep's dead-letter queue (the one its schedule
// really uses) and every other queue has one; the alarms on Dunlin's own
// metrics name metrics and dimension sets a function really writes, so a
// renamed metric cannot leave an alarm watching nothing; and webhooks
// that fail or are refused for their signature are watched. Every alarm
// goes to the alarm topic.
func TestAlarmsWatchWhatCanFail(t *testing.T) {
	tpl := parseTemplate(t)
	all := alarms(t, tpl)
	watched := func(namespace, metric string, dims map[string]string) bool {
		for _, a := range all {
			if a.namespace == namespace && a.metric == metric && maps.Equal(a.dims, dims) {
				return true
			}
		}
		return false
	}
	for _, f := range tpl.Functions() {
		for _, m := range []string{"Errors", "Throttles"} {
			if !watched("AWS/Lambda", m, map[string]string{"FunctionName": "!Ref " + f.LogicalID}) {
				t.Errorf("no alarm on %s's %s", f.LogicalID, m)
			}
		}
	}
	sweepFn, _ := tpl.Resource("SweepFunction")
	dlq := cfntemplate.Get(sweepFn, "Properties", "Events", "Hourly", "Properties", "DeadLetterConfig", "Arn")
	if dlq == nil || dlq.Tag != "!GetAtt" || !strings.HasSuffix(dlq.Value, ".Arn") {
		t.Fatalf("the sweep's schedule has no dead-letter queue of the template's own: %v", dlq)
	}
	queue := strings.TrimSuffix(dlq.Value, ".Arn")
	if !watched("AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]string{"QueueName": "!GetAtt " + queue + ".QueueName"}) {
		t.Errorf("no alarm on the depth of %s", queue)
	}
	// Every dead-letter queue in the template has its depth watched.
	for _, q := range tpl.ResourcesOfType("AWS::SQS::Queue") {
		if !watched("AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]string{"QueueName": "!GetAtt " + q + ".QueueName"}) {
			t.Errorf("no alarm on the depth of %s", q)
		}
	}
	// Each metric Dunlin writes, under each dimension set it is published
	// with: a record's full set and its rollups.
	type publishedAs struct {
		metric string
		dims   map[string]string
	}
	var written []publishedAs
	add := func(r metrics.Record) {
		sets := append([][]string{slices.Collect(maps.Keys(r.Dimensions))}, r.Rollups...)
		for _, m := range r.Metrics {
			for _, set := range sets {
				dims := map[string]string{}
				for _, name := range set {
					dims[name] = r.Dimensions[name]
				}
				written = append(written, publishedAs{m.Name, dims})
			}
		}
	}
	for _, r := range app.SweepMetrics(sweep.Summary{}, 0) {
		add(r)
	}
	add(app.OutboundMetrics(outbound.Summary{}, time.Time{}, 0))
	for _, outcome := range webhooks.Outcomes() {
		add(app.WebhookMetrics(webhooks.Delivery{Provider: "stripe", EventType: webhooks.EventOther, Outcome: outcome}))
	}
	// With DetailedMetrics off, only what app.Alarmed keeps is written:
	// every alarm must still find its metric.
	var essential []publishedAs
	for _, w := range written {
		if app.Alarmed(w.metric, w.dims) {
			essential = append(essential, w)
		}
	}
	if len(all) != cost.TemplateAlarms {
		t.Errorf("the template makes %d alarms; cost.TemplateAlarms, which dunlin cost bills, says %d", len(all), cost.TemplateAlarms)
	}
	custom := 0
	for id, a := range all {
		if !a.toTopic {
			t.Errorf("%s does not notify the AlarmTopic", id)
		}
		if a.namespace != metrics.Namespace {
			continue
		}
		custom++
		if !slices.ContainsFunc(written, func(w publishedAs) bool { return w.metric == a.metric && maps.Equal(w.dims, a.dims) }) {
			t.Errorf("%s watches %s %v, which no function writes", id, a.metric, a.dims)
		}
		if !slices.ContainsFunc(essential, func(w publishedAs) bool { return w.metric == a.metric && maps.Equal(w.dims, a.dims) }) {
			t.Errorf("%s watches %s %v, which is not written with DetailedMetrics false (app.Alarmed)", id, a.metric, a.dims)
		}
	}
	if custom < 2 {
		t.Errorf("%d alarms on Dunlin's metrics, want at least sends in doubt and a sweep that did not run", custom)
	}
	// An event given up after a day of retries is a receiver out of step
	// with the books.
	if !watched(metrics.Namespace, "OutboundDeliveriesFailed", map[string]string{"Function": "outbound"}) {
		t.Error("no alarm on outbound deliveries given up")
	}
	// A webhook answered with a 500 is no Lambda error, and a refused
	// signature may be payments going unrecorded: both are watched.
	for _, outcome := range []string{webhooks.OutcomeFailed, webhooks.OutcomeRejectedSignature} {
		if !watched(metrics.Namespace, "WebhookEvents", map[string]string{"Function": "webhooks", "Outcome": outcome}) {
			t.Errorf("no alarm on webhooks whose outcome is %s", outcome)
		}
	}
}
