package api_test

import (
	"fmt"
	"sync"
	"testing"

	"dunlin/shared/auth"
)

// invoice creates an invoice and returns its id.
func (f *fixture) invoice(cid string, total int64, extra map[string]any) string {
	f.T.Helper()
	body := map[string]any{"customer_id": cid, "total": total}
	for k, v := range extra {
		body[k] = v
	}
	return f.mustCreate("/v1/invoices", body)["id"].(string)
}

// get fetches path and expects 200.
func (f *fixture) get(path string) map[string]any {
	f.T.Helper()
	res := f.Do("GET", path, nil)
	if res.Status != 200 {
		f.T.Fatalf("GET %s = %d %s", path, res.Status, res.Body)
	}
	return res.Map(f.T)
}

func num(v any) int64 { return int64(v.(float64)) }

// balances returns each invoice's balance and status.
func (f *fixture) balances(ids ...string) []string {
	f.T.Helper()
	var out []string
	for _, id := range ids {
		inv := f.get("/v1/invoices/" + id)
		out = append(out, fmt.Sprintf("%d %s", num(inv["balance"]), inv["status"]))
	}
	return out
}

func eq(t *testing.T, what string, got, want any) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestPaymentWithoutAllocationsPaysOldestDueFirst(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	newer := f.invoice(cid, 3000, map[string]any{"issued_on": "2026-11-01", "due_on": "2026-12-01"})
	older := f.invoice(cid, 5000, map[string]any{"issued_on": "2026-10-01", "due_on": "2026-10-31"})
	p := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 6000, "received_on": "2026-11-20", "method": "bank_transfer", "reference": "SEPA 123"})
	eq(t, "status", p["status"], "applied")
	eq(t, "allocations", p["allocations"], []any{
		map[string]any{"invoice_id": older, "amount": 5000.0, "discount": 0.0},
		map[string]any{"invoice_id": newer, "amount": 1000.0, "discount": 0.0},
	})
	eq(t, "balances", f.balances(older, newer), []string{"0 paid", "2000 open"})
	if next := f.get("/v1/invoices/" + older)["next_action_on"]; next != nil {
		t.Errorf("a paid invoice is still in the dunning queue (next_action_on %v)", next)
	}
	eq(t, "paid", f.get("/v1/invoices/" + newer)["paid"], 1000.0)
	bal := f.get("/v1/customers/" + cid + "/balance")
	eq(t, "exposure", bal["exposure"], map[string]any{"EUR": 2000.0})
	eq(t, "credit", bal["credit"], map[string]any{})

	got := f.get("/v1/payments/" + p["id"].(string))
	eq(t, "get", got["version"], p["version"])
	list := f.get("/v1/payments?customer_id=" + cid)["data"].([]any)
	eq(t, "listed", len(list), 1)
}

func TestOverpaymentBecomesCreditThatTheNextInvoiceConsumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	inv := f.invoice(cid, 4000, nil)
	p := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 10000})
	eq(t, "status", p["status"], "on_account")
	eq(t, "unapplied", p["unapplied"], 6000.0)
	eq(t, "credit", f.get("/v1/customers/" + cid + "/balance")["credit"], map[string]any{"EUR": 6000.0})

	// The next invoice takes 5000 of the credit and is paid at once.
	second := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "total": 5000})
	eq(t, "second", fmt.Sprint(second["status"], " ", second["balance"], " ", second["paid"]), "paid 0 5000")
	// The one after takes the last 1000 and owes the rest.
	third := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "total": 2500})
	eq(t, "third", fmt.Sprint(third["status"], " ", third["balance"]), "open 1500")
	eq(t, "credit left", f.get("/v1/customers/" + cid + "/balance")["credit"], map[string]any{})
	eq(t, "first", f.balances(inv), []string{"0 paid"})
	p = f.get("/v1/payments/" + p["id"].(string))
	eq(t, "status", p["status"], "applied")
	eq(t, "allocations", len(p["allocations"].([]any)), 3)
	// Credit in another currency is not spent on a euro invoice.
	f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 700, "currency": "USD"})
	fourth := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "total": 100})
	eq(t, "fourth", fourth["balance"], 100.0)
}

