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
	mu    sync.Mutex
	now   time.Time
	logs  *bytes.Buffer
}

func (f *faultyApp) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *faultyApp) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
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
	_, table := testenv.NewTable(t)
	proxy := testenv.NewFaultProxy(t, testenv.DynamoDBEndpoint(t), seed)
	env := map[string]string{"DUNLIN_TABLE": table, "DUNLIN_DYNAMODB_ENDPOINT": proxy.URL, "DUNLIN_SES_ENDPOINT": testenv.SESEndpoint(t),
		"DUNLIN_FIRM_TIMEZONE": "Europe/Dublin", "DUNLIN_DEFAULT_CURRENCY": "EUR", "DUNLIN_SENDER": "ar@firm.example"}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	f := &faultyApp{proxy: proxy, now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), logs: &bytes.Buffer{}}
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

	f.proxy.Set(testenv.Faults{Throttle: 0.15, Reset: 0.1, ResetAfter: 0.1, Latency: time.Millisecond})
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
	t.Logf("faults injected: %d throttled, %d reset before, %d reset after the work, %d passed; %d of %d writes answered 503",
		f.proxy.Throttled.Load(), f.proxy.Reset.Load(), f.proxy.ResetAfter.Load(), f.proxy.Passed.Load(), failed, len(ops))
	if f.proxy.Throttled.Load() == 0 || f.proxy.ResetAfter.Load() == 0 || f.proxy.Reset.Load() == 0 {
		t.Fatalf("the proxy injected too few faults to prove anything")
	}

	// Retry each with its key once the faults are over and any claim's
	// lease has run out.
	f.advance(2 * time.Minute)
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
