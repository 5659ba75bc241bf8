package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The aging report, worked by hand. Today is 2026-11-23.
//
//	A-1  100.00 EUR due 2026-11-30   not yet due       current
//	A-2  200.00 EUR due 2026-11-10   13 days, 50 paid  1-30: 150.00
//	A-3  300.00 EUR due 2026-09-01   83 days           61-90
//	A-4   50.00 EUR due 2026-07-01  145 days           90+
//	B-1   70.00 GBP due 2026-10-20   34 days           31-60
func TestAgingReportBucketsOpenBalances(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.customer(map[string]any{"name": "Alpha GmbH"})
	b := f.customer(map[string]any{"name": "=HYPERLINK(\"x\")", "currency": "GBP"})
	f.invoice(a, 10000, map[string]any{"number": "A-1", "issued_on": "2026-11-15", "due_on": "2026-11-30"})
	a2 := f.invoice(a, 20000, map[string]any{"number": "A-2", "issued_on": "2026-10-11", "due_on": "2026-11-10"})
	f.invoice(a, 30000, map[string]any{"number": "A-3", "issued_on": "2026-08-02", "due_on": "2026-09-01"})
	f.invoice(a, 5000, map[string]any{"number": "A-4", "issued_on": "2026-06-01", "due_on": "2026-07-01"})
	f.invoice(b, 7000, map[string]any{"number": "B-1", "issued_on": "2026-09-20", "due_on": "2026-10-20"})
	f.mustCreate("/v1/payments", map[string]any{"customer_id": a, "amount": 5000, "allocations": []any{map[string]any{"invoice_id": a2, "amount": 5000}}})

	rep := f.get("/v1/reports/aging")
	eq(t, "as of", rep["as_of"], "2026-11-23")
	eq(t, "buckets", rep["buckets"], []any{"current", "1-30", "31-60", "61-90", "90+"})
	rows := map[string]string{}
	for _, r := range rep["customers"].([]any) {
		r := r.(map[string]any)
		rows[r["currency"].(string)] = fmt.Sprint(r["name"], " ", r["amounts"], " ", r["total"])
	}
	eq(t, "EUR row", rows["EUR"], "Alpha GmbH [10000 15000 0 30000 5000] 60000")
	eq(t, "GBP row", rows["GBP"], `=HYPERLINK("x") [0 0 7000 0 0] 7000`)
	eq(t, "invoices", rep["invoices"], 5.0)
	eq(t, "totals", fmt.Sprint(rep["totals"]), "[map[amounts:[10000 15000 0 30000 5000] currency:EUR total:60000] map[amounts:[0 0 7000 0 0] currency:GBP total:7000]]")

	// Other edges, and another day.
	rep = f.get("/v1/reports/aging?buckets=15,45&as_of=2026-12-31")
	eq(t, "custom buckets", rep["buckets"], []any{"current", "1-15", "16-45", "45+"})
	for _, r := range rep["customers"].([]any) {
		if r := r.(map[string]any); r["currency"] == "EUR" {
			// On 12-31: A-1 31 days, A-2 51, A-3 121, A-4 183.
			eq(t, "EUR at year end", fmt.Sprint(r["amounts"]), "[0 0 10000 50000]")
		}
	}

	// CSV for spreadsheets: major units, formulas defused.
	res := f.Do("GET", "/v1/reports/aging?format=csv", nil)
	lines := strings.Split(strings.TrimSpace(string(res.Body)), "\n")
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || len(lines) != 5 {
		t.Fatalf("csv: %d %s\n%s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	eq(t, "csv header", lines[0], "customer_id,name,currency,current,1-30,31-60,61-90,90+,total")
	body := string(res.Body)
	if !strings.Contains(body, ",Alpha GmbH,EUR,100.00,150.00,0.00,300.00,50.00,600.00\n") ||
		!strings.Contains(body, `,"'=HYPERLINK(""x"")",GBP,0.00,0.00,70.00,0.00,0.00,70.00`) ||
		!strings.Contains(body, "\nTOTAL,,EUR,100.00,150.00,0.00,300.00,50.00,600.00\n") {
		t.Errorf("csv rows:\n%s", res.Body)
	}
	for _, bad := range []string{"buckets=60,30", "buckets=x", "as_of=yesterday", "format=xml"} {
		if res := f.Do("GET", "/v1/reports/aging?"+bad, nil); res.Status != 400 {
			t.Errorf("%s = %d", bad, res.Status)
		}
	}
}

// A statement of account: opening balance, the period's movements with a
// running balance, closing balance; and today's closing balance is what
// the customer owes less its credit on account, whatever happened.
func TestStatementOfAccountAddsUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.customer(map[string]any{"name": "Alpha <b>GmbH</b>"})
	a1 := f.invoice(a, 10000, map[string]any{"number": "A-1", "issued_on": "2026-11-15", "due_on": "2026-11-30"})
	a2 := f.invoice(a, 20000, map[string]any{"number": "A-2", "issued_on": "2026-10-11", "due_on": "2026-11-10"})
	f.invoice(a, 30000, map[string]any{"number": "A-3", "issued_on": "2026-08-02", "due_on": "2026-09-01"})
	f.mustCreate("/v1/payments", map[string]any{"customer_id": a, "amount": 5000, "received_on": "2026-11-20", "reference": "BANK-1",
		"allocations": []any{map[string]any{"invoice_id": a2, "amount": 5000}}})
	f.mustCreate("/v1/credit-notes", map[string]any{"invoice_id": a1, "amount": 1000, "reason": "short delivery"})

	st := f.get("/v1/customers/" + a + "/statement?from=2026-11-01&to=2026-11-30")
	eq(t, "opening", st["opening_balance"], 50000.0) // issued before November
	var lines []string
	for _, l := range st["lines"].([]any) {
		l := l.(map[string]any)
		ref := l["reference"].(string)
		if strings.HasPrefix(ref, "cn_") { // a credit note without a number of its own
			ref = "cn_"
		}
		lines = append(lines, fmt.Sprint(l["on"], " ", l["kind"], " ", ref, " ", l["debit"], " ", l["credit"], " ", l["balance"]))
	}
	eq(t, "lines", lines, []string{
		"2026-11-15 invoice A-1 10000 0 60000",
		"2026-11-20 payment BANK-1 0 5000 55000",
		"2026-11-23 credit_note cn_ 0 1000 54000",
	})
	eq(t, "closing", fmt.Sprint(st["debits"], " ", st["credits"], " ", st["closing_balance"]), "10000 6000 54000")

	owes := func() int64 {
		b := f.get("/v1/customers/" + a + "/balance")
		var exposure, credit int64
		if v, ok := b["exposure"].(map[string]any)["EUR"]; ok {
			exposure = num(v)
		}
		if v, ok := b["credit"].(map[string]any)["EUR"]; ok {
			credit = num(v)
		}
		return exposure - credit
	}
	closing := func() int64 {
		return num(f.get("/v1/customers/" + a + "/statement?from=2026-01-01")["closing_balance"])
	}
	eq(t, "closing = owed", closing(), owes())
	// Overpaid, then part refunded: still the same.
	p := f.mustCreate("/v1/payments", map[string]any{"customer_id": a, "amount": 70000})
	eq(t, "after overpaying", closing(), owes())
	if res := f.Do("POST", "/v1/payments/"+p["id"].(string)+"/refunds", map[string]any{"amount": 2500, "reason": "returned the excess"}); res.Status != 200 {
		t.Fatalf("refund = %d %s", res.Status, res.Body)
	}
	eq(t, "after a refund", closing(), owes())
	if closing() >= 0 {
		t.Errorf("an overpaid customer's statement closes at %d", closing())
	}

	res := f.Do("GET", "/v1/customers/"+a+"/statement?from=2026-11-01&format=csv", nil)
	if res.Status != 200 || !strings.HasPrefix(string(res.Body), "date,kind,reference,description,debit,credit,balance\n2026-11-01,opening_balance,,,,,500.00\n") {
		t.Errorf("csv: %d\n%s", res.Status, res.Body)
	}
	res = f.Do("GET", "/v1/customers/"+a+"/statement?format=html", nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), "Alpha &lt;b&gt;GmbH&lt;/b&gt;") || strings.Contains(string(res.Body), "<b>GmbH") {
		t.Errorf("html: %d %q\n%s", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	for _, bad := range []string{"from=2026-12-01&to=2026-11-01", "to=soon", "currency=XYZ"} {
		if res := f.Do("GET", "/v1/customers/"+a+"/statement?"+bad, nil); res.Status != 400 {
			t.Errorf("%s = %d", bad, res.Status)
		}
	}
}

// The dunning report through the API: its shape, and its period checked.
func TestDunningReportThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"timezone": "UTC"})
	f.invoice(cid, 10000, map[string]any{"issued_on": "2026-11-01", "due_on": "2026-11-23"})
	f.clock.Set(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	if _, err := f.server.Sweeper().Run(t.Context(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	rep := f.get("/v1/reports/dunning")
	eq(t, "period", fmt.Sprint(rep["from"], " ", rep["to"]), "2026-08-27 2026-11-24")
	steps := rep["steps"].([]any)
	if len(steps) != 1 {
		t.Fatalf("steps = %v", steps)
	}
	row := steps[0].(map[string]any)
	eq(t, "row", fmt.Sprint(row["step"], " ", row["tone"], " ", row["emails"], " ", row["share_paid_within_7_days"]), "overdue reminder 1 0")
	for _, bad := range []string{"from=2026-12-01&to=2026-11-01", "from=2025-01-01&to=2026-11-01", "to=today"} {
		if res := f.Do("GET", "/v1/reports/dunning?"+bad, nil); res.Status != 400 {
			t.Errorf("%s = %d", bad, res.Status)
		}
	}
}

// Overdue money by reason, and promises kept against broken.
func TestOverdueReasonsAndPromiseReports(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cash := f.customer(map[string]any{"name": "Cash"})
	quiet := f.customer(map[string]any{"name": "Quiet"})
	disputing := f.customer(map[string]any{"name": "Disputing"})
	f.invoice(cash, 10000, map[string]any{"issued_on": "2026-10-01", "due_on": "2026-10-31"})
	f.invoice(cash, 5000, map[string]any{"issued_on": "2026-11-20", "due_on": "2026-12-20"}) // not overdue
	f.invoice(quiet, 7000, map[string]any{"issued_on": "2026-10-01", "due_on": "2026-11-01"})
	d := f.invoice(disputing, 3000, map[string]any{"issued_on": "2026-10-01", "due_on": "2026-11-01"})
	f.invoice(disputing, 2000, map[string]any{"issued_on": "2026-10-01", "due_on": "2026-11-02"})
	for cid, reason := range map[string]string{cash: "cash_flow", disputing: "forgot"} {
		if res := f.Do("POST", "/v1/customers/"+cid+"/contacts", map[string]any{"channel": "phone", "summary": "called", "reason": reason}); res.Status != 201 {
			t.Fatalf("contact = %d %s", res.Status, res.Body)
		}
	}
	if res := f.Do("POST", "/v1/customers/"+cash+"/contacts", map[string]any{"channel": "email", "summary": "sent a copy"}); res.Status != 201 {
		t.Fatal(res.Status) // a later contact without a reason keeps the last reason
	}
	if res := f.Do("POST", "/v1/invoices/"+d+"/dispute", map[string]any{"reason": "not delivered"}); res.Status != 200 {
		t.Fatal(res.Status)
	}
	var rows []string
	for _, r := range f.get("/v1/reports/overdue-reasons")["data"].([]any) {
		r := r.(map[string]any)
		rows = append(rows, fmt.Sprint(r["reason"], " ", r["currency"], " ", r["amount"], " ", r["customers"]))
	}
	eq(t, "reasons", rows, []string{"cash_flow EUR 10000 1", "unknown EUR 7000 1", "dispute EUR 3000 1", "forgot EUR 2000 1"})

	// Promises: one made and left open.
	f.mustCreate("/v1/customers/"+quiet+"/promises", map[string]any{"amount": 7000, "promised_on": "2026-12-01"})
	rep := f.get("/v1/reports/promises")
	eq(t, "promises", fmt.Sprint(rep["currencies"]), "[map[amount_broken:0 amount_kept:0 amount_made:7000 broken:0 currency:EUR kept:0 kept_rate:0 made:1 open:1]]")
	if res := f.Do("GET", "/v1/reports/promises?from=2026-12-01&to=2026-11-01", nil); res.Status != 400 {
		t.Errorf("from after to = %d", res.Status)
	}
}

// DSO through the API: a period before any snapshot is refused, naming it.
func TestDSOReportNeedsSnapshots(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.Do("GET", "/v1/reports/dso?from=2026-11-01&to=2026-11-22", nil)
	if _, field := res.ErrorField(t); res.Status != 422 || field != "from" {
		t.Errorf("no snapshot = %d %s", res.Status, field)
	}
	f.invoice(f.customer(nil), 10000, nil)
	if _, err := f.server.Sweeper().Run(t.Context(), f.clock.Now()); err != nil { // takes today's snapshot
		t.Fatal(err)
	}
	rep := f.get("/v1/reports/dso?from=2026-11-23&to=2026-11-23")
	eq(t, "today", fmt.Sprint(rep["currencies"]), "[map[cei:100 currency:EUR current_receivables_end:10000 dso:1 receivables_end:10000 receivables_start:10000 sales:10000]]")
	if res := f.Do("GET", "/v1/reports/dso?to=2026-12-01", nil); res.Status != 400 {
		t.Errorf("to in the future = %d", res.Status)
	}
}

// Handing a customer off stops its emails; the case file has what the
// lawyer needs, in either language.
func TestHandOffAndCaseFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"name": "Late <i>Ltd</i>", "timezone": "UTC"})
	inv := f.invoice(cid, 10000, map[string]any{"number": "L-1", "issued_on": "2026-10-01", "due_on": "2026-11-23"})
	f.mustCreate("/v1/customers/"+cid+"/contacts", map[string]any{"channel": "phone", "summary": "promised next week", "reason": "cash_flow"})
	f.clock.Set(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	if sum, err := f.server.Sweeper().Run(t.Context(), f.clock.Now()); err != nil || sum.Sent != 1 {
		t.Fatalf("first sweep: %+v %v", sum, err)
	}
	c := f.Do("POST", "/v1/customers/"+cid+"/hand-off", map[string]any{"to": "Smith & Partners"}).Map(t)
	eq(t, "handed off", c["handed_off_to"], "Smith & Partners")
	if res := f.Do("POST", "/v1/customers/"+cid+"/hand-off", map[string]any{"to": " "}); res.Status != 422 {
		t.Errorf("hand-off to nobody = %d", res.Status)
	}
	f.clock.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	if sum, err := f.server.Sweeper().Run(t.Context(), f.clock.Now()); err != nil || sum.Sent != 0 || sum.Skipped["handed_off"] != 1 {
		t.Errorf("after the hand-off: %+v %v", sum, err)
	}

	cf := f.get("/v1/customers/" + cid + "/case-file")
	invs := cf["invoices"].([]any)
	if len(invs) != 1 {
		t.Fatalf("invoices = %v", invs)
	}
	first := invs[0].(map[string]any)
	eq(t, "invoice", first["invoice"].(map[string]any)["id"], inv)
	emails := first["emails"].([]any)
	if len(emails) != 1 || emails[0].(map[string]any)["step"] != "overdue" || emails[0].(map[string]any)["status"] != "sent" {
		t.Errorf("emails = %v", emails)
	}
	eq(t, "principal", fmt.Sprint(first["principal"]), "[map[balance:10000 from:2026-11-23]]")
	eq(t, "closing", cf["statement"].(map[string]any)["closing_balance"], 10000.0)
	eq(t, "contacts", len(cf["contacts"].([]any)) >= 1, true)

	for lang, word := range map[string]string{"en": "Case file", "zh-CN": "催收案卷"} {
		res := f.Do("GET", "/v1/customers/"+cid+"/case-file?format=html&lang="+lang, nil)
		body := string(res.Body)
		if res.Status != 200 || !strings.Contains(body, word) || !strings.Contains(body, "Late &lt;i&gt;Ltd&lt;/i&gt;") || !strings.Contains(body, "Smith &amp; Partners") || !strings.Contains(body, "cash_flow") {
			t.Errorf("%s page: %d\n%s", lang, res.Status, body)
		}
	}
	if res := f.Do("GET", "/v1/customers/"+cid+"/case-file?lang=fr", nil); res.Status != 400 {
		t.Errorf("lang=fr = %d", res.Status)
	}
	if c := f.Do("POST", "/v1/customers/"+cid+"/take-back", nil).Map(t); c["handed_off_to"] != nil {
		t.Errorf("taken back: %v", c["handed_off_to"])
	}
}