func TestEarlyPaymentDiscountSettlesInsideTheWindowOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	terms := map[string]any{"rate_bp": 200, "days": 10}
	early := f.invoice(cid, 10000, map[string]any{"issued_on": "2026-11-15", "early_payment_discount": terms, "number": "D-1"})
	late := f.invoice(cid, 10000, map[string]any{"issued_on": "2026-11-01", "early_payment_discount": terms, "number": "D-2"})
	// 2% of 100.00 is 2.00: 98.00 within ten days settles D-1.
	p := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 9800, "received_on": "2026-11-23",
		"allocations": []any{map[string]any{"invoice_id": early, "amount": 9800}}})
	eq(t, "allocation", p["allocations"], []any{map[string]any{"invoice_id": early, "amount": 9800.0, "discount": 200.0}})
	inv := f.get("/v1/invoices/" + early)
	eq(t, "D-1", fmt.Sprint(inv["status"], " ", inv["balance"], " ", inv["discount_taken"]), "paid 0 200")
	// D-2 was issued 22 days ago: 98.00 leaves 2.00 owing.
	f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 9800, "received_on": "2026-11-23"})
	inv = f.get("/v1/invoices/" + late)
	eq(t, "D-2", fmt.Sprint(inv["status"], " ", inv["balance"], " ", inv["discount_taken"]), "open 200 0")
}

func TestCreditNotesReduceTheBalance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	inv := f.invoice(cid, 5000, nil)
	cn := f.mustCreate("/v1/credit-notes", map[string]any{"invoice_id": inv, "amount": 1500, "reason": "two items returned"})
	eq(t, "credit note", fmt.Sprint(cn["amount"], " ", cn["currency"], " ", cn["customer_id"] == cid), "1500 EUR true")
	eq(t, "get", f.get("/v1/credit-notes/" + cn["id"].(string))["reason"], "two items returned")
	got := f.get("/v1/invoices/" + inv)
	eq(t, "invoice", fmt.Sprint(got["balance"], " ", got["credited"]), "3500 1500")
	res := f.Do("POST", "/v1/credit-notes", map[string]any{"invoice_id": inv, "amount": 3501, "reason": "too much"})
	code, field := res.ErrorField(t)
	eq(t, "too much", fmt.Sprint(res.Status, " ", code, " ", field), "422 invalid amount")
	f.mustCreate("/v1/credit-notes", map[string]any{"invoice_id": inv, "amount": 3500, "reason": "rest written off"})
	eq(t, "settled", f.balances(inv), []string{"0 paid"})
}

func TestRefundsAndChargebacksReopenInvoicesIntoTheDunningQueue(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	a := f.invoice(cid, 3000, map[string]any{"issued_on": "2026-09-01", "due_on": "2026-10-01", "early_payment_discount": map[string]any{"rate_bp": 100, "days": 365}})
	b := f.invoice(cid, 2000, map[string]any{"issued_on": "2026-09-15", "due_on": "2026-10-15"})
	p := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 6000, "received_on": "2026-11-20"})
	pid := p["id"].(string)
	// 2970 settles A (30 discount), 2000 settles B, 1030 is credit.
	eq(t, "unapplied", p["unapplied"], 1030.0)

	// A refund of 1500: 1030 from the credit, then 470 from B (newest allocation).
	res := f.Do("POST", "/v1/payments/"+pid+"/refunds", map[string]any{"amount": 1500, "reason": "returned goods"})
	if res.Status != 200 {
		t.Fatalf("refund = %d %s", res.Status, res.Body)
	}
	eq(t, "after refund", f.balances(a, b), []string{"0 paid", "470 overdue"})
	eq(t, "credit", f.get("/v1/customers/" + cid + "/balance")["credit"], map[string]any{})
	if f.get("/v1/invoices/" + b)["next_action_on"] == nil {
		t.Error("a reopened invoice is not back in the dunning queue")
	}
	// A chargeback of the rest reopens A too, and the discount goes with it.
	res = f.Do("POST", "/v1/payments/"+pid+"/refunds", map[string]any{"kind": "chargeback", "reason": "card dispute lost"})
	got := res.Map(t)
	eq(t, "payment", fmt.Sprint(got["status"], " ", got["refunded"], " ", got["charged_back"], " ", len(got["allocations"].([]any))), "reversed 1500 4500 0")
	eq(t, "after chargeback", f.balances(a, b), []string{"3000 overdue", "2000 overdue"})
	res = f.Do("POST", "/v1/payments/"+pid+"/refunds", map[string]any{"amount": 1})
	code, field := res.ErrorField(t)
	eq(t, "nothing left", fmt.Sprint(res.Status, " ", code, " ", field), "422 invalid amount")
}

