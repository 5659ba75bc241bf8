package outbound_test

import (
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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
	"dunlin/shared/mailer"
	"dunlin/shared/outbound"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

func TestSignatureRoundTripAndTampering(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"payment.applied","data":{"amount":1250}}`)
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	h := outbound.Sign("whsec_abc", at, body)
	if !strings.HasPrefix(h, "t=1796202000,v1=") {
		t.Fatalf("header %q", h)
	}
	for _, tc := range []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"the signed body verifies", "whsec_abc", h, body, at.Add(time.Minute), nil},
		{"a changed body does not", "whsec_abc", h, []byte(strings.Replace(string(body), "1250", "9250", 1)), at, outbound.ErrSignatureMismatch},
		{"another secret does not", "whsec_abd", h, body, at, outbound.ErrSignatureMismatch},
		{"a changed timestamp does not", "whsec_abc", strings.Replace(h, "t=1796202000", "t=1796202001", 1), body, at, outbound.ErrSignatureMismatch},
		{"an old request is a replay", "whsec_abc", h, body, at.Add(6 * time.Minute), outbound.ErrSignatureTooOld},
		{"a request from the future is refused", "whsec_abc", h, body, at.Add(-6 * time.Minute), outbound.ErrSignatureTooOld},
		{"one of several signatures may match", "whsec_abc", "t=1796202000,v1=00ff," + strings.TrimPrefix(h, "t=1796202000,"), body, at, nil},
		{"a header without v1 is malformed", "whsec_abc", "t=1796202000", body, at, outbound.ErrBadSignatureHeader},
		{"garbage is malformed", "whsec_abc", "nonsense", body, at, outbound.ErrBadSignatureHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := outbound.Verify(tc.secret, tc.header, tc.body, tc.now, 0); err != tc.want {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRetryScheduleGivesUpAfterAboutADay(t *testing.T) {
	var total time.Duration
	for n := 1; ; n++ {
		lo, ok := outbound.RetryDelay(n, 0)
		hi, _ := outbound.RetryDelay(n, 0.999999)
		if !ok {
			if n != outbound.MaxAttempts {
				t.Errorf("no retry after attempt %d; MaxAttempts is %d", n, outbound.MaxAttempts)
			}
			break
		}
		mid, _ := outbound.RetryDelay(n, 0.5)
		if mid != outbound.Backoff[n-1] || lo >= mid || hi <= mid || float64(hi-lo) > 0.41*float64(mid) {
			t.Errorf("attempt %d: waits %v..%v around %v", n, lo, hi, mid)
		}
		total += mid
	}
	if total < 20*time.Hour || total > 28*time.Hour {
		t.Errorf("the last attempt comes %v after the first; want about a day", total)
	}
}

// world is one test's Dunlin with outbound events: its own table, a
// settable clock, the billing service, endpoint management and a runner.
type world struct {
	t      *testing.T
	ctx    context.Context
	clock  *testenv.Clock
	store  *store.Store
	bill   *billing.Service
	eps    *outbound.Service
	runner *outbound.Runner
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, ctx: t.Context(), clock: testenv.NewClock(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)), store: testenv.NewStore(t)}
	var err error
	w.bill, err = billing.NewService(w.store, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, w.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.bill.SetIndexLag(0)
	w.eps = outbound.NewService(w.store, w.clock.Now)
	w.eps.AllowLoopbackHTTP = true
	w.runner = w.newRunner()
	return w
}

func (w *world) newRunner() *outbound.Runner {
	return &outbound.Runner{Store: w.store, Now: w.clock.Now, Rand: func() float64 { return 0.5 }, AllowLoopback: true}
}

// receiver is an httptest server that records what it is sent and
// answers with the status its handler picks.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status func(n int) int // n counts requests from 1
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, status func(n int) int) *receiver {
	r := &receiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{req.Header.Clone(), b})
		n := len(r.got)
		r.mu.Unlock()
		w.WriteHeader(r.status(n))
	}))
	t.Cleanup(r.Close)
	return r
}

func ok(int) int { return http.StatusOK }

func (r *receiver) all() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// event decodes a received body.
func (rc received) event(t *testing.T) (ev struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}) {
	t.Helper()
	if err := json.Unmarshal(rc.body, &ev); err != nil {
		t.Fatalf("body %s: %v", rc.body, err)
	}
	return ev
}

func (w *world) register(url string, events ...string) *outbound.Endpoint {
	w.t.Helper()
	e, err := w.eps.Register(w.ctx, outbound.EndpointInput{URL: url, Events: events, Description: "test receiver"})
	if err != nil {
		w.t.Fatal(err)
	}
	return e
}

func (w *world) run() outbound.Summary {
	w.t.Helper()
	sum, err := w.runner.Run(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return sum
}

// customerOwing makes a customer with one open invoice.
func (w *world) customerOwing(total int64, issued, due string) (*billing.Customer, *billing.Invoice) {
	w.t.Helper()
	c, err := w.bill.CreateCustomer(w.ctx, billing.CustomerCreate{Name: "Acme GmbH", ExternalID: "C-100", Email: "ap@acme.example", Timezone: "UTC"})
	if err != nil {
		w.t.Fatal(err)
	}
	inv, err := w.bill.CreateInvoice(w.ctx, billing.InvoiceCreate{CustomerID: c.ID, Total: &total, IssuedOn: issued, DueOn: due, ExternalID: "INV-EXT-1"})
	if err != nil {
		w.t.Fatal(err)
	}
	return c, inv
}

func (w *world) pay(c *billing.Customer, amount int64) *billing.Payment {
	w.t.Helper()
	p, err := w.bill.RecordPayment(w.ctx, billing.PaymentInput{CustomerID: c.ID, Amount: &amount, ExternalID: fmt.Sprintf("BANK-%d", amount), Reference: "INV-1"})
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// TestAPaymentIsDeliveredSignedToEverySubscriber: recording a payment
// through the billing service raises payment.applied, which reaches each
// endpoint that wants it (signed with its own secret) and no other.
func TestAPaymentIsDeliveredSignedToEverySubscriber(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	all, payments, other := newReceiver(t, ok), newReceiver(t, ok), newReceiver(t, ok)
	eAll := w.register(all.URL)
	ePay := w.register(payments.URL, outbound.PaymentApplied)
	w.register(other.URL, outbound.PromiseBroken)
	c, inv := w.customerOwing(10000, "2026-11-01", "2026-12-01")
	p := w.pay(c, 4000)

	sum := w.run()
	if sum.FannedOut != 1 || sum.Delivered != 2 {
		t.Fatalf("summary %+v; want 1 event fanned out, 2 delivered", sum)
	}
	if n := len(other.all()); n != 0 {
		t.Errorf("an endpoint not subscribed to payment.applied got %d requests", n)
	}
	for _, tc := range []struct {
		r *receiver
		e *outbound.Endpoint
	}{{all, eAll}, {payments, ePay}} {
		got := tc.r.all()
		if len(got) != 1 {
			t.Fatalf("%d requests, want 1", len(got))
		}
		rc := got[0]
		if err := outbound.Verify(tc.e.Secret, rc.header.Get(outbound.SignatureHeader), rc.body, w.clock.Now(), 0); err != nil {
			t.Errorf("signature: %v", err)
		}
		ev := rc.event(t)
		if !strings.HasPrefix(ev.ID, "evt_") || ev.Type != outbound.PaymentApplied || rc.header.Get(outbound.EventIDHeader) != ev.ID ||
			rc.header.Get(outbound.EventTypeHeader) != ev.Type || ev.CreatedAt.IsZero() {
			t.Errorf("event %+v, headers %v", ev, rc.header)
		}
		var data billing.PaymentAppliedData
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.Payment.ID != p.ID || data.Payment.ExternalID != "BANK-4000" || data.Payment.Amount != 4000 || data.Payment.Currency != "EUR" ||
			data.Payment.CustomerID != c.ID || len(data.Applied) != 1 || data.Applied[0].InvoiceID != inv.ID ||
			data.Applied[0].Amount != 4000 || data.Applied[0].BalanceAfter != 6000 || data.Applied[0].Paid || data.Applied[0].InvoiceExternalID != "INV-EXT-1" {
			t.Errorf("data %s", ev.Data)
		}
	}
	if again := w.run(); again != (outbound.Summary{}) {
		t.Errorf("a second run did %+v; want nothing", again)
	}
}

// TestAFailingEndpointIsRetriedWithBackoffThenGivenUp: a 500 is retried
// on the schedule (not before the next attempt is due), the log holds
// every attempt, and after the last the delivery is failed.
func TestAFailingEndpointIsRetriedWithBackoffThenGivenUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	down := newReceiver(t, func(int) int { return http.StatusInternalServerError })
	e := w.register(down.URL)
	c, _ := w.customerOwing(10000, "2026-11-01", "2026-12-01")
	w.pay(c, 100)

	start := w.clock.Now()
	w.run()
	for n := 1; n < outbound.MaxAttempts; n++ {
		ds, err := w.eps.Deliveries(w.ctx, e.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		d := ds[0]
		last := d.Log[len(d.Log)-1]
		if d.State != outbound.Pending || len(d.Log) != n || last.Number != n || last.StatusCode != 500 || last.Error != "HTTP 500" || last.NextAttemptAt == nil {
			t.Fatalf("after attempt %d: %+v, last %+v", n, d, last)
		}
		wait := last.NextAttemptAt.Sub(last.At)
		if want := outbound.Backoff[n-1]; wait < want-time.Second || wait > want+time.Second {
			t.Errorf("attempt %d: next in %v, want %v", n, wait, want)
		}
		w.clock.Set(last.NextAttemptAt.Add(-time.Second))
		if sum := w.run(); sum.Attempted != 0 {
			t.Fatalf("attempt %d: retried %v early", n, time.Second)
		}
		w.clock.Set(*last.NextAttemptAt)
		if sum := w.run(); sum.Attempted != 1 {
			t.Fatalf("attempt %d: the retry was not made when due: %+v", n+1, sum)
		}
	}
	ds, _ := w.eps.Deliveries(w.ctx, e.ID, 10)
	if d := ds[0]; d.State != outbound.Failed || len(d.Log) != outbound.MaxAttempts || d.Log[len(d.Log)-1].NextAttemptAt != nil {
		t.Errorf("after the last attempt: %+v", d)
	}
	if took := w.clock.Now().Sub(start); took < 20*time.Hour || took > 28*time.Hour {
		t.Errorf("gave up %v after the first attempt; want about a day", took)
	}
	w.clock.Advance(48 * time.Hour)
	if sum := w.run(); sum.Attempted != 0 || len(down.all()) != outbound.MaxAttempts {
		t.Errorf("after giving up: %+v, %d requests in all", sum, len(down.all()))
	}
}

// TestARetryAfterA500Delivers, and a down endpoint holds up no other.
func TestARetryAfterA500DeliversAndHoldsUpNoOther(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	flaky := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	healthy := newReceiver(t, ok)
	ef := w.register(flaky.URL)
	w.register(healthy.URL)
	c, _ := w.customerOwing(10000, "2026-11-01", "2026-12-01")
	w.pay(c, 100)
	w.pay(c, 200)

	sum := w.run()
	if sum.Delivered != 2 || sum.Retrying != 1 || sum.Postponed != 1 || len(healthy.all()) != 2 {
		t.Fatalf("first run %+v, healthy got %d; want both to the healthy endpoint, one failure and one postponed", sum, len(healthy.all()))
	}
	w.clock.Advance(2 * time.Minute)
	if sum := w.run(); sum.Delivered != 2 {
		t.Fatalf("second run %+v; want the retry and the postponed one delivered", sum)
	}
	ds, _ := w.eps.Deliveries(w.ctx, ef.ID, 10)
	for _, d := range ds {
		if d.State != outbound.Delivered {
			t.Errorf("delivery %+v", d)
		}
	}
	if got := flaky.all(); len(got) != 3 || got[0].header.Get(outbound.EventIDHeader) != got[2].header.Get(outbound.EventIDHeader) &&
		got[0].header.Get(outbound.EventIDHeader) != got[1].header.Get(outbound.EventIDHeader) {
		t.Errorf("%d requests to the flaky endpoint; want 3, a retry under the same event id", len(got))
	}
}

// TestConcurrentRunsDeliverEachEventOnce: runs racing over the same
// outbox and queue claim each attempt once.
func TestConcurrentRunsDeliverEachEventOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := newReceiver(t, ok)
	w.register(r.URL)
	c, _ := w.customerOwing(1_000_000, "2026-11-01", "2026-12-01")
	const payments = 12
	for i := 0; i < payments; i++ {
		w.pay(c, int64(100+i))
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w.newRunner().Run(w.ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	w.run() // anything the racers left
	seen := map[string]int{}
	for _, rc := range r.all() {
		seen[rc.header.Get(outbound.EventIDHeader)]++
	}
	if len(seen) != payments {
		t.Errorf("%d distinct events delivered, want %d", len(seen), payments)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
}

// TestDisabledAndDeletedEndpointsGetNothing, even what was queued for them.
func TestDisabledAndDeletedEndpointsGetNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	off, gone := newReceiver(t, ok), newReceiver(t, ok)
	eOff, eGone := w.register(off.URL), w.register(gone.URL)
	c, _ := w.customerOwing(10000, "2026-11-01", "2026-12-01")
	w.pay(c, 100)
	// Fan out without sending: the deliveries are queued.
	evs, err := w.store.PendingEvents(w.ctx, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("pending %v %v", evs, err)
	}
	var ds []*outbound.Delivery
	for _, e := range []*outbound.Endpoint{eOff, eGone} {
		ds = append(ds, &outbound.Delivery{EndpointID: e.ID, EventID: evs[0].ID, EventType: evs[0].Type, Body: evs[0].Body(),
			State: outbound.Pending, NextAttemptAt: w.clock.Now().Truncate(time.Second), CreatedAt: w.clock.Now()})
	}
	if ok, err := w.store.FanOut(w.ctx, evs[0], ds); !ok || err != nil {
		t.Fatal(ok, err)
	}
	disabled := true
	if _, err := w.eps.Update(w.ctx, eOff.ID, outbound.EndpointPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.eps.Delete(w.ctx, eGone.ID); err != nil {
		t.Fatal(err)
	}
	w.pay(c, 200) // raised while disabled: never queued for it
	sum := w.run()
	if len(off.all())+len(gone.all()) != 0 || sum.Cancelled != 2 {
		t.Errorf("run %+v; %d and %d requests; want none, 2 cancelled", sum, len(off.all()), len(gone.all()))
	}
	got, _ := w.eps.Deliveries(w.ctx, eOff.ID, 10)
	if len(got) != 1 || got[0].State != outbound.Cancelled {
		t.Errorf("deliveries of the disabled endpoint: %+v", got)
	}
	if _, err := w.eps.Get(w.ctx, eGone.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("deleted endpoint: %v", err)
	}
}

// TestBadEndpointsAreRefusedNamingTheField, and nothing is stored.
func TestBadEndpointsAreRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	strict := outbound.NewService(w.store, w.clock.Now)
	for _, tc := range []struct {
		name  string
		svc   *outbound.Service
		in    outbound.EndpointInput
		field string
	}{
		{"no url", w.eps, outbound.EndpointInput{}, "url"},
		{"plain http", w.eps, outbound.EndpointInput{URL: "http://erp.example.com/hook"}, "url"},
		{"http on loopback when deployed", strict, outbound.EndpointInput{URL: "http://127.0.0.1:8080/hook"}, "url"},
		{"a relative url", w.eps, outbound.EndpointInput{URL: "/hook"}, "url"},
		{"credentials in the url", w.eps, outbound.EndpointInput{URL: "https://u:p@erp.example.com/"}, "url"},
		{"another scheme", w.eps, outbound.EndpointInput{URL: "ftp://erp.example.com/"}, "url"},
		{"an unknown event type", w.eps, outbound.EndpointInput{URL: "https://erp.example.com/", Events: []string{"invoice.paid"}}, "events"},
		{"a long description", w.eps, outbound.EndpointInput{URL: "https://erp.example.com/", Description: strings.Repeat("x", 501)}, "description"},
		{"a private address", w.eps, outbound.EndpointInput{URL: "https://10.0.0.5/hook"}, "url"},
		{"the metadata address", w.eps, outbound.EndpointInput{URL: "https://169.254.169.254/latest"}, "url"},
		{"loopback when deployed", strict, outbound.EndpointInput{URL: "https://127.0.0.1:8443/hook"}, "url"},
		{"a mapped private address", w.eps, outbound.EndpointInput{URL: "https://[::ffff:192.168.1.1]/hook"}, "url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.svc.Register(w.ctx, tc.in)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Field != tc.field {
				t.Errorf("err = %v; want invalid %s", err, tc.field)
			}
		})
	}
	if all, _ := w.eps.List(w.ctx); len(all) != 0 {
		t.Errorf("%d endpoints stored", len(all))
	}
	if _, err := strict.Register(w.ctx, outbound.EndpointInput{URL: "https://erp.example.com/dunlin", Events: []string{"*"}}); err != nil {
		t.Errorf("https: %v", err)
	}
}

// deliveredTypes runs delivery and returns the types the receiver got,
// with their data.
func deliveredTypes(t *testing.T, w *world, r *receiver) map[string][]json.RawMessage {
	t.Helper()
	w.run()
	out := map[string][]json.RawMessage{}
	for _, rc := range r.all() {
		ev := rc.event(t)
		out[ev.Type] = append(out[ev.Type], ev.Data)
	}
	return out
}

// TestThePromiseCheckAndRescoringRaiseTheirEvents: a broken promise
// raises promise.broken; a grade that moves raises customer.grade_changed.
func TestThePromiseCheckAndRescoringRaiseTheirEvents(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := newReceiver(t, ok)
	w.register(r.URL, outbound.PromiseBroken, outbound.CustomerGradeChanged)
	c, inv := w.customerOwing(50000, "2026-11-01", "2026-12-20")
	if _, err := w.bill.Rescore(w.ctx, c.ID); err != nil { // the first grade: nothing to compare with
		t.Fatal(err)
	}
	amount := int64(50000)
	pr, err := w.bill.MakePromise(w.ctx, c.ID, billing.PromiseInput{Amount: &amount, PromisedOn: "2026-12-05", Channel: "phone"})
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Set(time.Date(2027, 2, 10, 9, 0, 0, 0, time.UTC)) // long overdue; the promise long broken
	if got, err := w.bill.CheckPromise(w.ctx, c.ID, pr.ID, civil.Today(w.clock.Now(), time.UTC)); err != nil || got.State != billing.PromiseBroken {
		t.Fatalf("check: %+v %v", got, err)
	}
	if _, err := w.bill.Rescore(w.ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	got := deliveredTypes(t, w, r)
	if len(got[outbound.PromiseBroken]) != 1 || len(got[outbound.CustomerGradeChanged]) != 1 || len(got) != 2 {
		t.Fatalf("delivered %v; want one promise.broken and one customer.grade_changed", got)
	}
	var pb billing.PromiseBrokenData
	_ = json.Unmarshal(got[outbound.PromiseBroken][0], &pb)
	if pb.Promise.ID != pr.ID || pb.Promise.Amount != 50000 || pb.Promise.Currency != "EUR" || pb.Promise.PromisedOn != "2026-12-05" ||
		len(pb.Promise.InvoiceIDs) != 1 || pb.Promise.InvoiceIDs[0] != inv.ID || pb.Received != 0 {
		t.Errorf("promise.broken data %s", got[outbound.PromiseBroken][0])
	}
	var gc billing.GradeChangedData
	_ = json.Unmarshal(got[outbound.CustomerGradeChanged][0], &gc)
	if gc.Customer.ID != c.ID || gc.Customer.ExternalID != "C-100" || gc.PreviousGrade == "" || gc.Grade == gc.PreviousGrade || gc.AsOf != "2027-02-10" {
		t.Errorf("customer.grade_changed data %s", got[outbound.CustomerGradeChanged][0])
	}
}

// TestTheSweepRaisesEmailSentAndOverdueOnce: the sweep's first overdue
// email raises dunning.email_sent and invoice.overdue; the next step's
// email raises dunning.email_sent only.
func TestTheSweepRaisesEmailSentAndOverdueOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := newReceiver(t, ok)
	w.register(r.URL, outbound.DunningEmailSent, outbound.InvoiceOverdue)
	ses := testenv.SESEndpoint(t)
	client := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(ses), Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	win := dunning.DefaultWindow()
	win.StartHour, win.EndHour, win.Weekdays = 0, 24, []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	sw := sweep.New(w.store, &mailer.SES{Client: client}, sweep.Settings{FirmName: "Test Firm", FirmTimezone: "UTC", From: "ar@firm.example",
		CollectionsEmail: "collections@firm.example", Window: win, Shards: store.QueueShards, Clock: w.clock.Now, Books: w.bill},
		slog.New(slog.DiscardHandler))
	c, inv := w.customerOwing(10000, "2026-11-01", "2026-12-01")
	sweepOn := func(day string) {
		t.Helper()
		at, _ := time.Parse(time.DateOnly, day)
		w.clock.Set(at.Add(10 * time.Hour))
		if sum, err := sw.Run(w.ctx, w.clock.Now()); err != nil || sum.Sent != 1 {
			t.Fatalf("sweep on %s: %+v %v; want one email", day, sum, err)
		}
	}
	sweepOn("2026-12-02") // the "overdue" step, due+1
	first := deliveredTypes(t, w, r)
	if len(first[outbound.DunningEmailSent]) != 1 || len(first[outbound.InvoiceOverdue]) != 1 {
		t.Fatalf("after the first overdue email: %v", first)
	}
	var od billing.InvoiceOverdueData
	_ = json.Unmarshal(first[outbound.InvoiceOverdue][0], &od)
	if od.Invoice.ID != inv.ID || od.Invoice.DueOn != "2026-12-01" || od.DaysOverdue != 1 || od.Invoice.Balance != 10000 || od.Invoice.Currency != "EUR" {
		t.Errorf("invoice.overdue data %s", first[outbound.InvoiceOverdue][0])
	}
	var es sweep.EmailSentData
	_ = json.Unmarshal(first[outbound.DunningEmailSent][0], &es)
	if es.Customer.ID != c.ID || es.Email.MessageID == "" || es.Email.Day != "2026-12-02" || len(es.Invoices) != 1 || es.Invoices[0].Step != "overdue" || es.Invoices[0].ID != inv.ID {
		t.Errorf("dunning.email_sent data %s", first[outbound.DunningEmailSent][0])
	}
	sweepOn("2026-12-08") // the "second" step
	second := deliveredTypes(t, w, r)
	if len(second[outbound.DunningEmailSent]) != 2 || len(second[outbound.InvoiceOverdue]) != 1 {
		t.Errorf("after the second email: %d email_sent, %d overdue; want 2 and still 1", len(second[outbound.DunningEmailSent]), len(second[outbound.InvoiceOverdue]))
	}
}

// TestANameThatResolvesInsideIsNotDialled: a host name passes
// registration, but where it resolves to a loopback address (as localhost
// does) a deployed runner refuses to dial it, and the log says why.
func TestANameThatResolvesInsideIsNotDialled(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	inside := newReceiver(t, ok)
	_, port, _ := strings.Cut(strings.TrimPrefix(inside.URL, "http://"), ":")
	strict := outbound.NewService(w.store, w.clock.Now)
	e, err := strict.Register(w.ctx, outbound.EndpointInput{URL: "https://localhost:" + port + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := w.customerOwing(10000, "2026-11-01", "2026-12-01")
	w.pay(c, 4000)
	w.runner.AllowLoopback = false
	if sum := w.run(); sum.Attempted != 1 || sum.Delivered != 0 {
		t.Fatalf("summary %+v; want one attempt, refused", sum)
	}
	if n := len(inside.all()); n != 0 {
		t.Errorf("the receiver inside got %d requests", n)
	}
	log, err := w.eps.Deliveries(w.ctx, e.ID, 10)
	if err != nil || len(log) != 1 || len(log[0].Log) != 1 || !strings.Contains(log[0].Log[0].Error, "not a public address") {
		t.Errorf("delivery log %+v %v; want the refusal", log, err)
	}
}

// TestATestDeliveryIsSignedAndItsOutcomeKept: a test delivery goes at
// once, signed like any other, with type endpoint.test; its outcome, good
// or bad, is kept on the endpoint, and nothing enters the delivery queue.
func TestATestDeliveryIsSignedAndItsOutcomeKept(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	rcv := newReceiver(t, func(n int) int {
		if n == 1 {
			return http.StatusNoContent
		}
		return http.StatusInternalServerError
	})
	e := w.register(rcv.URL, outbound.PaymentApplied)
	tested, err := w.eps.Test(w.ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := rcv.all()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	if err := outbound.Verify(e.Secret, got[0].header.Get(outbound.SignatureHeader), got[0].body, w.clock.Now(), 5*time.Minute); err != nil {
		t.Errorf("the test delivery's signature: %v", err)
	}
	ev := got[0].event(t)
	if ev.Type != outbound.TestEvent || got[0].header.Get(outbound.EventTypeHeader) != outbound.TestEvent || !strings.Contains(string(ev.Data), e.ID) {
		t.Errorf("test event %+v", ev)
	}
	if lt := tested.LastTest; lt == nil || lt.Error != "" || lt.StatusCode != http.StatusNoContent || lt.EventID != ev.ID {
		t.Errorf("last test %+v", lt)
	}
	again, err := w.eps.Test(w.ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if lt := again.LastTest; lt.StatusCode != 500 || lt.Error == "" {
		t.Errorf("a refused test: %+v", lt)
	}
	if kept, _ := w.eps.Get(w.ctx, e.ID); kept.LastTest == nil || kept.LastTest.StatusCode != 500 || kept.Version != e.Version+2 {
		t.Errorf("stored endpoint %+v", kept)
	}
	if sum := w.run(); sum != (outbound.Summary{}) {
		t.Errorf("a test left work for the delivery run: %+v", sum)
	}
	if _, err := w.eps.Test(w.ctx, "end_01JD0Q5M2W8T4B6X9C3N7R1HZK"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("an unknown endpoint: %v", err)
	}
}
