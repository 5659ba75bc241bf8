package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/akrylysov/algnhsa"
	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/stripe/stripe-go/v85/webhook"
	"go.yaml.in/yaml/v3"

	"dunlin"
	"dunlin/shared/app"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/config"
	"dunlin/shared/cost"
	"dunlin/shared/dbmeter"
	"dunlin/shared/mailevents"
	"dunlin/shared/outbound"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

var updateMeasured = flag.Bool("update-measured", false, "rewrite shared/cost/measured.json from this run")

const measuredFile = "../shared/cost/measured.json"

// TestMeasuredCostUnits measures what each of Dunlin's operations costs in
// AWS's billing units: DynamoDB request units (the ConsumedCapacity
// DynamoDB Local reports), in-process duration and log bytes. It runs the
// App that the Lambda functions run (app.New, the Lambda adapter, the
// sweep's handler), with shared/dbmeter on its DynamoDB client. The figures
// feed `dunlin cost` (shared/cost). With -update-measured it writes them
// to shared/cost/measured.json; otherwise it checks that the request units
// and bytes still match that file (durations vary from run to run and are
// only recorded).
//
//	go run ./cmd/dunlin with-servers -- go test -count=1 -run TestMeasuredCostUnits ./bench -args -update-measured
func TestMeasuredCostUnits(t *testing.T) {
	var m cost.Measured
	m.Where = "bench/cost_test.go against DynamoDB Local and SES local on one machine: " +
		"request units as DynamoDB Local reports them; durations in process, not AWS durations"
	m.MemoryMB.API, m.MemoryMB.Webhooks, m.MemoryMB.Sweep = memorySize(t, "ApiFunction"), memorySize(t, "WebhooksFunction"), memorySize(t, "SweepFunction")
	m.MemoryMB.MailEvents = memorySize(t, "MailEventsFunction")
	m.MemoryMB.Outbound = memorySize(t, "OutboundFunction")
	measureAPI(t, &m)
	measureSweep(t, &m)
	measureOutbound(t, &m)

	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *updateMeasured {
		if err := os.WriteFile(measuredFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s:\n%s", measuredFile, got)
		return
	}
	b, err := os.ReadFile(measuredFile)
	if err != nil {
		t.Fatalf("%v: run with -args -update-measured to create it", err)
	}
	var want cost.Measured
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%s: %v", measuredFile, err)
	}
	for _, d := range compareMeasured(want, m) {
		t.Error(d)
	}
	if t.Failed() {
		t.Logf("measured now:\n%s\nrewrite the file on purpose with -args -update-measured", got)
	}
}

