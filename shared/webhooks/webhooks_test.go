package webhooks_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/secrets"
	"dunlin/shared/store"
	"dunlin/shared/testenv"
	"dunlin/shared/webhooks"
)

const (
	stripeSecret  = "whsec_test_current"
	oldSecret     = "whsec_test_previous"
	genericSecret = "generic_test_secret"
)

type rig struct {
	t       *testing.T
	store   *store.Store
	billing *billing.Service
	handler http.Handler
}

// newRig wires the webhooks handler on its own table, with a billing
// clock fixed at 2026-11-23 10:00 UTC.
func newRig(t *testing.T, stripeSecrets ...string) *rig {
	t.Helper()
	if len(stripeSecrets) == 0 {
		stripeSecrets = []string{stripeSecret}
	}
	st := testenv.NewStore(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "Europe/London", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	bill.SetIndexLag(0) // DynamoDB Local's indexes are never behind
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := webhooks.New(bill, secrets.Static(stripeSecrets), secrets.Static{genericSecret}, log)
	return &rig{t: t, store: st, billing: bill, handler: h}
}

func (r *rig) customer(name, externalID string) *billing.Customer {
	r.t.Helper()
	c, err := r.billing.CreateCustomer(context.Background(), billing.CustomerCreate{Name: name, Email: "ap@" + strings.ToLower(name) + ".example", Currency: "EUR", ExternalID: externalID})
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *rig) invoice(c *billing.Customer, total int64, number, externalID string) *billing.Invoice {
	r.t.Helper()
	inv, err := r.billing.CreateInvoice(context.Background(), billing.InvoiceCreate{CustomerID: c.ID, Total: &total, Number: number, ExternalID: externalID, IssuedOn: "2026-10-01", DueOn: "2026-10-31"})
	if err != nil {
		r.t.Fatal(err)
	}
	return inv
}

func (r *rig) getInvoice(id string) *billing.Invoice {
	r.t.Helper()
	inv, err := r.billing.GetInvoice(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return inv
}

// post delivers a webhook and returns the status.
func (r *rig) post(path string, body []byte, header, value string) int {
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if header != "" {
		req.Header.Set(header, value)
	}
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return rec.Code
}

// stripeEvent builds a Stripe event around obj with stripe-go's own types.
func stripeEvent(t testing.TB, id string, typ stripe.EventType, obj any) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	// Created on the rig's yesterday: a payment is never received after "today".
	b, err := json.Marshal(stripe.Event{ID: id, Object: "event", Type: typ, Created: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).Unix(),
		APIVersion: stripe.APIVersion, Data: &stripe.EventData{Raw: raw}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signed signs a payload with stripe-go's test helper.
func signed(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

func (r *rig) deliverStripe(payload []byte) int {
	return r.post("/v1/webhooks/stripe", payload, "Stripe-Signature", signed(payload, stripeSecret, time.Now()))
}

func paymentIntent(id string, amount int64, meta map[string]string, customer string) *stripe.PaymentIntent {
	pi := &stripe.PaymentIntent{ID: id, Object: "payment_intent", Amount: amount, AmountReceived: amount, Currency: "eur",
		Status: stripe.PaymentIntentStatusSucceeded, Metadata: meta, Created: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC).Unix()}
	if customer != "" {
		pi.Customer = &stripe.Customer{ID: customer}
	}
	return pi
}

func (r *rig) paymentByRef(provider, ref string) (*billing.Payment, bool) {
	r.t.Helper()
	p, err := r.store.GetPaymentByRef(context.Background(), provider, ref)
	if apperr.Is(err, apperr.NotFound) {
		return nil, false
	}
	if err != nil {
		r.t.Fatal(err)
	}
	return p, true
}

// Only a delivery whose signature checks out may write anything.
func TestStripeSignatures(t *testing.T) {
	t.Parallel()
	r := newRig(t, stripeSecret, oldSecret)
	c := r.customer("Acme", "")
	inv := r.invoice(c, 100000, "S-1", "")
	now := time.Now()
	build := func(ref string) []byte {
		return stripeEvent(t, "evt_"+ref, "payment_intent.succeeded", paymentIntent(ref, 100, map[string]string{"dunlin_invoice_id": inv.ID}, ""))
	}
	reserialised := func(p []byte) []byte {
		var v map[string]any
		if err := json.Unmarshal(p, &v); err != nil {
			t.Fatal(err)
		}
		out, _ := json.MarshalIndent(v, "", "  ") // same meaning, other bytes
		return out
	}
	oneByte := func(p []byte) []byte {
		out := bytes.Clone(p)
		i := bytes.Index(out, []byte(`"amount":100`))
		out[i+len(`"amount":10`)] = '1' // 100 becomes 101
		return out
	}
	twoSignatures := func(p []byte, at time.Time) string {
		// Stripe signs with both secrets while one is being rolled.
		return fmt.Sprintf("t=%d,v1=%s,v1=%s", at.Unix(),
			hex.EncodeToString(webhook.ComputeSignature(at, p, "whsec_not_ours")), hex.EncodeToString(webhook.ComputeSignature(at, p, stripeSecret)))
	}
	for _, tc := range []struct {
		name   string
		header func(p []byte) string
		alter  func(p []byte) []byte
		want   int
	}{
		{"valid", func(p []byte) string { return signed(p, stripeSecret, now) }, nil, 200},
		{"signed with the previous secret during rotation", func(p []byte) string { return signed(p, oldSecret, now) }, nil, 200},
		{"two signatures, one ours", func(p []byte) string { return twoSignatures(p, now) }, nil, 200},
		{"missing header", func([]byte) string { return "" }, nil, 400},
		{"wrong secret", func(p []byte) string { return signed(p, "whsec_wrong", now) }, nil, 400},
		{"one byte changed", func(p []byte) string { return signed(p, stripeSecret, now) }, oneByte, 400},
		{"re-serialised JSON", func(p []byte) string { return signed(p, stripeSecret, now) }, reserialised, 400},
		{"stale timestamp", func(p []byte) string { return signed(p, stripeSecret, now.Add(-6*time.Minute)) }, nil, 400},
		{"timestamp from the future", func(p []byte) string { return signed(p, stripeSecret, now.Add(6*time.Minute)) }, nil, 400},
		{"garbage header", func([]byte) string { return "t=abc,v1=zz" }, nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := "pi_sig_" + strings.ReplaceAll(tc.name, " ", "_")
			payload := build(ref)
			header := tc.header(payload)
			if tc.alter != nil {
				payload = tc.alter(payload)
			}
			if got := r.post("/v1/webhooks/stripe", payload, "Stripe-Signature", header); got != tc.want {
				t.Fatalf("status = %d, want %d", got, tc.want)
			}
			_, stored := r.paymentByRef("stripe", ref)
			if stored != (tc.want == 200) {
				t.Errorf("payment stored = %v after a %d", stored, tc.want)
			}
		})
	}
	// Three valid deliveries of 100 each, nothing else.
	if got := r.getInvoice(inv.ID).Balance; got != 100000-300 {
		t.Errorf("balance = %d, want %d", got, 100000-300)
	}
}

func TestUnknownStripeEventsAreAcknowledgedAndIgnored(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, payload := range [][]byte{
		stripeEvent(t, "evt_unknown", "customer.created", &stripe.Customer{ID: "cus_X", Object: "customer"}),
		// A zero invoice (a trial, a 100% coupon) moves no money.
		stripeEvent(t, "evt_zero", "invoice.paid", &stripe.Invoice{ID: "in_zero", Object: "invoice", AmountPaid: 0, Currency: "eur"}),
	} {
		if got := r.deliverStripe(payload); got != 200 {
			t.Errorf("status = %d", got)
		}
	}
	page, err := r.billing.ListPayments(context.Background(), billing.PaymentRange{}, 10)
	if err != nil || len(page.Items) != 0 {
		t.Errorf("payments after an ignored event: %d (%v)", len(page.Items), err)
	}
}

// books is what a test compares: balances and payments, by the names the
// scenario gave them, not by generated ids.
type books struct {
	Invoices map[string]string
	Payments map[string]string
	Credit   int64
	Paused   bool
}

// sequence is one customer's five Stripe events:
//
//	1 payment_intent.succeeded: 300.00 for invoice A (metadata dunlin_invoice_id)
//	2 invoice.paid: Stripe invoice in_B (invoice B's external id) paid 200.00 by pi_B
//	3 charge.refunded: 50.00 of pi_A refunded
//	4 charge.dispute.created: dispute on pi_B's charge (dunning pauses)
//	5 charge.dispute.closed: the dispute is lost (200.00 taken back)
//
// In that order the books end with A owing 250.00 (500 - 300 + 50), B
// owing 200.00 again, no credit, and dunning running.
type sequence struct {
	r        *rig
	tag      string
	customer *billing.Customer
	a, b     *billing.Invoice
	events   [][]byte
}

func newSequence(t *testing.T, r *rig, tag string) *sequence {
	s := &sequence{r: r, tag: tag}
	s.customer = r.customer("Seq"+tag, "cus_stripe_"+tag)
	s.a = r.invoice(s.customer, 50000, "A-"+tag, "")
	s.b = r.invoice(s.customer, 20000, "B-"+tag, "in_B_"+tag)
	piA, piB, chA, chB := "pi_A_"+tag, "pi_B_"+tag, "ch_A_"+tag, "ch_B_"+tag
	stripeInv := &stripe.Invoice{ID: "in_B_" + tag, Object: "invoice", AmountPaid: 20000, Currency: "eur", Status: stripe.InvoiceStatusPaid,
		Customer: &stripe.Customer{ID: "cus_stripe_" + tag}, StatusTransitions: &stripe.InvoiceStatusTransitions{PaidAt: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).Unix()},
		Payments: &stripe.InvoicePaymentList{Data: []*stripe.InvoicePayment{{ID: "inpay_" + tag, Payment: &stripe.InvoicePaymentPayment{
			Type: "payment_intent", PaymentIntent: &stripe.PaymentIntent{ID: piB}}}}}}
	dispute := func(status stripe.DisputeStatus) *stripe.Dispute {
		return &stripe.Dispute{ID: "dp_" + tag, Object: "dispute", Amount: 20000, Currency: "eur", Status: status,
			Charge: &stripe.Charge{ID: chB}, PaymentIntent: &stripe.PaymentIntent{ID: piB}, Reason: stripe.DisputeReasonFraudulent}
	}
	s.events = [][]byte{
		stripeEvent(t, "evt_1_"+tag, "payment_intent.succeeded", paymentIntent(piA, 30000, map[string]string{"dunlin_invoice_id": s.a.ID}, "cus_stripe_"+tag)),
		stripeEvent(t, "evt_2_"+tag, "invoice.paid", stripeInv),
		stripeEvent(t, "evt_3_"+tag, "charge.refunded", &stripe.Charge{ID: chA, Object: "charge", Amount: 30000, AmountRefunded: 5000, Currency: "eur",
			PaymentIntent: &stripe.PaymentIntent{ID: piA}, Refunded: false}),
		stripeEvent(t, "evt_4_"+tag, "charge.dispute.created", dispute(stripe.DisputeStatusNeedsResponse)),
		stripeEvent(t, "evt_5_"+tag, "charge.dispute.closed", dispute(stripe.DisputeStatusLost)),
	}
	return s
}

// deliver sends event i, copies times at once.
func (s *sequence) deliver(t *testing.T, i, copies int) {
	var wg sync.WaitGroup
	for range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A 503 (contention) is what a provider retries; retry as it would.
			for attempt := 0; ; attempt++ {
				code := s.r.deliverStripe(s.events[i])
				if code == 200 {
					return
				}
				if code != 503 || attempt > 20 {
					t.Errorf("event %d = %d", i+1, code)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func (s *sequence) books(t *testing.T) books {
	t.Helper()
	ctx := context.Background()
	b := books{Invoices: map[string]string{}, Payments: map[string]string{}}
	for name, id := range map[string]string{"A": s.a.ID, "B": s.b.ID} {
		inv := s.r.getInvoice(id)
		b.Invoices[name] = fmt.Sprintf("balance %d, %s, paid %d", inv.Balance, inv.State, inv.Paid)
	}
	names := map[string]string{s.a.ID: "A", s.b.ID: "B"}
	for name, ref := range map[string]string{"pi_A": "pi_A_" + s.tag, "pi_B": "pi_B_" + s.tag} {
		p, ok := s.r.paymentByRef("stripe", ref)
		if !ok {
			b.Payments[name] = "missing"
			continue
		}
		var allocs []string
		for _, a := range p.Allocations {
			allocs = append(allocs, fmt.Sprintf("%s:%d", names[a.InvoiceID], a.Amount))
		}
		b.Payments[name] = fmt.Sprintf("%d received, %d refunded, %d charged back, %d unapplied, on %v", p.Amount, p.Refunded, p.ChargedBack, p.Unapplied, allocs)
	}
	acct, err := s.r.store.GetAccount(ctx, s.customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.Credit = acct.Credit["EUR"]
	c, err := s.r.billing.GetCustomer(ctx, s.customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.Paused = c.PausedOn(civil.MustParse("2026-11-23"))
	return b
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// Every order of the five events, each delivered 1 to 5 times at once,
// ends in the same books as delivering them once, in order.
func TestStripeEventsInAnyOrderAndNumberEndInTheSameBooks(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	inOrder := newSequence(t, r, "inorder")
	for i := range inOrder.events {
		inOrder.deliver(t, i, 1)
	}
	want := inOrder.books(t)
	wantText := fmt.Sprintf("%+v", want)
	if wantText != fmt.Sprintf("%+v", books{
		Invoices: map[string]string{"A": "balance 25000, open, paid 25000", "B": "balance 20000, open, paid 0"},
		Payments: map[string]string{
			"pi_A": "30000 received, 5000 refunded, 0 charged back, 0 unapplied, on [A:25000]",
			"pi_B": "20000 received, 0 refunded, 20000 charged back, 0 unapplied, on []",
		},
	}) {
		t.Fatalf("in-order books are wrong: %s", wantText)
	}

	perms := permutations(5)
	if len(perms) != 120 {
		t.Fatalf("%d permutations", len(perms))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	type job struct {
		n      int
		order  []int
		copies []int
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				s := newSequence(t, r, fmt.Sprint(j.n))
				for k, i := range j.order {
					s.deliver(t, i, j.copies[k])
				}
				if got := fmt.Sprintf("%+v", s.books(t)); got != wantText {
					t.Errorf("order %v, copies %v:\n got %s\nwant %s", j.order, j.copies, got, wantText)
				}
			}
		}()
	}
	for n, order := range perms {
		copies := make([]int, 5)
		for i := range copies {
			copies[i] = 1 + rng.IntN(5)
		}
		jobs <- job{n, order, copies}
	}
	close(jobs)
	wg.Wait()
}

// While any dispute is open, dunning for the customer is paused; it
// resumes when the last one closes.
func TestOpenDisputesPauseDunningUntilTheLastCloses(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	s := newSequence(t, r, "pause")
	today := civil.MustParse("2026-11-23")
	paused := func() bool {
		c, err := r.billing.GetCustomer(context.Background(), s.customer.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.PausedOn(today)
	}
	for _, i := range []int{0, 1, 3} { // both payments, then a dispute on pi_B
		s.deliver(t, i, 1)
	}
	if !paused() {
		t.Fatal("an open dispute did not pause dunning")
	}
	disputeA := func(status stripe.DisputeStatus, n int) []byte {
		return stripeEvent(t, fmt.Sprintf("evt_dpA_%d", n), "charge.dispute.updated", &stripe.Dispute{ID: "dp_A_pause", Object: "dispute",
			Amount: 1000, Currency: "eur", Status: status, PaymentIntent: &stripe.PaymentIntent{ID: "pi_A_pause"}})
	}
	if code := r.deliverStripe(disputeA(stripe.DisputeStatusNeedsResponse, 1)); code != 200 {
		t.Fatal(code)
	}
	s.deliver(t, 4, 1) // pi_B's dispute is lost: closed
	if !paused() {
		t.Error("closing one dispute resumed dunning while another is open")
	}
	if inv := r.getInvoice(s.b.ID); inv.State != billing.StateOpen || inv.NextActionOn.IsZero() {
		t.Errorf("the lost dispute did not reopen B into the dunning queue: %s next %s", inv.State, inv.NextActionOn)
	}
	if code := r.deliverStripe(disputeA(stripe.DisputeStatusWon, 2)); code != 200 {
		t.Fatal(code)
	}
	if paused() {
		t.Error("dunning still paused after the last dispute closed")
	}
	if inv := r.getInvoice(s.a.ID); inv.Balance != 20000 {
		t.Errorf("a won dispute changed A's balance to %d", inv.Balance)
	}
}

func genericBody(t *testing.T, id, typ string, p webhooks.GenericPayment) []byte {
	t.Helper()
	b, err := json.Marshal(webhooks.GenericEvent{ID: id, Type: typ, Payment: p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (r *rig) deliverGeneric(body []byte) int {
	return r.post("/v1/webhooks/generic", body, webhooks.GenericSignatureHeader, signed(body, genericSecret, time.Now()))
}

func TestGenericWebhookMatchesTheInvoiceNumberInTheReference(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.customer("Bank", "")
	inv := r.invoice(c, 12000, "INV-000123", "")
	paid := genericBody(t, "bank-evt-1", webhooks.GenericSucceeded, webhooks.GenericPayment{ID: "txn-9", Amount: 12000, Currency: "eur", ReceivedOn: "2026-11-20", Reference: "INV-000123"})
	for range 3 {
		if got := r.deliverGeneric(paid); got != 200 {
			t.Fatalf("status = %d", got)
		}
	}
	if got := r.getInvoice(inv.ID); got.State != billing.StatePaid {
		t.Fatalf("invoice %s balance %d", got.State, got.Balance)
	}
	// The audit trail says the provider settled it, once, through its webhook.
	var settled []*audit.Record
	err := r.store.ListAudit(t.Context(), inv.ID, "", 100, func(rec *audit.Record, _ string) bool {
		if rec.Actor == "webhook:generic" {
			settled = append(settled, rec)
		}
		return true
	})
	if err != nil || len(settled) != 1 || settled[0].Via != "POST /v1/webhooks/generic" || settled[0].RequestID != "bank-evt-1" {
		t.Fatalf("audit of the webhook's payment: %v %+v", err, settled)
	}
	refund := genericBody(t, "bank-evt-2", webhooks.GenericRefunded, webhooks.GenericPayment{ID: "txn-9", Refunded: 2000})
	if got := r.deliverGeneric(refund); got != 200 {
		t.Fatalf("refund status = %d", got)
	}
	if got := r.getInvoice(inv.ID); got.State != billing.StateOpen || got.Balance != 2000 {
		t.Errorf("after refund: %s %d", got.State, got.Balance)
	}
	// Signed but invalid: refused, naming the field, nothing written.
	bad := genericBody(t, "bank-evt-3", webhooks.GenericSucceeded, webhooks.GenericPayment{ID: "txn-10", Amount: -5, Currency: "EUR", ReceivedOn: "2026-11-20"})
	if got := r.deliverGeneric(bad); got != 422 {
		t.Errorf("bad amount = %d", got)
	}
	if _, ok := r.paymentByRef("generic", "txn-10"); ok {
		t.Error("an invalid event wrote a payment")
	}
	// Unsigned: refused.
	if got := r.post("/v1/webhooks/generic", paid, "", ""); got != 400 {
		t.Errorf("unsigned = %d", got)
	}
}

// A payment nobody can be matched to is kept, listed, and allocated by the firm.
func TestUnmatchedWebhookPaymentIsKeptUntilTheFirmAllocatesIt(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.customer("Mystery", "")
	inv := r.invoice(c, 5000, "M-1", "")
	body := genericBody(t, "bank-evt-u", webhooks.GenericSucceeded, webhooks.GenericPayment{ID: "txn-u", Amount: 5000, Currency: "EUR", ReceivedOn: "2026-11-20", Reference: "thanks for the coffee"})
	if got := r.deliverGeneric(body); got != 200 {
		t.Fatalf("status = %d", got)
	}
	ctx := context.Background()
	page, err := r.billing.ListPayments(ctx, billing.PaymentRange{Unmatched: true}, 10)
	if err != nil || len(page.Items) != 1 || page.Items[0].Status() != billing.PaymentUnmatched || page.Items[0].Unapplied != 5000 {
		t.Fatalf("unmatched payments: %+v %v", page.Items, err)
	}
	if _, err := r.billing.Allocate(ctx, page.Items[0].ID, billing.AllocateInput{CustomerID: c.ID}); err != nil {
		t.Fatal(err)
	}
	if got := r.getInvoice(inv.ID); got.State != billing.StatePaid {
		t.Errorf("after allocating: %s %d", got.State, got.Balance)
	}
	page, _ = r.billing.ListPayments(ctx, billing.PaymentRange{Unmatched: true}, 10)
	if len(page.Items) != 0 {
		t.Errorf("still %d unmatched", len(page.Items))
	}
}

// Stripe Invoicing as webhooks deliver it today: invoice.paid carries no
// payments list, invoice_payment.paid links the invoice to the
// PaymentIntent that refunds and disputes name. Whatever the order (a
// refund seen before the link is merged in when the link arrives) and
// however many copies arrive at once, one payment holds both ids.
func TestInvoicePaymentLinksAStripeInvoiceToItsPaymentIntent(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	linkEvents := func(tag string) [][]byte {
		return [][]byte{
			stripeEvent(t, "evt_paid_"+tag, "invoice.paid", &stripe.Invoice{ID: "in_L_" + tag, Object: "invoice", AmountPaid: 20000, Currency: "eur", Status: "paid"}),
			stripeEvent(t, "evt_ip_"+tag, "invoice_payment.paid", &stripe.InvoicePayment{ID: "inpay_" + tag, Object: "invoice_payment", AmountPaid: 20000, Currency: "eur",
				Invoice: &stripe.Invoice{ID: "in_L_" + tag}, Payment: &stripe.InvoicePaymentPayment{Type: "payment_intent", PaymentIntent: &stripe.PaymentIntent{ID: "pi_L_" + tag}}}),
			stripeEvent(t, "evt_ref_"+tag, "charge.refunded", &stripe.Charge{ID: "ch_L_" + tag, Object: "charge", Amount: 20000, AmountRefunded: 7000, Currency: "eur",
				PaymentIntent: &stripe.PaymentIntent{ID: "pi_L_" + tag}}),
		}
	}
	deliverAll := func(batch [][]byte, copies int) {
		var wg sync.WaitGroup
		for _, ev := range batch {
			for range copies {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for attempt := 0; ; attempt++ {
						code := r.deliverStripe(ev)
						if code == 200 || code != 503 || attempt > 20 {
							if code != 200 {
								t.Errorf("delivery = %d", code)
							}
							return
						}
					}
				}()
			}
		}
		wg.Wait()
	}
	check := func(what, tag string, inv *billing.Invoice) {
		t.Helper()
		byPI, ok1 := r.paymentByRef("stripe", "pi_L_"+tag)
		byInvoice, ok2 := r.paymentByRef("stripe", "in_L_"+tag)
		if !ok1 || !ok2 || byPI.ID != byInvoice.ID {
			t.Errorf("%s: the two ids are not one payment (%v %v)", what, ok1, ok2)
			return
		}
		if got := r.getInvoice(inv.ID); got.State != billing.StateOpen || got.Balance != 7000 || byPI.Refunded != 7000 || byPI.Amount != 20000 {
			t.Errorf("%s: invoice %s %d, payment %d refunded %d", what, got.State, got.Balance, byPI.Amount, byPI.Refunded)
		}
		if acct, _ := r.store.GetAccount(context.Background(), inv.CustomerID); acct.Credit["EUR"] != 0 {
			t.Errorf("%s: %d of credit appeared", what, acct.Credit["EUR"])
		}
	}
	for n, order := range permutations(3) {
		tag := fmt.Sprint("link", n)
		inv := r.invoice(r.customer("Link"+tag, ""), 20000, "L-"+tag, "in_L_"+tag)
		events := linkEvents(tag)
		for _, i := range order {
			deliverAll([][]byte{events[i]}, 1+n%3)
		}
		check(fmt.Sprint("order ", order), tag, inv)
	}
	// The two success events at the same moment, again and again.
	for n := range 15 {
		tag := fmt.Sprint("race", n)
		inv := r.invoice(r.customer("Race"+tag, ""), 20000, "R-"+tag, "in_L_"+tag)
		events := linkEvents(tag)
		deliverAll(events[:2], 2)
		deliverAll(events[2:], 1)
		check(fmt.Sprint("race ", n), tag, inv)
	}
}

// A refund the firm books through the API (money returned outside the
// provider) and one the provider reports are two refunds, not one.
func TestProviderRefundsAreCountedApartFromRefundsBookedByHand(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.customer("Apart", "")
	inv := r.invoice(c, 12000, "AP-1", "")
	paid := genericBody(t, "ap-1", webhooks.GenericSucceeded, webhooks.GenericPayment{ID: "txn-ap", Amount: 12000, Currency: "EUR", ReceivedOn: "2026-11-20", Reference: "AP-1"})
	if got := r.deliverGeneric(paid); got != 200 {
		t.Fatal(got)
	}
	p, _ := r.paymentByRef("generic", "txn-ap")
	byHand := int64(3000)
	if _, err := r.billing.Reverse(context.Background(), p.ID, billing.ReversalInput{Amount: &byHand, Reason: "bank transfer back"}); err != nil {
		t.Fatal(err)
	}
	for i, total := range []int64{2000, 2000, 1500} { // repeated and stale reports change nothing
		body := genericBody(t, fmt.Sprint("ap-ref-", i), webhooks.GenericRefunded, webhooks.GenericPayment{ID: "txn-ap", Refunded: total})
		if got := r.deliverGeneric(body); got != 200 {
			t.Fatal(got)
		}
	}
	p, _ = r.paymentByRef("generic", "txn-ap")
	if got := r.getInvoice(inv.ID); got.Balance != 5000 || p.Refunded != 5000 {
		t.Errorf("balance %d, refunded %d; want 5000 and 5000", got.Balance, p.Refunded)
	}
}

// A person who resumes dunning during a dispute is not overruled by later
// events about that dispute; a new dispute pauses again.
func TestResumingDuringADisputeSticks(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	s := newSequence(t, r, "resume")
	for _, i := range []int{1, 3} { // B paid by pi_B, then a dispute on it
		s.deliver(t, i, 1)
	}
	ctx := context.Background()
	today := civil.MustParse("2026-11-23")
	paused := func() bool {
		c, err := r.billing.GetCustomer(ctx, s.customer.ID)
		if err != nil {
			t.Fatal(err)
		}
		return c.PausedOn(today)
	}
	if !paused() {
		t.Fatal("the dispute did not pause dunning")
	}
	if _, err := r.billing.ResumeCustomer(ctx, s.customer.ID); err != nil {
		t.Fatal(err)
	}
	refund := stripeEvent(t, "evt_resume_refund", "charge.refunded", &stripe.Charge{ID: "ch_B_resume", Object: "charge", Amount: 20000, AmountRefunded: 100,
		Currency: "eur", PaymentIntent: &stripe.PaymentIntent{ID: "pi_B_resume"}})
	if code := r.deliverStripe(refund); code != 200 {
		t.Fatal(code)
	}
	if paused() {
		t.Error("a later event about the released dispute paused dunning again")
	}
	second := stripeEvent(t, "evt_resume_dp2", "charge.dispute.created", &stripe.Dispute{ID: "dp_2_resume", Object: "dispute", Amount: 500, Currency: "eur",
		Status: stripe.DisputeStatusNeedsResponse, PaymentIntent: &stripe.PaymentIntent{ID: "pi_B_resume"}})
	if code := r.deliverStripe(second); code != 200 {
		t.Fatal(code)
	}
	if !paused() {
		t.Error("a new dispute did not pause dunning")
	}
}
