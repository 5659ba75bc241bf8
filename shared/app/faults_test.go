package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/app"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/config"
	"dunlin/shared/testenv"
)

// faultyApp is Dunlin wired, as the API function is, to DynamoDB Local
// through a fault-injecting proxy, on a clock the test moves.
type faultyApp struct {
	app   *app.App
	proxy *testenv.FaultProxy
	srv   *httptest.Server
	key   string
	*testenv.Clock
	logs *bytes.Buffer
}

// lockedBuffer is a log sink safe for concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func newFaultyApp(t *testing.T, seed uint64) *faultyApp {
	t.Helper()
	return newFaultyAppWith(t, seed, nil)
}

func newFaultyAppWith(t *testing.T, seed uint64, extra map[string]string) *faultyApp {
	t.Helper()
	_, table := testenv.NewTable(t)
	proxy := testenv.NewFaultProxy(t, testenv.DynamoDBEndpoint(t), seed)
	env := map[string]string{"DUNLIN_TABLE": table, "DUNLIN_DYNAMODB_ENDPOINT": proxy.URL, "DUNLIN_SES_ENDPOINT": testenv.SESEndpoint(t),
		"DUNLIN_FIRM_TIMEZONE": "Europe/Dublin", "DUNLIN_DEFAULT_CURRENCY": "EUR", "DUNLIN_SENDER": "ar@firm.example"}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyApp{proxy: proxy, Clock: testenv.NewClock(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)), logs: &bytes.Buffer{}}
	log := slog.New(slog.NewJSONHandler(&lockedBuffer{b: f.logs}, nil))
	if f.app, err = app.New(context.Background(), cfg, log, f.Now); err != nil {
		t.Fatal(err)
	}
	if f.key, _, err = f.app.Keys.Create(context.Background(), "faults", auth.Admin); err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.app.API)
	t.Cleanup(f.srv.Close)
	return f
}

type answer struct {
	status     int
	retryAfter string
	body       string
}

func (f *faultyApp) post(t *testing.T, path, idemKey string, body any) answer {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", f.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+f.key)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header.Get("Retry-After"), string(rb)}
}