// measureAPI measures the API and webhooks functions: each request goes
// through the Lambda adapter (HTTP API payload 2.0), as in AWS. The clock
// moves 31 seconds before each request, so the API key cache (30 seconds
// by default) has expired and each request reads its key, as a request in
// a quiet hour does; it stays within one hour, so the key's last-used time
// is written once (measured on its own as KeyTouch).
func measureAPI(t *testing.T, m *cost.Measured) {
	const n = 5
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 12, 9, 9, 0, 0, 0, time.UTC))
	const webhookSecret = "whsec_cost_bench"
	h := newCostApp(t, clock, map[string]string{"DUNLIN_GENERIC_WEBHOOK_SECRETS": webhookSecret})
	token, _, err := h.app.Keys.Create(ctx, "cost bench", auth.Admin)
	if err != nil {
		t.Fatal(err)
	}
	api := &lambdaClient{t: t, h: h, clock: clock, key: token, handler: algnhsa.New(h.app.API, &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})}
	api.do("GET", "/v1/invoices", nil, "") // the key's first use of the hour

	before := h.tableBytes(t)
	var customers []string
	for i := range n {
		res := api.mustDo(201, "POST", "/v1/customers", map[string]any{"name": fmt.Sprintf("Cost %d GmbH", i), "email": fmt.Sprintf("ap%d@cost.example", i),
			"external_id": fmt.Sprintf("ERP-%04d", i), "language": "en", "timezone": "UTC", "currency": "EUR", "payment_terms_days": 30}, fmt.Sprintf("cust-%d", i))
		customers = append(customers, res["id"].(string))
	}
	afterCustomers := h.tableBytes(t)
	m.CustomerBytes = perBytes(afterCustomers, before, n)

	today := clock.Now().Format(time.DateOnly)
	var creates, payments, hooks, reads []cost.Op
	invoices := make([]string, n)
	for i, c := range customers {
		res, op := api.measure(201, "POST", "/v1/invoices", map[string]any{"customer_id": c, "number": fmt.Sprintf("2026-%04d", i), "total": 119000,
			"issued_on": today, "payment_url": "https://pay.example.com/x"}, fmt.Sprintf("inv-%d", i))
		invoices[i] = res["id"].(string)
		creates = append(creates, op)
	}
	for i, c := range customers {
		_, op := api.measure(201, "POST", "/v1/payments", map[string]any{"customer_id": c, "amount": 119000, "currency": "EUR", "received_on": today,
			"method": "bank_transfer", "reference": fmt.Sprintf("SEPA 2026-%04d", i), "external_id": fmt.Sprintf("bank-%d", i)}, fmt.Sprintf("pay-%d", i))
		payments = append(payments, op)
	}
	m.InvoiceBytes = perBytes(h.tableBytes(t), afterCustomers, n)
	m.CreateInvoice, m.RecordPayment = typical(creates), typical(payments)

	hook := &lambdaClient{t: t, h: h, clock: clock, handler: algnhsa.New(h.app.Webhooks(), &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})}
	for i, c := range customers {
		res := api.mustDo(201, "POST", "/v1/invoices", map[string]any{"customer_id": c, "number": fmt.Sprintf("2026-1%03d", i), "total": 50000, "issued_on": today}, fmt.Sprintf("inv2-%d", i))
		body, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("evt-%d", i), "type": "payment.succeeded", "payment": map[string]any{
			"id": fmt.Sprintf("txn-%d", i), "amount": 50000, "currency": "EUR", "received_on": today, "method": "bank_transfer", "invoice_id": res["id"]}})
		sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: webhookSecret}).Header
		_, op := hook.measureRaw(200, "POST", "/v1/webhooks/generic", body, "Dunlin-Signature", sig)
		hooks = append(hooks, op)
	}
	m.WebhookPayment = typical(hooks)

	for i, c := range customers {
		for _, path := range []string{"/v1/invoices/" + invoices[i], "/v1/invoices?customer_id=" + c, "/v1/customers/" + c + "/credit"} {
			_, op := api.measure(200, "GET", path, nil, "")
			reads = append(reads, op)
		}
	}
	m.APIRead = typical(reads)

	// The first request more than an hour after the key's last use
	// writes its last-used time; the next one does not.
	clock.Set(clock.Now().Truncate(time.Hour).Add(time.Hour + 5*time.Minute))
	_, touched := api.measure(200, "GET", "/v1/invoices/"+invoices[0], nil, "")
	_, plain := api.measure(200, "GET", "/v1/invoices/"+invoices[0], nil, "")
	m.KeyTouch = nonNegative(sub(touched, plain))
	if m.KeyTouch.WriteUnits == 0 {
		t.Errorf("the first request after an hour wrote nothing: %+v then %+v", touched, plain)
	}
}