func TestPaymentBadInputNamesTheFieldAndWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	other := f.customer(map[string]any{"name": "Other"})
	inv := f.invoice(cid, 1000, nil)
	theirs := f.invoice(other, 1000, nil)
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no customer", map[string]any{"amount": 100}, "customer_id"},
		{"unknown customer", map[string]any{"customer_id": "cus_01M842XZPHKJY7EJGDAVY9KYCS", "amount": 100}, "customer_id"},
		{"no amount", map[string]any{"customer_id": cid}, "amount"},
		{"zero amount", map[string]any{"customer_id": cid, "amount": 0}, "amount"},
		{"amount as a string", map[string]any{"customer_id": cid, "amount": "100"}, "amount"},
		{"bad currency", map[string]any{"customer_id": cid, "amount": 100, "currency": "EURO"}, "currency"},
		{"future date", map[string]any{"customer_id": cid, "amount": 100, "received_on": "2027-01-01"}, "received_on"},
		{"bad method", map[string]any{"customer_id": cid, "amount": 100, "method": "barter"}, "method"},
		{"client sets the status", map[string]any{"customer_id": cid, "amount": 100, "status": "applied"}, "status"},
		{"allocations beyond the amount", map[string]any{"customer_id": cid, "amount": 100,
			"allocations": []any{map[string]any{"invoice_id": inv, "amount": 101}}}, "allocations"},
		{"allocation beyond the balance", map[string]any{"customer_id": cid, "amount": 5000,
			"allocations": []any{map[string]any{"invoice_id": inv, "amount": 1001}}}, "allocations[0].amount"},
		{"another customer's invoice", map[string]any{"customer_id": cid, "amount": 100,
			"allocations": []any{map[string]any{"invoice_id": theirs, "amount": 100}}}, "allocations[0].invoice_id"},
		{"an invoice twice", map[string]any{"customer_id": cid, "amount": 100, "allocations": []any{
			map[string]any{"invoice_id": inv, "amount": 50}, map[string]any{"invoice_id": inv, "amount": 50}}}, "allocations[1].invoice_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Do("POST", "/v1/payments", tc.body)
			_, field := res.ErrorField(t)
			if res.Status/100 != 4 || field != tc.field {
				t.Errorf("= %d, field %q; want 4xx naming %q (%s)", res.Status, field, tc.field, res.Body)
			}
		})
	}
	eq(t, "payments stored", len(f.get("/v1/payments")["data"].([]any)), 0)
	eq(t, "invoice", f.balances(inv, theirs), []string{"1000 open", "1000 open"})
}

func TestDuplicatePaymentsAreRefusedOrReplayed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	inv := f.invoice(cid, 1000, nil)
	body := map[string]any{"customer_id": cid, "amount": 400, "external_id": "bank-77"}
	first := f.Do("POST", "/v1/payments", body, "Idempotency-Key", "k-1")
	again := f.Do("POST", "/v1/payments", body, "Idempotency-Key", "k-1")
	if first.Status != 201 || again.Status != 201 || again.Map(t)["id"] != first.Map(t)["id"] {
		t.Fatalf("replay = %d, %d", first.Status, again.Status)
	}
	dup := f.Do("POST", "/v1/payments", body)
	code, field := dup.ErrorField(t)
	eq(t, "same external id", fmt.Sprint(dup.Status, " ", code, " ", field), "409 conflict external_id")
	eq(t, "balance", f.balances(inv), []string{"600 open"})
}

// Fifty part payments at once against one customer's invoices: each one
// lands exactly once, none is lost to a race, and the balances add up.
func TestConcurrentPartialPaymentsKeepExactBalances(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	a := f.invoice(cid, 2000, map[string]any{"issued_on": "2026-10-01", "due_on": "2026-10-31"})
	b := f.invoice(cid, 2500, map[string]any{"issued_on": "2026-10-02", "due_on": "2026-11-01"})
	const n, each = 50, 100 // 5000 in all: 500 more than owed
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = f.Do("POST", "/v1/payments", map[string]any{"customer_id": cid, "amount": each}).Status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 201 {
			t.Errorf("payment %d = %d", i, s)
		}
	}
	eq(t, "balances", f.balances(a, b), []string{"0 paid", "0 paid"})
	eq(t, "credit", f.get("/v1/customers/" + cid + "/balance")["credit"], map[string]any{"EUR": 500.0})
	var allocated, unapplied int64
	pays := f.get("/v1/payments?customer_id=" + cid + "&limit=200")["data"].([]any)
	for _, p := range pays {
		p := p.(map[string]any)
		unapplied += num(p["unapplied"])
		for _, al := range p["allocations"].([]any) {
			allocated += num(al.(map[string]any)["amount"])
		}
	}
	eq(t, "payments", len(pays), n)
	eq(t, "allocated + unapplied", fmt.Sprint(allocated, " + ", unapplied), "4500 + 500")
}

