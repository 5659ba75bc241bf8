package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"dunlin/shared/auth"
)

// auditedWrite is one successful write through a route, and the entity
// whose audit trail must then hold a record of it.
type auditedWrite struct {
	path   string
	body   any
	entity func(res map[string]any) string // nil: the id in the response
}

// writeHeaders are the headers a scenario's request needs beyond the
// JSON default: name, value pairs.
var writeHeaders = map[string][]string{
	"POST /v1/imports": {"Content-Type", "text/csv"},
}

// TestEveryWriteRouteLeavesAnAuditRecord walks the router's route table:
// every route that writes must have a scenario here (a route added later
// fails this test until it has one), the scenario must succeed, and the
// entity it wrote must then have an audit record naming the key that
// made the change, the route, and what changed.
func TestEveryWriteRouteLeavesAnAuditRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	adminID, _, _ := auth.ParseToken(f.keys[auth.Admin])

	scenarios, _ := writeScenarios(t, f)
	// Some records are checked field by field.
	wantChange := map[string][3]string{ // route: field, before, after (JSON)
		"PATCH /v1/customers/{id}":         {"name", `"Acme GmbH"`, `"Acme Holdings GmbH"`},
		"POST /v1/invoices/{id}/void":      {"state", `"open"`, `"void"`},
		"POST /v1/alerts/{id}/acknowledge": {"state", `"open"`, `"acknowledged"`},
		"POST /v1/keys/{id}/revoke":        {"revoked_at", ``, `"2026-11-24T10:00:00Z"`},
		"PATCH /v1/endpoints/{id}":         {"disabled", `false`, `true`},
	}
	// Routes run in table order: a template is put before it is deleted,
	// an alert acknowledged before it is resolved.
	for _, rt := range f.server.Routes() {
		if rt.Method == http.MethodGet {
			continue
		}
		name := rt.Method + " " + rt.Pattern
		sc, ok := scenarios[name]
		if !ok {
			t.Errorf("%s writes but has no audit scenario here", name)
			continue
		}
		delete(scenarios, name)
		res := f.Do(rt.Method, sc.path, sc.body, writeHeaders[name]...)
		if res.Status >= 300 {
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
			continue
		}
		var entity string
		if sc.entity != nil {
			var body map[string]any
			if len(res.Body) > 0 {
				body = res.Map(t)
			}
			entity = sc.entity(body)
		} else {
			entity = res.Map(t)["id"].(string)
		}
		recs := f.Do("GET", "/v1/audit?entity="+url.QueryEscape(entity)+"&limit=100", nil).Map(t)["data"].([]any)
		found := false
		for _, r := range recs {
			r := r.(map[string]any)
			if r["via"] != name {
				continue
			}
			found = true
			if r["actor"] != "key:"+adminID || r["entity"] != entity || r["at"] == "" {
				t.Errorf("%s: record %v", name, r)
			}
			if r["action"] != "delete" && len(r["changes"].([]any)) == 0 {
				t.Errorf("%s: a record without changes: %v", name, r)
			}
			if want, ok := wantChange[name]; ok {
				got := [3]string{want[0], "", ""}
				for _, c := range r["changes"].([]any) {
					if c := c.(map[string]any); c["field"] == want[0] {
						got[1], got[2] = jsonText(c["before"]), jsonText(c["after"])
					}
				}
				if got != want {
					t.Errorf("%s: change %q, want %q", name, got, want)
				}
			}
		}
		if !found {
			t.Errorf("%s: no audit record for %s among %v", name, entity, recs)
		}
	}
	for name := range scenarios {
		t.Errorf("scenario %q matches no route", name)
	}
}