// measureOutbound measures the outbound function's delivery run through
// its Lambda handler: a run with nothing to do (every minute, so most
// runs), the fan-out of an event with no endpoint registered (every event
// raised is fanned out, endpoints or not), and one delivery of an event
// to one endpoint that answers 204.
func measureOutbound(t *testing.T, m *cost.Measured) {
	const n = 10
	ctx := context.Background()
	clock := testenv.NewClock(time.Date(2026, 12, 9, 10, 0, 0, 0, time.UTC))
	h := newCostApp(t, clock, map[string]string{"DUNLIN_OUTBOUND_ALLOW_LOOPBACK": "true"}) // the receiver is on 127.0.0.1
	run := app.OutboundHandler(h.app.Outbound, h.log)
	measure := func(what string, want func(outbound.Summary) bool) cost.Op {
		t.Helper()
		h.reset()
		start := time.Now()
		sum, err := run(ctx)
		op := h.op(time.Since(start))
		if err != nil || !want(sum) {
			t.Fatalf("%s: %+v %v", what, sum, err)
		}
		return op
	}
	pay := func() {
		t.Helper()
		for i := range n {
			c, err := h.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: fmt.Sprintf("Out %d", i), Email: fmt.Sprintf("out%d@cost.example", i)})
			if err != nil {
				t.Fatal(err)
			}
			amount := int64(1000)
			if _, err := h.app.Billing.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &amount}); err != nil {
				t.Fatal(err)
			}
			inv, err := h.app.Billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Total: &amount}) // paid from credit: payment.applied
			if err != nil || inv.Balance != 0 {
				t.Fatalf("invoice %+v: %v", inv, err)
			}
		}
	}
	idle := measure("an idle run", func(s outbound.Summary) bool { return s == outbound.Summary{} })
	m.OutboundIdleRun = idle
	pay()
	fanned := measure("fanning out to no endpoint", func(s outbound.Summary) bool { return s.FannedOut == n && s.Attempted == 0 })
	m.OutboundFanOut = div(nonNegative(sub(fanned, idle)), n)

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	endpoints := outbound.NewService(h.app.Store, clock.Now)
	endpoints.AllowLoopbackHTTP = true
	if _, err := endpoints.Register(ctx, outbound.EndpointInput{URL: receiver.URL, Events: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	pay()
	delivered := measure("delivering to one endpoint", func(s outbound.Summary) bool { return s.FannedOut == n && s.Delivered == n })
	m.OutboundDelivery = div(nonNegative(sub(sub(delivered, idle), mul(m.OutboundFanOut, n))), n)
}

// measureSweep measures the sweep function on one table over three days,
// from a Wednesday, at hours chosen so that each run does one thing more
// than a run with nothing due; each figure is the difference, divided by
// the customers it concerned. Seeding marks customers for rescoring, so
// after seeding the marks are cleared directly (not measured), except
// where rescoring is what is measured. Every customer is in UTC, the
// firm's zone, and the send window is the default (9-18, Monday to
// Friday).
func measureSweep(t *testing.T, m *cost.Measured) {
	const n = 20 // customers per scenario
	ctx := context.Background()
	day := time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC) // a Wednesday
	at := func(d, hour int) time.Time { return day.AddDate(0, 0, d).Add(time.Duration(hour) * time.Hour) }
	clock := testenv.NewClock(day)
	h := newCostApp(t, clock, nil)
	run := func(when time.Time) (sweep.Summary, cost.Op) {
		t.Helper()
		clock.Set(when)
		h.reset()
		start := time.Now()
		sum, err := app.SweepHandler(h.app.Sweeper, h.log)(ctx, app.SweepEvent{Time: when.Format(time.RFC3339)})
		op := h.op(time.Since(start))
		if err != nil {
			t.Fatalf("sweep at %s: %v", when, err)
		}
		return sum, op
	}
	drain := func(when time.Time) {
		t.Helper()
		clock.Set(when)
		if _, err := h.app.Billing.RescoreDue(ctx, when); err != nil {
			t.Fatal(err)
		}
	}
	// seed creates n customers with one invoice each; when next is set,
	// the invoice is moved on the ladder to (step, offset) with its next
	// action on next.
	customers := map[string][]*billing.Customer{} // by prefix
	seed := func(prefix string, issued, due time.Time, step, offset int, next *time.Time) {
		t.Helper()
		total := int64(100000)
		for i := range n {
			c, err := h.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: fmt.Sprintf("%s %02d", prefix, i), Email: fmt.Sprintf("%s%02d@cost.example", prefix, i), Timezone: "UTC"})
			if err != nil {
				t.Fatal(err)
			}
			customers[prefix] = append(customers[prefix], c)
			inv, err := h.app.Billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: fmt.Sprintf("%s-%02d", prefix, i), Total: &total,
				IssuedOn: issued.Format(time.DateOnly), DueOn: due.Format(time.DateOnly)})
			if err != nil {
				t.Fatal(err)
			}
			if next != nil {
				inv.DunningStep, inv.DunningOffset, inv.NextActionOn, inv.Version = step, offset, civil.Of(*next), inv.Version+1
				if err := h.app.Store.SaveInvoice(ctx, inv); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	per := func(with, without cost.Op) cost.Op { return div(nonNegative(sub(with, without)), float64(n)) }
	check := func(what string, sum sweep.Summary, ok bool) {
		t.Helper()
		if !ok {
			t.Errorf("%s: the run did something else: %+v", what, sum)
		}
	}

	// Wednesday, empty books.
	_, first := run(at(0, 0)) // the day's first run takes the snapshot
	_, base := run(at(0, 1))
	if _, again := run(at(0, 2)); !sameUnits(base, again) {
		t.Errorf("two empty runs differ: %+v, %+v", base, again)
	}
	m.SweepRun = base
	m.DailySnapshot = nonNegative(sub(first, base))
	sum, digest := run(at(0, 7))
	check("digest", sum, sum.Digest == "empty")
	m.Digest = nonNegative(sub(digest, base))
	_, later := run(at(0, 8)) // the baseline from here on: the day's digest is claimed
	m.DigestRecheck = nonNegative(sub(later, base))
	if m.DigestRecheck.WriteUnits != 1 {
		t.Errorf("a run after the digest wrote %v units, want 1 (the claim that fails)", m.DigestRecheck.WriteUnits)
	}

	// Rescoring: invoices first looked at in ten days, due in thirty.
	inTen := at(10, 0)
	seed("rescore", at(0, 0), at(30, 0), -1, 0, &inTen)
	sum, op := run(at(0, 9))
	check("rescoring", sum, sum.Rescored == n && sum.Considered == 0)
	m.Rescore = per(op, later)

	// Placement: invoices issued today are put on the ladder, and the
	// change to them rescores their customers.
	seed("placed", at(0, 0), at(30, 0), -1, 0, nil)
	drain(at(0, 10))
	sum, op = run(at(0, 10))
	check("placement", sum, sum.Requeued == n && sum.Rescored == n && sum.Sent == 0)
	m.Placement = per(op, later)

	// Early reads: a next action tomorrow, already today in UTC+14;
	// nothing else about these customers changes tomorrow.
	tomorrow := at(1, 0)
	seed("early", at(-25, 0), at(5, 0), 0, -3, &tomorrow)
	drain(at(0, 11))
	sum, early := run(at(0, 11))
	check("early reads", sum, sum.Skipped["not_due_yet"] == n && sum.Rescored == 0)
	m.EarlyRead = per(early, later)

	// Rescoring peeks: invoices that fall overdue tomorrow, so their
	// customers are due for rescoring tomorrow, already today in UTC+14.
	// The early customers are read again; the difference is the peeks.
	inSeven := at(7, 0)
	seed("peek", at(-30, 0), at(0, 0), 1, 1, &inSeven)
	drain(at(0, 11))
	sum, op = run(at(0, 12))
	check("rescoring peeks", sum, sum.Skipped["not_due_yet"] == n && sum.Rescored == 0)
	m.RescorePeek = per(op, early)

	// Due tomorrow, seeded late at night: the "overdue" step, the day
	// after the due date.
	seed("due", at(-30, 0), at(0, 0), 0, -3, &tomorrow)
	drain(at(0, 23))

	// Thursday. 07:00 is the day's first run (the snapshot, the digest,
	// the early invoices put back on the ladder, overdue customers
	// rescored); at 08:00 the window is still closed.
	run(at(1, 7))
	sum, op = run(at(1, 8))
	check("window wait", sum, sum.Skipped["outside_hours"] == n && sum.Rescored == 0 && sum.Requeued == 0)
	m.WindowWait = per(op, later)
	beforeSends := h.tableBytes(t)
	sum, op = run(at(1, 10))
	check("emails", sum, sum.Sent == n)
	m.Email = per(op, later)
	m.EmailBytes = perBytes(h.tableBytes(t), beforeSends, n)
	if sum, after := run(at(1, 11)); !sameUnits(after, later) {
		t.Errorf("the run after the emails is not back to the baseline: %+v (%+v), baseline %+v", after, sum, later)
	}
	if got := len(testenv.SentEmails(t, testenv.SESEndpoint(t))); got < n {
		t.Errorf("SES local holds %d emails, want at least %d", got, n)
	}

	// Each email's delivery event, through the mailevents function's
	// handler, as EventBridge invokes it.
	sample, err := os.ReadFile("../events/ses-delivery.json")
	if err != nil {
		t.Fatal(err)
	}
	deliver := mailevents.Handler(h.app.Billing, h.log)
	beforeEvents := h.tableBytes(t)
	var delivered []cost.Op
	for i, c := range customers["due"] {
		var ev events.CloudWatchEvent
		body := strings.NewReplacer("REPLACE_WITH_THE_ADDRESS", c.Email, "REPLACE_WITH_A_CUSTOMER_ID", c.ID).Replace(string(sample))
		if err := json.Unmarshal([]byte(body), &ev); err != nil {
			t.Fatal(err)
		}
		ev.ID = fmt.Sprintf("cost-delivery-%02d", i)
		h.reset()
		start := time.Now()
		if err := deliver(ctx, ev); err != nil {
			t.Fatal(err)
		}
		delivered = append(delivered, h.op(time.Since(start)))
	}
	m.MailEvent = typical(delivered)
	m.MailEventBytes = perBytes(h.tableBytes(t), beforeEvents, n)

	// Friday 00:00: the snapshot of the 5n open invoices; 01:00 the baseline.
	_, snap := run(at(2, 0))
	_, friday := run(at(2, 1))
	m.SnapshotPerOpenInvoice = div(nonNegative(sub(sub(snap, friday), m.DailySnapshot)), 5*n)
}

