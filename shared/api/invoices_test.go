package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestInvoiceDueDateFollowsTheCustomersTerms(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"payment_terms_days": 14})
	inv := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "INV-1", "total": 12345, "issued_on": "2026-11-01"})
	if inv["due_on"] != "2026-11-15" || inv["currency"] != "EUR" || inv["balance"].(float64) != 12345 || inv["timezone"] != "Europe/Berlin" {
		t.Errorf("invoice = %v", inv)
	}
	// Without issued_on the invoice is issued today in the customer's zone:
	// at 23:30 UTC on the 23rd it is already the 24th in Berlin.
	f.clock.Set(time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC))
	today := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "INV-2", "total": 100})
	if today["issued_on"] != "2026-11-24" || today["due_on"] != "2026-12-08" {
		t.Errorf("issued/due = %v/%v", today["issued_on"], today["due_on"])
	}
	// The firm's external id for the customer works too, and numbers are assigned when omitted.
	f.Do("PATCH", "/v1/customers/"+cid, map[string]any{"external_id": "ERP-7"})
	auto := f.mustCreate("/v1/invoices", map[string]any{"customer_external_id": "ERP-7", "total": 500, "due_on": "2026-12-24", "payment_url": "https://pay.example.com/x"})
	if auto["number"] != "INV-000001" || auto["customer_id"] != cid || auto["payment_url"] != "https://pay.example.com/x" {
		t.Errorf("auto-numbered invoice = %v", auto)
	}
}

// Overdue is derived at read time in the invoice's zone: the day after the
// due date, local time. Nothing stored goes stale.
func TestOverdueStartsTheDayAfterDueInTheCustomersZone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	east := f.customer(map[string]any{"timezone": "Pacific/Kiritimati"}) // UTC+14
	west := f.customer(map[string]any{"timezone": "Pacific/Pago_Pago"})  // UTC-11
	for _, c := range []string{east, west} {
		f.mustCreate("/v1/invoices", map[string]any{"customer_id": c, "number": "DUE-" + c[len(c)-6:], "total": 1000, "issued_on": "2026-11-01", "due_on": "2026-11-23"})
	}
	statuses := func() map[string]string {
		out := map[string]string{}
		for _, inv := range f.Do("GET", "/v1/invoices", nil).Map(t)["data"].([]any) {
			m := inv.(map[string]any)
			out[m["customer_id"].(string)] = fmt.Sprintf("%s/%v", m["status"], m["days_overdue"])
		}
		return out
	}
	count := func(status string) int {
		return len(f.Do("GET", "/v1/invoices?status="+status, nil).Map(t)["data"].([]any))
	}
	cases := []struct {
		utc        time.Time
		east, west string
	}{
		{time.Date(2026, 11, 23, 9, 59, 0, 0, time.UTC), "open/0", "open/0"},       // 23:59 on the 23rd in Kiritimati
		{time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), "overdue/1", "open/0"},    // midnight: the 24th in Kiritimati
		{time.Date(2026, 11, 24, 10, 59, 0, 0, time.UTC), "overdue/2", "open/0"},   // 23:59 on the 23rd in Pago Pago
		{time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC), "overdue/2", "overdue/1"}, // the 24th everywhere
	}
	for _, c := range cases {
		f.clock.Set(c.utc)
		got := statuses()
		if got[east] != c.east || got[west] != c.west {
			t.Errorf("at %s: east %s west %s; want %s %s", c.utc, got[east], got[west], c.east, c.west)
		}
		wantOverdue := 0
		for _, s := range []string{c.east, c.west} {
			if strings.HasPrefix(s, "overdue") {
				wantOverdue++
			}
		}
		if n := count("overdue"); n != wantOverdue {
			t.Errorf("at %s: status=overdue lists %d, want %d", c.utc, n, wantOverdue)
		}
		if n := count("open"); n != 2-wantOverdue {
			t.Errorf("at %s: status=open lists %d, want %d", c.utc, n, 2-wantOverdue)
		}
	}
	if n := len(f.Do("GET", "/v1/invoices?customer_id="+east+"&status=overdue", nil).Map(t)["data"].([]any)); n != 1 {
		t.Errorf("one customer's overdue invoices: %d", n)
	}
}