// jsonText renders a decoded JSON value back as JSON ("" for absent).
func jsonText(v any) string {
	if v == nil {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// scenarioIDs are records the write scenarios made, for other tests.
type scenarioIDs struct {
	customer, invoice, payment, alert, endpoint string
}

// writeScenarios prepares, and returns, one successful request per route
// that writes. What they need: a fee charged and a draft waiting, both
// made by the sweep; an alert; a payment with money left to allocate.
func writeScenarios(t *testing.T, f *fixture) (map[string]auditedWrite, scenarioIDs) {
	t.Helper()
	f.Do("PUT", "/v1/policies/feeful", map[string]any{"steps": []map[string]any{
		{"name": "first", "offset_days": 1, "tone": "reminder", "email": true, "fee": map[string]any{"kind": "fixed", "amounts": map[string]any{"EUR": 1000}}},
	}})
	f.Do("PUT", "/v1/policies/careful", map[string]any{"steps": []map[string]any{
		{"name": "ask", "offset_days": 1, "tone": "reminder", "email": true, "requires_approval": true},
	}})
	feeCustomer := f.customer(map[string]any{"timezone": "UTC"})
	f.Do("PATCH", "/v1/customers/"+feeCustomer, map[string]any{"policy": "feeful"})
	feeInvoice := f.invoice(feeCustomer, 10000, map[string]any{"issued_on": "2026-11-01", "due_on": "2026-11-23"})
	draftCustomer := f.customer(map[string]any{"timezone": "UTC", "name": "Draft Ltd"})
	f.Do("PATCH", "/v1/customers/"+draftCustomer, map[string]any{"policy": "careful"})
	f.invoice(draftCustomer, 10000, map[string]any{"issued_on": "2026-11-01", "due_on": "2026-11-23"})
	f.clock.Set(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	if _, err := f.server.Sweeper().Run(t.Context(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	drafts := f.Do("GET", "/v1/dunning/drafts", nil).Map(t)["data"].([]any)
	if len(drafts) != 1 {
		t.Fatalf("drafts = %v", drafts)
	}
	approve := drafts[0].(map[string]any)["approve_path"].(string)

	cid := f.customer(map[string]any{"credit_limit": 100})
	inv := f.invoice(cid, 5000, nil) // over the limit: an alert
	toVoid := f.invoice(cid, 700, nil)
	planned := f.invoice(cid, 1000, nil)
	alerts := f.Do("GET", "/v1/alerts?customer_id="+cid, nil).Map(t)["data"].([]any)
	if len(alerts) == 0 {
		t.Fatal("no alert to acknowledge")
	}
	alert := alerts[0].(map[string]any)["id"].(string)
	pid := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 500,
		"allocations": []any{map[string]any{"invoice_id": inv, "amount": 300}}})["id"].(string)
	kid := f.mustCreate("/v1/keys", map[string]any{"name": "to revoke", "role": "viewer"})["id"].(string)
	eid := f.mustCreate("/v1/endpoints", map[string]any{"url": "https://erp.example.com/kept"})["id"].(string)
	doomed := f.mustCreate("/v1/endpoints", map[string]any{"url": "https://erp.example.com/doomed"})["id"].(string)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	tested := f.mustCreate("/v1/endpoints", map[string]any{"url": receiver.URL + "/events"})["id"].(string)
	fixed := func(id string) func(map[string]any) string { return func(map[string]any) string { return id } }

	scenarios := map[string]auditedWrite{
		"POST /v1/customers":          {"/v1/customers", map[string]any{"name": "New Co", "email": "ap@new.example"}, nil},
		"PATCH /v1/customers/{id}":    {"/v1/customers/" + cid, map[string]any{"name": "Acme Holdings GmbH"}, fixed(cid)},
		"POST /v1/invoices":           {"/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "issued_on": "2026-11-20", "due_on": "2026-12-20"}, nil},
		"POST /v1/invoices/{id}/void": {"/v1/invoices/" + toVoid + "/void", nil, fixed(toVoid)},
		"POST /v1/imports": {"/v1/imports?kind=customers", "external_id,name,email\nC-IMPORTED,Imported Ltd,ap@imported.example\n",
			func(res map[string]any) string { return res["results"].([]any)[0].(map[string]any)["id"].(string) }},
		"POST /v1/payments":                                          {"/v1/payments", map[string]any{"customer_id": cid, "amount": 50}, nil},
		"POST /v1/payments/{id}/allocate":                            {"/v1/payments/" + pid + "/allocate", map[string]any{"allocations": []any{map[string]any{"invoice_id": inv, "amount": 100}}}, fixed(pid)},
		"POST /v1/payments/{id}/refunds":                             {"/v1/payments/" + pid + "/refunds", map[string]any{"amount": 100}, fixed(pid)},
		"POST /v1/credit-notes":                                      {"/v1/credit-notes", map[string]any{"invoice_id": inv, "amount": 10, "reason": "damaged"}, nil},
		"POST /v1/customers/{id}/promises":                           {"/v1/customers/" + cid + "/promises", map[string]any{"amount": 1000, "promised_on": "2026-12-01", "channel": "phone"}, nil},
		"POST /v1/customers/{id}/hold":                               {"/v1/customers/" + cid + "/hold", map[string]any{"reason": "over limit"}, fixed(cid)},
		"POST /v1/customers/{id}/release":                            {"/v1/customers/" + cid + "/release", nil, fixed(cid)},
		"POST /v1/alerts/{id}/acknowledge":                           {"/v1/alerts/" + alert + "/acknowledge", nil, fixed(alert)},
		"POST /v1/customers/{id}/hand-off":                           {"/v1/customers/" + cid + "/hand-off", map[string]any{"to": "Smith & Partners"}, fixed(cid)},
		"POST /v1/customers/{id}/take-back":                          {"/v1/customers/" + cid + "/take-back", nil, fixed(cid)},
		"POST /v1/alerts/{id}/resolve":                               {"/v1/alerts/" + alert + "/resolve", nil, fixed(alert)},
		"POST /v1/customers/{id}/pause":                              {"/v1/customers/" + cid + "/pause", map[string]any{"until": "2026-12-10", "reason": "on holiday"}, fixed(cid)},
		"POST /v1/customers/{id}/resume":                             {"/v1/customers/" + cid + "/resume", nil, fixed(cid)},
		"POST /v1/customers/{id}/contacts":                           {"/v1/customers/" + cid + "/contacts", map[string]any{"channel": "phone", "summary": "called AP"}, fixed(cid)},
		"POST /v1/invoices/{id}/dispute":                             {"/v1/invoices/" + inv + "/dispute", map[string]any{"reason": "wrong quantity"}, fixed(inv)},
		"POST /v1/invoices/{id}/resolve":                             {"/v1/invoices/" + inv + "/resolve", nil, fixed(inv)},
		"POST /v1/invoices/{id}/fees/{step}/waive":                   {"/v1/invoices/" + feeInvoice + "/fees/first/waive", map[string]any{"reason": "goodwill"}, fixed(feeInvoice)},
		"POST /v1/invoices/{id}/plan":                                {"/v1/invoices/" + planned + "/plan", map[string]any{"installments": []any{map[string]any{"due_on": "2026-12-20", "amount": 400}, map[string]any{"due_on": "2027-01-20", "amount": 600}}}, fixed(planned)},
		"PUT /v1/policies/{name}":                                    {"/v1/policies/gentle", map[string]any{"steps": []map[string]any{{"name": "nudge", "offset_days": 3, "tone": "reminder", "email": true}}}, fixed("gentle")},
		"PUT /v1/templates/{language}/{tone}":                        {"/v1/templates/en/firm", map[string]any{"subject": "{{.FirmName}}: please pay"}, fixed("en/firm")},
		"DELETE /v1/templates/{language}/{tone}":                     {"/v1/templates/en/firm", nil, fixed("en/firm")},
		"POST /v1/dunning/drafts/{customer_id}/{day}/{kind}/approve": {approve, nil, fixed(draftCustomer)},
		"POST /v1/keys":                                              {"/v1/keys", map[string]any{"name": "ci", "role": "integration"}, nil},
		"POST /v1/keys/{id}/revoke":                                  {"/v1/keys/" + kid + "/revoke", nil, fixed(kid)},
		"POST /v1/endpoints":                                         {"/v1/endpoints", map[string]any{"url": "https://erp.example.com/dunlin", "events": []string{"payment.applied"}, "description": "ERP"}, nil},
		"PATCH /v1/endpoints/{id}":                                   {"/v1/endpoints/" + eid, map[string]any{"disabled": true}, fixed(eid)},
		"DELETE /v1/endpoints/{id}":                                  {"/v1/endpoints/" + doomed, nil, fixed(doomed)},
		"POST /v1/endpoints/{id}/test":                               {"/v1/endpoints/" + tested + "/test", nil, fixed(tested)},
	}
	return scenarios, scenarioIDs{customer: cid, invoice: inv, payment: pid, alert: alert, endpoint: eid}
}