// costApp is an App wired as the Lambda functions wire it (config from
// variables, app.New), with its DynamoDB calls counted by shared/dbmeter
// and its logs counted.
type costApp struct {
	app   *app.App
	log   *slog.Logger
	meter *dbmeter.Meter
	fixes *awsBilling
	logs  *countingWriter
	db    *dynamodb.Client
	table string
}

func newCostApp(t *testing.T, clock *testenv.Clock, env map[string]string) *costApp {
	t.Helper()
	db, table := testenv.NewTable(t)
	vars := map[string]string{"DUNLIN_TABLE": table, "DUNLIN_DYNAMODB_ENDPOINT": testenv.DynamoDBEndpoint(t), "DUNLIN_SES_ENDPOINT": testenv.SESEndpoint(t),
		"DUNLIN_LINK_SECRETS": "cost-bench-link-secret", "DUNLIN_FIRM_NAME": "Cost Bench Ltd"}
	maps.Copy(vars, env)
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	meter, fixes := &dbmeter.Meter{}, &awsBilling{}
	cfg.DynamoDBOptions = append(cfg.DynamoDBOptions, meter.Option(), fixes.option)
	logs := &countingWriter{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	a, err := app.New(context.Background(), cfg, log, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	return &costApp{app: a, log: log, meter: meter, fixes: fixes, logs: logs, db: db, table: table}
}

func (h *costApp) reset() {
	h.meter.Reset()
	h.fixes.reset()
	h.logs.reset()
}

// op is what happened since the last reset.
func (h *costApp) op(d time.Duration) cost.Op {
	c := h.meter.Snapshot()
	reads, refused := h.fixes.counts()
	op := cost.Op{ReadUnits: c.ReadUnits + reads, WriteUnits: c.WriteUnits + refused, Calls: map[string]float64{},
		Ms: float64(d.Microseconds()) / 1000, LogBytes: float64(h.logs.count())}
	for k, v := range c.Calls {
		op.Calls[k] = float64(v)
	}
	return op
}

// awsBilling adds what AWS bills and DynamoDB Local does not report (so
// neither does dbmeter): a conditional write refused costs one write unit,
// and a Query that finds nothing half a read unit (one if strongly
// consistent).
type awsBilling struct {
	mu      sync.Mutex
	reads   float64
	refused float64
}

func (b *awsBilling) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("awsBilling", b.handle), middleware.After)
	})
}