func TestConcurrentInvoicesWithOneNumberViaTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := f.Do("POST", "/v1/invoices", map[string]any{"customer_id": cid, "number": "2026-0042", "total": 1000 + i})
			statuses[i] = res.Status
		}()
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409, 503:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if created != 1 {
		t.Errorf("%d invoices created with one number (statuses %v)", created, statuses)
	}
	if n := len(f.Do("GET", "/v1/invoices?customer_id="+cid, nil).Map(t)["data"].([]any)); n != 1 {
		t.Errorf("%d invoices stored", n)
	}
}

func TestVoidingAnInvoice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	id := f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": "V-1", "total": 5000})["id"].(string)
	res := f.Do("POST", "/v1/invoices/"+id+"/void", map[string]any{"reason": "issued twice"})
	v := res.Map(t)
	if res.Status != 200 || v["status"] != "void" || v["balance"].(float64) != 0 || v["void_reason"] != "issued twice" || v["voided_at"] == nil {
		t.Fatalf("void = %d %v", res.Status, v)
	}
	again := f.Do("POST", "/v1/invoices/"+id+"/void", nil)
	if again.Status != 200 || again.Map(t)["version"] != v["version"] {
		t.Errorf("voiding twice = %d %s", again.Status, again.Body)
	}
	if n := len(f.Do("GET", "/v1/invoices?status=void", nil).Map(t)["data"].([]any)); n != 1 {
		t.Errorf("status=void lists %d", n)
	}
	if n := len(f.Do("GET", "/v1/invoices?status=open", nil).Map(t)["data"].([]any)); n != 0 {
		t.Errorf("status=open lists %d after voiding", n)
	}
	if res := f.Do("POST", "/v1/invoices/inv_01M842XZPHKJY7EJGDAVY9KYCS/void", nil); res.Status != 404 {
		t.Errorf("void unknown = %d", res.Status)
	}
}

// Cursors stay valid while the clock moves the open/overdue boundaries.
func TestOpenInvoiceCursorSurvivesTheDateChanging(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(map[string]any{"timezone": "UTC"})
	for i, due := range []string{"2026-11-22", "2026-11-23", "2026-11-24", "2026-11-30", "2026-12-10"} {
		f.mustCreate("/v1/invoices", map[string]any{"customer_id": cid, "number": fmt.Sprint("C-", i), "total": 100, "issued_on": "2026-11-01", "due_on": due})
	}
	f.clock.Set(time.Date(2026, 11, 23, 10, 59, 0, 0, time.UTC))
	first := f.Do("GET", "/v1/invoices?status=open&limit=1", nil).Map(t)
	next, _ := first["next_cursor"].(string)
	if next == "" {
		t.Fatalf("no cursor: %v", first)
	}
	f.clock.Set(time.Date(2026, 11, 24, 12, 0, 1, 0, time.UTC))
	res := f.Do("GET", "/v1/invoices?status=open&limit=10&cursor="+next, nil)
	if res.Status != 200 {
		t.Fatalf("yesterday's cursor = %d %s", res.Status, res.Body)
	}
	var numbers []string
	for _, d := range res.Map(t)["data"].([]any) {
		numbers = append(numbers, d.(map[string]any)["number"].(string))
	}
	if fmt.Sprint(numbers) != "[C-2 C-3 C-4]" {
		t.Errorf("the rest of the open invoices = %v", numbers)
	}
}

func TestCustomerExternalIDOnInvoiceCreateIsTrimmedLikeEverywhereElse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.customer(map[string]any{"external_id": " ERP-9 "})
	if res := f.Do("POST", "/v1/invoices", map[string]any{"customer_external_id": " ERP-9 ", "total": 100}); res.Status != 201 {
		t.Errorf("= %d %s", res.Status, res.Body)
	}
}