// TestTheAPIUnderDatabaseFaults sends writes through a proxy that throttles,
// drops connections before and after DynamoDB did the work, and delays,
// then retries each with its Idempotency-Key once the faults stop. Every
// answer under faults is a success or a 503 with Retry-After, never a 500;
// afterwards every write exists exactly once, or is reported as in doubt
// and then found to exist at most once; the books add up.
func TestTheAPIUnderDatabaseFaults(t *testing.T) {
	t.Parallel()
	f := newFaultyApp(t, 7)
	ctx := context.Background()
	var customers []string
	for i := range 4 {
		c, err := f.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: fmt.Sprintf("Customer %d", i), Email: fmt.Sprintf("c%d@example.com", i), Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		customers = append(customers, c.ID)
	}
	type op struct {
		path, key string
		body      any
	}
	var ops []op
	for i := range 40 {
		cid := customers[i%len(customers)]
		total := int64(10000 + 100*i)
		ops = append(ops, op{"/v1/invoices", fmt.Sprintf("inv-%d", i), map[string]any{"customer_id": cid, "external_id": fmt.Sprintf("F-%d", i), "total": total, "issued_on": "2026-11-01", "due_on": "2026-12-01"}})
		// No external id: only the Idempotency-Key stands between a retry
		// and a second payment.
		ops = append(ops, op{"/v1/payments", fmt.Sprintf("pay-%d", i), map[string]any{"customer_id": cid, "amount": 1000 + i, "reference": fmt.Sprintf("P-%d", i), "received_on": "2026-11-15"}})
	}

	f.proxy.Set(testenv.Faults{Throttle: 0.15, Reset: 0.1, ResetAfter: 0.1, Hang: 0.02, HangFor: time.Second, Latency: time.Millisecond})
	first := make([]answer, len(ops))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ops); i += 8 {
				first[i] = f.post(t, ops[i].path, ops[i].key, ops[i].body)
			}
		}()
	}
	wg.Wait()
	f.proxy.Set(testenv.Faults{})
	failed := 0
	for i, a := range first {
		switch {
		case a.status == http.StatusCreated:
		case a.status == http.StatusServiceUnavailable && a.retryAfter != "":
			failed++
		default:
			t.Errorf("%s %s under faults: %d %s (want 201, or 503 with Retry-After)", ops[i].path, ops[i].key, a.status, a.body)
		}
	}
	t.Logf("faults injected: %d throttled, %d reset before, %d reset after the work, %d hung, %d passed; %d of %d writes answered 503",
		f.proxy.Throttled.Load(), f.proxy.Reset.Load(), f.proxy.ResetAfter.Load(), f.proxy.Hung.Load(), f.proxy.Passed.Load(), failed, len(ops))
	if f.proxy.Throttled.Load() == 0 || f.proxy.ResetAfter.Load() == 0 || f.proxy.Reset.Load() == 0 {
		t.Fatalf("the proxy injected too few faults to prove anything")
	}

	// Retry each with its key once the faults are over and any claim's
	// lease has run out.
	f.Advance(2 * time.Minute)
	inDoubt := map[string]bool{}
	for i, o := range ops {
		a := f.post(t, o.path, o.key, o.body)
		switch {
		case a.status == http.StatusCreated:
		case a.status == http.StatusConflict && strings.Contains(a.body, "outcome is unknown"):
			inDoubt[o.key] = true
		default:
			t.Errorf("retry of %s %s (first %d): %d %s", o.path, o.key, first[i].status, a.status, a.body)
		}
	}
	t.Logf("%d writes in doubt after their retries", len(inDoubt))

	// Every invoice exists once (its external id is unique anyway); every
	// payment at most once, and exactly once unless in doubt.
	payments := map[string]int{}
	var paid int64
	for _, cid := range customers {
		page, err := f.app.Billing.ListPayments(ctx, billing.PaymentRange{CustomerID: cid, PageSize: 100}, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Items {
			payments[p.Reference]++
			paid += p.Amount
		}
	}
	var invoiced, owed int64
	for i := range 40 {
		page, err := f.app.Billing.FindInvoiceByExternalID(ctx, fmt.Sprintf("F-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(page.Items); n != 1 && !(n == 0 && inDoubt[fmt.Sprintf("inv-%d", i)]) {
			t.Errorf("invoice F-%d exists %d times", i, n)
		}
		for _, inv := range page.Items {
			invoiced += inv.Total
			owed += inv.Balance
		}
		ref := fmt.Sprintf("P-%d", i)
		if n := payments[ref]; n > 1 || n == 0 && !inDoubt[fmt.Sprintf("pay-%d", i)] {
			t.Errorf("payment %s recorded %d times", ref, n)
		}
	}
	var credit int64
	for _, cid := range customers {
		c, err := f.app.Billing.CreditOnAccount(ctx, cid)
		if err != nil {
			t.Fatal(err)
		}
		credit += c["EUR"]
	}
	if invoiced-owed+credit != paid {
		t.Errorf("the books do not add up: invoiced %d, still owed %d, credit %d, but %d received", invoiced, owed, credit, paid)
	}
	if strings.Contains(f.logs.String(), `"panic"`) {
		t.Errorf("a handler panicked:\n%s", f.logs)
	}
}

// TestWebhooksUnderDatabaseFaults: payment events delivered while DynamoDB
// misbehaves get a non-2xx answer whenever they were not applied, so the
// provider retries; retried until accepted, each pays its invoice exactly
// once.
func TestWebhooksUnderDatabaseFaults(t *testing.T) {
	t.Parallel()
	const secret = "whsec_faults"
	f := newFaultyAppWith(t, 9, map[string]string{"DUNLIN_GENERIC_WEBHOOK_SECRETS": secret})
	ctx := context.Background()
	c, err := f.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: "Hooked", Email: "ap@hooked.example", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 30
	for i := range n {
		total := int64(5000 + i)
		if _, err := f.app.Billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: fmt.Sprintf("WH-%02d", i), Total: &total, IssuedOn: "2026-11-01", DueOn: "2026-11-15"}); err != nil {
			t.Fatal(err)
		}
	}
	hooks := httptest.NewServer(f.app.Webhooks())
	t.Cleanup(hooks.Close)
	deliver := func(i int) int {
		event, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("evt-%02d", i), "type": "payment.succeeded", "payment": map[string]any{
			"id": fmt.Sprintf("txn-%02d", i), "amount": 5000 + i, "currency": "EUR", "received_on": "2026-11-20", "reference": fmt.Sprintf("WH-%02d", i)}})
		req, _ := http.NewRequest("POST", hooks.URL+"/v1/webhooks/generic", bytes.NewReader(event))
		req.Header.Set("Dunlin-Signature", webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: event, Secret: secret}).Header)
		res, err := hooks.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	f.proxy.Set(testenv.Faults{Throttle: 0.15, Reset: 0.1, ResetAfter: 0.1})
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 6 {
				statuses[i] = deliver(i)
			}
		}()
	}
	wg.Wait()
	refused := 0
	for i, st := range statuses {
		switch {
		case st == http.StatusOK:
		case st >= 500:
			refused++
		default:
			t.Errorf("event %d under faults: %d, want 200 or a 5xx the provider retries", i, st)
		}
	}
	f.proxy.Set(testenv.Faults{})
	// The provider retries each refused event (and, being at-least-once,
	// sometimes one that was accepted).
	for i := range n {
		if st := deliver(i); st != http.StatusOK {
			t.Errorf("event %d retried without faults: %d", i, st)
		}
	}
	t.Logf("%d of %d events refused under faults (%d throttled, %d reset, %d reset after)", refused, n, f.proxy.Throttled.Load(), f.proxy.Reset.Load(), f.proxy.ResetAfter.Load())
	if refused == 0 {
		t.Fatal("no event was refused: the faults proved nothing")
	}
	page, err := f.app.Billing.ListPayments(ctx, billing.PaymentRange{CustomerID: c.ID, PageSize: 100}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != n {
		t.Errorf("%d payments recorded for %d events", len(page.Items), n)
	}
	invs, err := f.app.Billing.ListInvoices(ctx, billing.InvoiceQuery{CustomerID: c.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range invs.Items {
		if inv.Balance != 0 {
			t.Errorf("%s still owes %d", inv.Number, inv.Balance)
		}
	}
	if credit, _ := f.app.Billing.CreditOnAccount(ctx, c.ID); credit["EUR"] != 0 {
		t.Errorf("credit on account %d: a payment was applied twice", credit["EUR"])
	}
}

// TestFiftyConcurrentPartialPayments: fifty payments of one invoice posted
// at once all land, none twice, and the invoice ends paid to the cent with
// nothing left over as credit.
func TestFiftyConcurrentPartialPayments(t *testing.T) {
	t.Parallel()
	f := newFaultyApp(t, 1) // no faults set: the proxy passes everything on
	ctx := context.Background()
	c, err := f.app.Billing.CreateCustomer(ctx, billing.CustomerCreate{Name: "Instalments Inc", Email: "ap@inst.example", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	total := int64(50 * 1234)
	inv, err := f.app.Billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Total: &total, IssuedOn: "2026-11-01", DueOn: "2026-11-30"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	answers := make([]answer, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = f.post(t, "/v1/payments", fmt.Sprintf("part-%d", i), map[string]any{"customer_id": c.ID, "amount": 1234,
				"reference": fmt.Sprintf("part %d", i), "allocations": []map[string]any{{"invoice_id": inv.ID, "amount": 1234}}})
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != http.StatusCreated {
			t.Errorf("payment %d: %d %s", i, a.status, a.body)
		}
	}
	got, err := f.app.Billing.GetInvoice(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := f.app.Billing.ListPayments(ctx, billing.PaymentRange{CustomerID: c.ID, PageSize: 100}, 100)
	if err != nil {
		t.Fatal(err)
	}
	credit, _ := f.app.Billing.CreditOnAccount(ctx, c.ID)
	if got.Balance != 0 || len(page.Items) != 50 || credit["EUR"] != 0 {
		t.Errorf("after 50 payments of 12.34: balance %d, %d payments, credit %d; want 0, 50, 0", got.Balance, len(page.Items), credit["EUR"])
	}
}