func (b *awsBilling) handle(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleInitialize(ctx, in)
	b.mu.Lock()
	defer b.mu.Unlock()
	var refused *types.ConditionalCheckFailedException
	switch in.Parameters.(type) {
	case *dynamodb.PutItemInput, *dynamodb.UpdateItemInput, *dynamodb.DeleteItemInput:
		if errors.As(err, &refused) {
			b.refused++
		}
	}
	if q, ok := in.Parameters.(*dynamodb.QueryInput); ok && err == nil {
		if res, ok := out.Result.(*dynamodb.QueryOutput); ok && (res.ConsumedCapacity == nil || aws.ToFloat64(res.ConsumedCapacity.CapacityUnits) == 0) {
			if aws.ToBool(q.ConsistentRead) {
				b.reads++
			} else {
				b.reads += 0.5
			}
		}
	}
	return out, md, err
}

func (b *awsBilling) reset() { b.mu.Lock(); b.reads, b.refused = 0, 0; b.mu.Unlock() }

func (b *awsBilling) counts() (reads, refused float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reads, b.refused
}

// tableBytes sums what the table stores, as DynamoDB bills storage: each
// item's size (attribute names and values) plus 100 bytes of overhead, in
// the table and again in each global secondary index that holds it (they
// project all attributes). Items with a time to live (idempotency
// records) are left out: DynamoDB deletes them.
func (h *costApp) tableBytes(t *testing.T) cost.Bytes {
	t.Helper()
	var b cost.Bytes
	p := dynamodb.NewScanPaginator(h.db, &dynamodb.ScanInput{TableName: aws.String(h.table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			if _, ttl := item["expires_at"]; ttl {
				continue
			}
			size := float64(itemSize(item)) + 100
			b.Table += size
			for i := 1; i <= 4; i++ {
				_, pk := item[fmt.Sprintf("GSI%dPK", i)]
				_, sk := item[fmt.Sprintf("GSI%dSK", i)]
				if pk && sk {
					b.Indexes += size
				}
			}
		}
	}
	return b
}

// itemSize is DynamoDB's item size: the lengths of attribute names and
// values (numbers about one byte per two digits, plus one; lists and maps
// three bytes plus one per element).
func itemSize(item map[string]types.AttributeValue) int {
	n := 0
	for k, v := range item {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += 1 + len(k) + valueSize(e)
		}
		return n
	}
	return 0
}