func TestAllocatingAPaymentWithNothingLeftIsAConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	inv := f.invoice(cid, 1200, nil)
	// The firm's books say who paid; allocating moves the money there.
	p := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 2000})
	eq(t, "on account", p["unapplied"], 800.0)
	second := f.invoice(cid, 3000, nil) // consumes the 800 credit
	eq(t, "second", f.balances(inv, second), []string{"0 paid", "2200 open"})
	res := f.Do("POST", "/v1/payments/"+p["id"].(string)+"/allocate", nil)
	code, _ := res.ErrorField(t)
	eq(t, "nothing to allocate", fmt.Sprint(res.Status, " ", code), "409 conflict")
}

// Concurrent credit notes and refunds can never take more than there is.
func TestConcurrentCreditNotesAndRefundsNeverOverdraw(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	inv := f.invoice(cid, 1000, nil)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = f.Do("POST", "/v1/credit-notes", map[string]any{"invoice_id": inv, "amount": 300, "reason": fmt.Sprint("note ", i)}).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 422, 409, 503:
		default:
			t.Errorf("credit note = %d", s)
		}
	}
	eq(t, "credit notes", created, 3)
	eq(t, "balance", f.balances(inv), []string{"100 open"})

	other := f.invoice(cid, 800, nil)
	p := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 900})
	pid := p["id"].(string)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = f.Do("POST", "/v1/payments/"+pid+"/refunds", map[string]any{"amount": 400}).Status
		}()
	}
	wg.Wait()
	refunds := 0
	for _, s := range statuses {
		if s == 200 {
			refunds++
		}
	}
	eq(t, "refunds of 400 out of 900", refunds, 2)
	got := f.get("/v1/payments/" + pid)
	eq(t, "refunded", got["refunded"], 800.0)
	// 900 paid 100 on the first invoice and 800 on the second; 800 came
	// back off the newest allocation.
	eq(t, "balances", f.balances(inv, other), []string{"0 paid", "800 open"})
}

func TestCreditNoteRefundAndAllocateBadInputNamesTheField(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	inv := f.invoice(cid, 1000, nil)
	void := f.invoice(cid, 500, nil)
	if res := f.Do("POST", "/v1/invoices/"+void+"/void", nil); res.Status != 200 {
		t.Fatal(res.Status)
	}
	pid := f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 500, // 200 left on account
		"allocations": []any{map[string]any{"invoice_id": inv, "amount": 300}}})["id"].(string)
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		status     int
		field      string
	}{
		{"credit note without a reason", "/v1/credit-notes", map[string]any{"invoice_id": inv, "amount": 10}, 422, "reason"},
		{"credit note without an amount", "/v1/credit-notes", map[string]any{"invoice_id": inv, "reason": "x"}, 422, "amount"},
		{"credit note for an unknown invoice", "/v1/credit-notes", map[string]any{"invoice_id": "inv_01M842XZPHKJY7EJGDAVY9KYCS", "amount": 10, "reason": "x"}, 422, "invoice_id"},
		{"credit note on a void invoice", "/v1/credit-notes", map[string]any{"invoice_id": void, "amount": 10, "reason": "x"}, 409, ""},
		{"credit note setting its own id", "/v1/credit-notes", map[string]any{"id": "cn_x", "invoice_id": inv, "amount": 10, "reason": "x"}, 400, "id"},
		{"refund of another kind", "/v1/payments/" + pid + "/refunds", map[string]any{"kind": "gift"}, 422, "kind"},
		{"refund of a negative amount", "/v1/payments/" + pid + "/refunds", map[string]any{"amount": -5}, 422, "amount"},
		{"allocating to a void invoice", "/v1/payments/" + pid + "/allocate", map[string]any{"allocations": []any{map[string]any{"invoice_id": void, "amount": 1}}}, 422, "allocations[0].invoice_id"},
		{"allocating more than is left", "/v1/payments/" + pid + "/allocate", map[string]any{"allocations": []any{map[string]any{"invoice_id": inv, "amount": 201}}}, 422, "allocations"},
		{"allocating another customer's payment", "/v1/payments/" + pid + "/allocate", map[string]any{"customer_id": f.customer(map[string]any{"name": "B"})}, 422, "customer_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Do("POST", tc.path, tc.body)
			_, field := res.ErrorField(t)
			if res.Status != tc.status || field != tc.field {
				t.Errorf("= %d naming %q, want %d naming %q (%s)", res.Status, field, tc.status, tc.field, res.Body)
			}
		})
	}
	eq(t, "invoice untouched", f.balances(inv), []string{"700 open"})
	eq(t, "payment untouched", f.get("/v1/payments/" + pid)["version"], 1.0)
}

func TestPromisesToPayAndAlertsThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	other := f.customer(map[string]any{"name": "Other"})
	a := f.invoice(cid, 5000, nil)
	b := f.invoice(cid, 3000, nil)
	theirs := f.invoice(other, 1000, nil)
	path := "/v1/customers/" + cid + "/promises"
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		field  string
	}{
		{"no amount", map[string]any{"promised_on": "2026-12-01"}, 422, "amount"},
		{"no date", map[string]any{"amount": 100}, 422, "promised_on"},
		{"a date in the past", map[string]any{"amount": 100, "promised_on": "2026-11-01"}, 422, "promised_on"},
		{"a bad channel", map[string]any{"amount": 100, "promised_on": "2026-12-01", "channel": "pigeon"}, 422, "channel"},
		{"another customer's invoice", map[string]any{"amount": 100, "promised_on": "2026-12-01", "invoice_ids": []any{theirs}}, 422, "invoice_ids[0]"},
		{"an invoice twice", map[string]any{"amount": 100, "promised_on": "2026-12-01", "invoice_ids": []any{a, a}}, 422, "invoice_ids[1]"},
		{"setting the state", map[string]any{"amount": 100, "promised_on": "2026-12-01", "state": "kept"}, 400, "state"},
		{"more than is owed", map[string]any{"amount": 5001, "promised_on": "2026-12-01", "invoice_ids": []any{a}}, 422, "amount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.Do("POST", path, tc.body)
			_, field := res.ErrorField(t)
			if res.Status != tc.status || field != tc.field {
				t.Errorf("= %d naming %q, want %d naming %q (%s)", res.Status, field, tc.status, tc.field, res.Body)
			}
		})
	}
	// Two collectors record a promise for invoice A at once: one holds it.
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = f.Do("POST", path, map[string]any{"amount": 5000, "promised_on": "2026-12-01", "invoice_ids": []any{a}, "channel": "phone"}).Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		if s == 201 {
			created++
		} else if s != 409 && s != 503 {
			t.Errorf("concurrent promise = %d", s)
		}
	}
	eq(t, "promises holding A", created, 1)
	// Without invoice_ids it covers the open invoices not yet promised: B.
	p := f.mustCreate(path, map[string]any{"amount": 3000, "promised_on": "2026-12-05", "taken_by": "sam", "note": "after their customer pays"})
	eq(t, "covers", fmt.Sprint(p["invoice_ids"], " ", p["balance_at_promise"], " ", p["check_on"], " ", p["state"]), fmt.Sprint([]any{b}, " 3000 2026-12-09 open"))
	eq(t, "listed", len(f.get(path)["data"].([]any)), 2)
	eq(t, "the invoice waits", f.get("/v1/invoices/" + b)["next_action_on"], "2026-12-09")
	eq(t, "no alerts yet", len(f.get("/v1/alerts")["data"].([]any)), 0)
	if res := f.Do("POST", "/v1/alerts/alr_01M842XZPHKJY7EJGDAVY9KYCS/acknowledge", nil); res.Status != 404 {
		t.Errorf("acknowledging an unknown alert = %d", res.Status)
	}
	if res := f.Do("GET", "/v1/alerts?state=lost", nil); res.Status != 400 {
		t.Errorf("a bad state filter = %d", res.Status)
	}
}

