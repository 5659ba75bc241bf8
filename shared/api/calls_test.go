package api_test

import (
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

var updateCalls = flag.Bool("update-calls", false, "rewrite testdata/dynamodb-calls.txt from this run")

// TestDynamoDBCallsPerOperation counts, with the SDK middleware in
// shared/dbmeter, the DynamoDB round trips of every route on a realistic
// store: the write scenarios of the audit test, then every read. The
// counts are pinned in testdata/dynamodb-calls.txt, so a change that adds
// a call fails here until the file is rewritten on purpose
// (go test ./shared/api -run TestDynamoDBCallsPerOperation -update-calls).
// Every count includes the API key's GetItem.
func TestDynamoDBCallsPerOperation(t *testing.T) {
	t.Parallel()
	f, meter := newMeteredFixture(t)
	scenarios, ids := writeScenarios(t, f)
	got := map[string]string{}
	created := map[string]string{}
	measure := func(name, method, path string, body any) {
		t.Helper()
		meter.Reset()
		res := f.Do(method, path, body, writeHeaders[name]...)
		c := meter.Snapshot()
		if res.Status >= 300 {
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
		}
		reads := c.Calls["GetItem"] + c.Calls["Query"] + c.Calls["BatchGetItem"]
		writes := c.Calls["TransactWriteItems"] + c.Calls["PutItem"] + c.Calls["UpdateItem"] + c.Calls["DeleteItem"] + c.Calls["BatchWriteItem"]
		var detail []string
		for _, op := range slices.Sorted(maps.Keys(c.Calls)) {
			detail = append(detail, fmt.Sprintf("%s %d", op, c.Calls[op]))
		}
		got[name] = fmt.Sprintf("%-62s reads %2d  writes %d  (%s)", name, reads, writes, strings.Join(detail, ", "))
		if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			if m, ok := res.Map(t)["id"].(string); ok {
				created[name] = m
			}
		}
	}
	routes := f.server.Routes()
	for _, rt := range routes {
		if rt.Method == http.MethodGet {
			continue
		}
		name := rt.Method + " " + rt.Pattern
		sc := scenarios[name]
		measure(name, rt.Method, sc.path, sc.body)
	}
	paths := strings.NewReplacer(
		"/v1/customers/{id}", "/v1/customers/"+ids.customer, "/v1/invoices/{id}", "/v1/invoices/"+ids.invoice,
		"/v1/payments/{id}", "/v1/payments/"+ids.payment, "/v1/endpoints/{id}", "/v1/endpoints/"+ids.endpoint, "/v1/credit-notes/{id}", "/v1/credit-notes/"+created["POST /v1/credit-notes"],
		"{name}", "feeful", "{language}/{tone}", "en/firm",
		"/v1/reports/dso", "/v1/reports/dso?from=2026-11-24&to=2026-11-24") // the day the scenarios' sweep took a snapshot
	for _, rt := range routes {
		if rt.Method == http.MethodGet {
			measure(rt.Method+" "+rt.Pattern, "GET", paths.Replace(rt.Pattern), nil)
		}
	}
	var lines []string
	for _, name := range slices.Sorted(maps.Keys(got)) {
		lines = append(lines, got[name])
	}
	table := strings.Join(lines, "\n") + "\n"
	const golden = "testdata/dynamodb-calls.txt"
	if *updateCalls {
		if err := os.WriteFile(golden, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v: run with -update-calls to create it", err)
	}
	if string(want) != table {
		wantLines := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
			wantLines[strings.Fields(l)[0]+" "+strings.Fields(l)[1]] = l
		}
		for _, l := range lines {
			k := strings.Fields(l)[0] + " " + strings.Fields(l)[1]
			if wantLines[k] != l {
				t.Errorf("DynamoDB calls changed:\n  was %s\n  now %s", wantLines[k], l)
			}
		}
	}
}