func numberSize(s string) int {
	digits := strings.Trim(strings.NewReplacer("-", "", ".", "").Replace(s), "0")
	return (len(digits)+1)/2 + 1
}

// countingWriter counts the bytes written to it.
type countingWriter struct {
	mu sync.Mutex
	n  int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n += len(b)
	return len(b), nil
}

func (w *countingWriter) reset() { w.mu.Lock(); w.n = 0; w.mu.Unlock() }

func (w *countingWriter) count() int { w.mu.Lock(); defer w.mu.Unlock(); return w.n }

// lambdaClient invokes a handler as Lambda does behind API Gateway: an
// HTTP API payload 2.0 event through the algnhsa adapter.
type lambdaClient struct {
	t       *testing.T
	h       *costApp
	clock   *testenv.Clock
	key     string
	handler interface {
		Invoke(context.Context, []byte) ([]byte, error)
	}
	requests int
}

// measure sends one request, 31 seconds after the last, and returns its
// decoded body and what it cost.
func (c *lambdaClient) measure(want int, method, target string, body any, idempotencyKey string) (map[string]any, cost.Op) {
	c.t.Helper()
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
	}
	var headers []string
	if idempotencyKey != "" {
		headers = []string{"idempotency-key", idempotencyKey}
	}
	return c.measureRaw(want, method, target, raw, headers...)
}