func TestCreditLimitAndHolds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"credit_limit": 10000})
	f.invoice(cid, 6000, nil)
	eq(t, "alerts under the limit", len(f.get("/v1/alerts?customer_id=" + cid)["data"].([]any)), 0)
	// Over the limit: the invoice is still created, and an alert raised.
	over := f.invoice(cid, 5000, nil)
	alerts := f.get("/v1/alerts?customer_id=" + cid)["data"].([]any)
	if len(alerts) != 1 {
		t.Fatalf("alerts after going over the limit: %v", alerts)
	}
	a := alerts[0].(map[string]any)
	eq(t, "alert", fmt.Sprint(a["kind"], " ", a["state"], " ", a["ref"]), "exposure_over_limit open "+over)
	res := f.Do("POST", "/v1/alerts/"+a["id"].(string)+"/acknowledge", nil)
	eq(t, "acknowledged", fmt.Sprint(res.Status, " ", res.Map(t)["state"]), "200 acknowledged")
	eq(t, "open alerts", len(f.get("/v1/alerts?state=open")["data"].([]any)), 0)

	// Holds: an admin puts a customer on hold with a reason; the list says who.
	other := f.customer(map[string]any{"name": "Not held"})
	if res := f.Do("POST", "/v1/customers/"+cid+"/hold", map[string]any{}); res.Status != 422 {
		t.Errorf("hold without a reason = %d", res.Status)
	}
	if res := f.As(f.keys[auth.Collector]).Do("POST", "/v1/customers/"+cid+"/hold", map[string]any{"reason": "x"}); res.Status != 403 {
		t.Errorf("a collector holding = %d", res.Status)
	}
	held := f.Do("POST", "/v1/customers/"+cid+"/hold", map[string]any{"reason": "over limit and 60 days late"}).Map(t)
	eq(t, "held", fmt.Sprint(held["credit_hold"], " ", held["hold_reason"]), "true over limit and 60 days late")
	list := f.get("/v1/customers?on_hold=true")["data"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != cid {
		t.Errorf("on hold: %v (not %s)", list, other)
	}
	f.Do("POST", "/v1/customers/"+cid+"/release", nil)
	eq(t, "on hold after release", len(f.get("/v1/customers?on_hold=true")["data"].([]any)), 0)
	if res := f.Do("GET", "/v1/customers?on_hold=maybe", nil); res.Status != 400 {
		t.Errorf("on_hold=maybe = %d", res.Status)
	}
}

// The credit file reads a customer's record: paid late, partly paid,
// promised; its score and factors follow from it.
func TestCreditFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"credit_limit": 100000})
	paidLate := f.invoice(cid, 20000, map[string]any{"issued_on": "2026-09-01", "due_on": "2026-10-01"})
	f.invoice(cid, 30000, map[string]any{"issued_on": "2026-10-01", "due_on": "2026-10-31"})
	f.invoice(cid, 10000, map[string]any{"issued_on": "2026-11-20", "due_on": "2026-12-20"})
	f.mustCreate("/v1/payments", map[string]any{"customer_id": cid, "amount": 20000, "received_on": "2026-10-11",
		"allocations": []any{map[string]any{"invoice_id": paidLate, "amount": 20000}}})
	f.mustCreate("/v1/customers/"+cid+"/promises", map[string]any{"amount": 30000, "promised_on": "2026-11-30"})
	f.Do("POST", "/v1/customers/"+cid+"/contacts", map[string]any{"channel": "phone", "summary": "promised to pay by the 30th", "response": true})

	cf := f.get("/v1/customers/" + cid + "/credit")
	// One invoice settled, 10 days late: thin file -10, on time -30, days
	// late -5; 30000 of 40000 owed is overdue: -11.25 → -11. 100-56 = 44: D.
	eq(t, "score", fmt.Sprint(cf["score"], " ", cf["grade"]), "44 D")
	eq(t, "exposure and headroom", fmt.Sprint(cf["exposure"], " ", cf["headroom"]), "map[EUR:40000] 60000")
	eq(t, "punctuality", fmt.Sprint(cf["on_time_streak"], " ", cf["avg_days_late"], " ", cf["worst_days_late"], " ", cf["settled_last_12_months"]), "0 10 10 1")
	eq(t, "open promises", len(cf["open_promises"].([]any)), 1)
	eq(t, "last contact", cf["last_contacts"].([]any)[0].(map[string]any)["summary"], "promised to pay by the 30th")
	factors := map[string]float64{}
	for _, x := range cf["factors"].([]any) {
		x := x.(map[string]any)
		factors[x["name"].(string)] = x["points"].(float64)
	}
	eq(t, "factors", factors, map[string]float64{"thin_file": -10, "on_time": -30, "days_late": -5, "trend": 0, "broken_promises": 0, "overdue_now": -11, "limit": 0})
	if res := f.Do("GET", "/v1/customers/cus_01M842XZPHKJY7EJGDAVY9KYCS/credit", nil); res.Status != 404 {
		t.Errorf("unknown customer = %d", res.Status)
	}
}
