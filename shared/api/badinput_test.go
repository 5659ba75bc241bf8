package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"dunlin/shared/api"
)

// Bad input gets a 4xx naming the field, and writes nothing.
func TestBadInputIsRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"a total given as a string", "POST", "/v1/invoices", `{"customer_id":"` + cid + `","total":"12.50"}`, 400, "total"},
		{"a total with a fraction", "POST", "/v1/invoices", `{"customer_id":"` + cid + `","total":12.5}`, 400, "total"},
		{"a negative total", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": -100}, 422, "total"},
		{"a zero total", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 0}, 422, "total"},
		{"a total beyond 2^53", "POST", "/v1/invoices", `{"customer_id":"` + cid + `","total":9007199254740993}`, 422, "total"},
		{"a total beyond int64", "POST", "/v1/invoices", `{"customer_id":"` + cid + `","total":99999999999999999999}`, 400, "total"},
		{"no total", "POST", "/v1/invoices", map[string]any{"customer_id": cid}, 422, "total"},
		{"an unknown currency", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "currency": "XYZ"}, 422, "currency"},
		{"an impossible due date", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "due_on": "2026-02-30"}, 422, "due_on"},
		{"a due date before the issue date", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "issued_on": "2026-11-10", "due_on": "2026-11-01"}, 422, "due_on"},
		{"a date with a time", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "issued_on": "2026-11-10T00:00:00Z"}, 422, "issued_on"},
		{"an unknown customer", "POST", "/v1/invoices", map[string]any{"customer_id": "cus_01M842XZPHKJY7EJGDAVY9KYCS", "total": 100}, 422, "customer_id"},
		{"no customer", "POST", "/v1/invoices", map[string]any{"total": 100}, 422, "customer_id"},
		{"an http payment link", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "payment_url": "http://pay.example.com"}, 422, "payment_url"},
		{"a client-set balance", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "balance": 0}, 400, "balance"},
		{"a client-set status", "POST", "/v1/invoices", map[string]any{"customer_id": cid, "total": 100, "status": "paid"}, 400, "status"},
		{"a client-set id", "POST", "/v1/customers", map[string]any{"id": "cus_x", "name": "A", "email": "a@b.example"}, 400, "id"},
		{"a client-set version", "PATCH", "/v1/customers/" + cid, map[string]any{"version": 9}, 400, "version"},
		{"a missing name", "POST", "/v1/customers", map[string]any{"email": "a@b.example"}, 422, "name"},
		{"a bad email", "POST", "/v1/customers", map[string]any{"name": "A", "email": "not an email"}, 422, "email"},
		{"a display-name email", "POST", "/v1/customers", map[string]any{"name": "A", "email": "Bob <b@x.example>"}, 422, "email"},
		{"a bad cc", "POST", "/v1/customers", map[string]any{"name": "A", "email": "a@b.example", "cc": []string{"ok@b.example", "nope"}}, 422, "cc"},
		{"cc as a string", "POST", "/v1/customers", `{"name":"A","email":"a@b.example","cc":"x@y.example"}`, 400, "cc"},
		{"an unknown language", "POST", "/v1/customers", map[string]any{"name": "A", "email": "a@b.example", "language": "fr"}, 422, "language"},
		{"an unknown time zone", "POST", "/v1/customers", map[string]any{"name": "A", "email": "a@b.example", "timezone": "Berlin"}, 422, "timezone"},
		{"a negative credit limit", "POST", "/v1/customers", map[string]any{"name": "A", "email": "a@b.example", "credit_limit": -1}, 422, "credit_limit"},
		{"terms over a year", "POST", "/v1/customers", map[string]any{"name": "A", "email": "a@b.example", "payment_terms_days": 400}, 422, "payment_terms_days"},
		{"a control character in the name", "POST", "/v1/customers", map[string]any{"name": "A\u0000B", "email": "a@b.example"}, 422, "name"},
		{"a 201-character name", "POST", "/v1/customers", map[string]any{"name": strings.Repeat("n", 201), "email": "a@b.example"}, 422, "name"},
		{"malformed JSON", "POST", "/v1/customers", `{"name": "A",`, 400, "body"},
		{"a JSON array", "POST", "/v1/customers", `[]`, 400, "body"},
		{"an empty body", "POST", "/v1/customers", ``, 400, "body"},
		{"trailing data", "POST", "/v1/customers", `{"name":"A","email":"a@b.example"} {}`, 400, "body"},
		{"deeply nested JSON", "POST", "/v1/customers", `{"name":` + deep + `}`, 400, "body"},
		{"an oversized body", "POST", "/v1/customers", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body"},
		{"a page size over the cap", "GET", "/v1/customers?limit=1000", nil, 400, "limit"},
		{"a page size of zero", "GET", "/v1/invoices?limit=0", nil, 400, "limit"},
		{"an unknown status filter", "GET", "/v1/invoices?status=late", nil, 400, "status"},
		{"a malformed customer filter", "GET", "/v1/invoices?customer_id=42", nil, 400, "customer_id"},
		{"an http endpoint", "POST", "/v1/endpoints", map[string]any{"url": "http://erp.example.com/hook"}, 422, "url"},
		{"an endpoint without a url", "POST", "/v1/endpoints", map[string]any{"events": []string{"payment.applied"}}, 422, "url"},
		{"an unknown event type", "POST", "/v1/endpoints", map[string]any{"url": "https://erp.example.com/hook", "events": []string{"invoice.paid"}}, 422, "events"},
		{"event types as a string", "POST", "/v1/endpoints", `{"url":"https://erp.example.com/hook","events":"payment.applied"}`, 400, "events"},
		{"a client-set signing secret", "POST", "/v1/endpoints", map[string]any{"url": "https://erp.example.com/hook", "secret": "mine"}, 400, "secret"},
		{"a long idempotency key", "POST", "/v1/customers", map[string]any{"name": "A", "email": "a@b.example"}, 400, "Idempotency-Key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var hdr []string
			if c.field == "Idempotency-Key" {
				hdr = []string{"Idempotency-Key", strings.Repeat("k", 300)}
			}
			res := f.Do(c.method, c.path, c.body, hdr...)
			code, field := res.ErrorField(t)
			if res.Status != c.status || field != c.field {
				t.Errorf("got %d %s field %q, want %d field %q: %s", res.Status, code, field, c.status, c.field, res.Body)
			}
		})
	}
	// Nothing was half-written: still one customer and no invoices.
	if n := len(f.Do("GET", "/v1/customers", nil).Map(t)["data"].([]any)); n != 1 {
		t.Errorf("%d customers after bad input, want 1", n)
	}
	if n := len(f.Do("GET", "/v1/invoices", nil).Map(t)["data"].([]any)); n != 0 {
		t.Errorf("%d invoices after bad input, want 0", n)
	}
}