func (c *lambdaClient) measureRaw(want int, method, target string, body []byte, headers ...string) (map[string]any, cost.Op) {
	c.t.Helper()
	c.clock.Advance(31 * time.Second)
	c.requests++
	path, query, _ := strings.Cut(target, "?")
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: query,
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "cost-" + strconv.Itoa(c.requests), Stage: "$default",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "192.0.2.1"}},
		Body: string(body),
	}
	if c.key != "" {
		req.Headers["authorization"] = "Bearer " + c.key
	}
	if query != "" {
		values, err := url.ParseQuery(query)
		if err != nil {
			c.t.Fatal(err)
		}
		req.QueryStringParameters = map[string]string{}
		for k := range values {
			req.QueryStringParameters[k] = values.Get(k)
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Headers[strings.ToLower(headers[i])] = headers[i+1]
	}
	payload, err := json.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	c.h.reset()
	start := time.Now()
	out, err := c.handler.Invoke(context.Background(), payload)
	op := c.h.op(time.Since(start))
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, target, err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		c.t.Fatalf("%s %s: decode %s: %v", method, target, out, err)
	}
	if res.StatusCode != want {
		c.t.Fatalf("%s %s = %d %s, want %d", method, target, res.StatusCode, res.Body, want)
	}
	op.ResponseBytes = float64(len(res.Body))
	var decoded map[string]any
	_ = json.Unmarshal([]byte(res.Body), &decoded)
	return decoded, op
}

func (c *lambdaClient) mustDo(want int, method, target string, body any, idempotencyKey string) map[string]any {
	c.t.Helper()
	res, _ := c.measure(want, method, target, body, idempotencyKey)
	return res
}

func (c *lambdaClient) do(method, target string, body any, idempotencyKey string) {
	c.t.Helper()
	c.measure(200, method, target, body, idempotencyKey)
}