// TestEveryWriteRouteRefusesWhatItCannotTake walks the route table: every
// route that writes refuses an oversized body (413) and a deeply nested one
// (400); a route that takes a body refuses a field it does not know, and
// one that takes none refuses any body. Nothing is written.
func TestEveryWriteRouteRefusesWhatItCannotTake(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	deep := `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`
	huge := `{"name":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, rt := range f.server.Routes() {
		if rt.Method == "GET" {
			continue
		}
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			path := samplePath(rt.Pattern)
			if limit := api.FileLimit(rt); limit > 0 {
				// A file route: its own size limit, and a file it cannot
				// read is a 4xx naming the body.
				tooBig := strings.Repeat("a,b\n", int(limit/4)+1)
				if res := f.Do(rt.Method, path, tooBig, "Content-Type", "text/csv"); res.Status != 413 {
					t.Errorf("a file over %d bytes: %d, want 413", limit, res.Status)
				}
				res := f.Do(rt.Method, path, "PK\x03\x04 not really a workbook", "Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
				if code, field := res.ErrorField(t); res.Status != 400 || field != "body" {
					t.Errorf("a broken workbook: %d %s field %q, want 400 naming the body", res.Status, code, field)
				}
				return
			}
			if res := f.Do(rt.Method, path, huge); res.Status != 413 {
				t.Errorf("a 70 KB body: %d, want 413", res.Status)
			}
			if res := f.Do(rt.Method, path, deep); res.Status != 400 {
				t.Errorf("deeply nested JSON: %d, want 400", res.Status)
			}
			res := f.Do(rt.Method, path, `{"zzz_unknown":1}`)
			code, field := res.ErrorField(t)
			want := "zzz_unknown"
			if api.Bodyless(rt) {
				want = "body"
			}
			if res.Status != 400 || field != want {
				t.Errorf("an unknown field: %d %s field %q, want 400 naming %q: %s", res.Status, code, field, want, res.Body)
			}
		})
	}
	if n := len(f.Do("GET", "/v1/invoices", nil).Map(t)["data"].([]any)); n != 0 {
		t.Errorf("%d invoices after refused writes", n)
	}
}

// TestEveryPagedRouteCapsItsPageSize walks the route table: each route the
// OpenAPI document gives a limit refuses one over the cap, naming it, and
// at least the lists do page.
func TestEveryPagedRouteCapsItsPageSize(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	f.Do("GET", "/v1/openapi.json", nil).JSON(t, &doc)
	type param struct {
		Ref string `json:"$ref"`
	}
	paged := 0
	for _, rt := range f.server.Routes() {
		if rt.Method != "GET" {
			continue
		}
		var op struct {
			Parameters []param `json:"parameters"`
		}
		_ = json.Unmarshal(doc.Paths[rt.Pattern]["get"], &op)
		if !slices.ContainsFunc(op.Parameters, func(p param) bool { return strings.HasSuffix(p.Ref, "/Limit") }) {
			continue
		}
		paged++
		for _, limit := range []string{"1000", "201", "0", "-1", "ten"} {
			res := f.Do("GET", samplePath(rt.Pattern)+"?limit="+limit, nil)
			if _, field := res.ErrorField(t); res.Status != 400 || field != "limit" {
				t.Errorf("GET %s?limit=%s: %d field %q, want 400 naming limit", rt.Pattern, limit, res.Status, field)
			}
		}
	}
	if paged < 6 {
		t.Errorf("only %d routes document a page size", paged)
	}
}