// memorySize reads a function's MemorySize from template.yaml, or the
// Globals' (SAM's own default is 128 MB).
func memorySize(t *testing.T, logicalID string) int {
	t.Helper()
	var doc struct {
		Globals struct {
			Function struct {
				MemorySize int `yaml:"MemorySize"`
			} `yaml:"Function"`
		} `yaml:"Globals"`
		Resources map[string]struct {
			Properties struct {
				MemorySize int `yaml:"MemorySize"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	// The template's short-form tags (!Ref, !Sub) decode as plain strings.
	if err := yaml.Unmarshal(dunlin.Template, &doc); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	r, ok := doc.Resources[logicalID]
	switch {
	case !ok:
		t.Fatalf("template.yaml has no %s", logicalID)
	case r.Properties.MemorySize > 0:
		return r.Properties.MemorySize
	case doc.Globals.Function.MemorySize > 0:
		return doc.Globals.Function.MemorySize
	}
	return 128
}

// Op arithmetic: figures measured by difference.

func sub(a, b cost.Op) cost.Op {
	out := cost.Op{ReadUnits: a.ReadUnits - b.ReadUnits, WriteUnits: a.WriteUnits - b.WriteUnits, Ms: a.Ms - b.Ms, LogBytes: a.LogBytes - b.LogBytes,
		ResponseBytes: a.ResponseBytes - b.ResponseBytes, Calls: map[string]float64{}}
	for k, v := range a.Calls {
		out.Calls[k] += v
	}
	for k, v := range b.Calls {
		out.Calls[k] -= v
	}
	for k, v := range out.Calls {
		if v == 0 {
			delete(out.Calls, k)
		}
	}
	return out
}

// nonNegative clamps a difference at zero: durations and log lines of two
// runs can differ by noise.
func nonNegative(o cost.Op) cost.Op {
	o.ReadUnits, o.WriteUnits, o.Ms, o.LogBytes, o.ResponseBytes = max(o.ReadUnits, 0), max(o.WriteUnits, 0), max(o.Ms, 0), max(o.LogBytes, 0), max(o.ResponseBytes, 0)
	for k, v := range o.Calls {
		if v < 0 {
			delete(o.Calls, k)
		}
	}
	return o
}

// typical is the mean of ops, but for the duration: the median, which a
// busy moment on a shared machine moves less.
func typical(ops []cost.Op) cost.Op {
	var total cost.Op
	var ms []float64
	for _, o := range ops {
		total = sub(total, sub(cost.Op{}, o))
		ms = append(ms, o.Ms)
	}
	out := div(total, float64(len(ops)))
	slices.Sort(ms)
	out.Ms = (ms[(len(ms)-1)/2] + ms[len(ms)/2]) / 2
	return out
}

// div divides every figure by n.
func div(o cost.Op, n float64) cost.Op {
	out := cost.Op{ReadUnits: o.ReadUnits / n, WriteUnits: o.WriteUnits / n, Ms: o.Ms / n, LogBytes: o.LogBytes / n, ResponseBytes: o.ResponseBytes / n, Calls: map[string]float64{}}
	for k, v := range o.Calls {
		out.Calls[k] = v / n
	}
	return out
}

// mul is o, n times.
func mul(o cost.Op, n float64) cost.Op { return div(o, 1/n) }

// perBytes is what each of n records added to the table.
func perBytes(after, before cost.Bytes, n int) cost.Bytes {
	return cost.Bytes{Table: (after.Table - before.Table) / float64(n), Indexes: (after.Indexes - before.Indexes) / float64(n)}
}

func sameUnits(a, b cost.Op) bool {
	return a.ReadUnits == b.ReadUnits && a.WriteUnits == b.WriteUnits && maps.Equal(a.Calls, b.Calls)
}

// compareMeasured lists the differences in request units, calls and bytes
// between the committed figures and these. Units are exact on DynamoDB
// Local but for rounding: a Query is billed per 4 KB read and an item
// written per KB, and item sizes move by a few bytes with timestamps, so
// a figure may move by a fraction of a unit. Durations are not compared.
func compareMeasured(want, got cost.Measured) []string {
	var diffs []string
	near := func(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
	ops := func(m *cost.Measured) map[string]cost.Op {
		return map[string]cost.Op{"create_invoice": m.CreateInvoice, "record_payment": m.RecordPayment, "api_read": m.APIRead, "key_touch": m.KeyTouch,
			"webhook_payment": m.WebhookPayment, "sweep_run": m.SweepRun, "daily_snapshot": m.DailySnapshot, "snapshot_per_open_invoice": m.SnapshotPerOpenInvoice,
			"digest": m.Digest, "digest_recheck": m.DigestRecheck, "placement": m.Placement, "rescore": m.Rescore, "rescore_peek": m.RescorePeek,
			"early_read": m.EarlyRead, "window_wait": m.WindowWait, "email": m.Email, "mail_event": m.MailEvent,
			"outbound_idle_run": m.OutboundIdleRun, "outbound_fan_out": m.OutboundFanOut, "outbound_delivery": m.OutboundDelivery}
	}
	w, g := ops(&want), ops(&got)
	for _, name := range slices.Sorted(maps.Keys(w)) {
		a, b := w[name], g[name]
		tol := 0.05 + 0.02*max(a.ReadUnits, a.WriteUnits)
		if !near(a.ReadUnits, b.ReadUnits, tol) || !near(a.WriteUnits, b.WriteUnits, tol) {
			diffs = append(diffs, fmt.Sprintf("%s: %.3f read and %.3f write units, measured.json has %.3f and %.3f", name, b.ReadUnits, b.WriteUnits, a.ReadUnits, a.WriteUnits))
		}
		if !maps.Equal(a.Calls, b.Calls) {
			diffs = append(diffs, fmt.Sprintf("%s: calls %v, measured.json has %v", name, b.Calls, a.Calls))
		}
	}
	bytesOf := func(m *cost.Measured) map[string]cost.Bytes {
		return map[string]cost.Bytes{"customer_bytes": m.CustomerBytes, "invoice_bytes": m.InvoiceBytes, "email_bytes": m.EmailBytes,
			"mail_event_bytes": m.MailEventBytes}
	}
	wb, gb := bytesOf(&want), bytesOf(&got)
	for _, name := range slices.Sorted(maps.Keys(wb)) {
		a, b := wb[name], gb[name]
		if !near(a.Table, b.Table, 0.03*a.Table+1) || !near(a.Indexes, b.Indexes, 0.03*a.Indexes+1) {
			diffs = append(diffs, fmt.Sprintf("%s: %+v, measured.json has %+v", name, b, a))
		}
	}
	if want.MemoryMB != got.MemoryMB {
		diffs = append(diffs, fmt.Sprintf("memory sizes in template.yaml: %+v, measured.json has %+v", got.MemoryMB, want.MemoryMB))
	}
	return diffs
}
