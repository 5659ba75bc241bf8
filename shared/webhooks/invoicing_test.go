package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// Events built from Stripe's published fixture objects
// (testdata/stripe/fixtures3.json, see its README): each scenario sets
// the fields it is about and keeps the rest as Stripe wrote them.

var (
	fixturesOnce sync.Once
	fixtureData  map[string]json.RawMessage
)

// fixture returns Stripe's fixture object of a kind with the fields in
// set changed (a nil value removes the field).
func fixture(t testing.TB, kind string, set map[string]any) map[string]any {
	t.Helper()
	fixturesOnce.Do(func() {
		b, err := os.ReadFile("../../testdata/stripe/fixtures3.json")
		if err == nil {
			err = json.Unmarshal(b, &fixtureData)
		}
		if err != nil {
			panic(err)
		}
	})
	var obj map[string]any
	if err := json.Unmarshal(fixtureData[kind], &obj); err != nil || obj == nil {
		t.Fatalf("fixture %s: %v", kind, err)
	}
	for k, v := range set {
		if v == nil {
			delete(obj, k)
		} else {
			obj[k] = v
		}
	}
	return obj
}

// The API versions the tests deliver events in.
const (
	versionNow   = "2026-03-25.dahlia"
	versionBasil = "2025-03-31.basil"
	version2024  = "2024-06-20"
	version2022  = "2022-11-15"
	version2020  = "2020-08-27"
)

// fixtureEvent wraps an object in an event of an API version, as Stripe
// sends it.
func fixtureEvent(t testing.TB, id, typ, version string, obj map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": version, "created": paidAt,
		"type": typ, "livemode": false, "pending_webhooks": 1, "request": map[string]any{"id": nil, "idempotency_key": nil},
		"data": map[string]any{"object": obj}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var paidAt = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC).Unix()

// invoicing is a Stripe Invoicing payment: a Dunlin customer whose
// external_id is the Stripe customer, an older open invoice (70.00) and a
// newer one (120.00); a Stripe invoice whose metadata names the newer one,
// paid by one PaymentIntent (120.00); then part refunded (30.00) and a
// dispute (20.00) opened and lost.
type invoicing struct {
	r              *rig
	tag            string
	customer       *billing.Customer
	older, newer   *billing.Invoice
	pi, inv, ip    []byte // payment_intent.succeeded, invoice.paid, invoice_payment.paid
	after          [][]byte
	piID, inID, ch string
}

func newInvoicing(t *testing.T, r *rig, tag string) *invoicing {
	t.Helper()
	s := &invoicing{r: r, tag: tag, piID: "pi_3" + tag, inID: "in_1" + tag, ch: "ch_3" + tag}
	cus := "cus_" + tag
	s.customer = r.customer("Inv"+tag, cus)
	total := func(n int64) *int64 { return &n }
	var err error
	ctx := context.Background()
	if s.older, err = r.billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: s.customer.ID, Total: total(7000), Number: "O-" + tag, IssuedOn: "2026-09-01", DueOn: "2026-10-01"}); err != nil {
		t.Fatal(err)
	}
	if s.newer, err = r.billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: s.customer.ID, Total: total(12000), Number: "N-" + tag, IssuedOn: "2026-10-01", DueOn: "2026-10-31"}); err != nil {
		t.Fatal(err)
	}
	// An Invoicing PaymentIntent names the customer only (no invoice, no
	// metadata), as in every API version since basil.
	s.pi = fixtureEvent(t, "evt_pi_"+tag, "payment_intent.succeeded", versionNow, fixture(t, "payment_intent", map[string]any{
		"id": s.piID, "amount": 12000, "amount_received": 12000, "currency": "eur", "customer": cus, "status": "succeeded",
		"latest_charge": s.ch, "created": paidAt - 60, "canceled_at": nil, "last_payment_error": nil, "next_action": nil,
		"description": "Payment for Invoice"}))
	// invoice.paid in the current versions: no payments list, no payment_intent.
	s.inv = fixtureEvent(t, "evt_in_"+tag, "invoice.paid", versionNow, fixture(t, "invoice", map[string]any{
		"id": s.inID, "customer": cus, "currency": "eur", "amount_due": 12000, "amount_paid": 12000, "amount_remaining": 0,
		"total": 12000, "subtotal": 12000, "status": "paid", "number": "STR-" + tag, "collection_method": "send_invoice",
		"metadata":           map[string]any{"dunlin_invoice_id": s.newer.ID},
		"status_transitions": map[string]any{"finalized_at": paidAt - 86400, "paid_at": paidAt, "marked_uncollectible_at": nil, "voided_at": nil}}))
	s.ip = fixtureEvent(t, "evt_ip_"+tag, "invoice_payment.paid", versionNow, fixture(t, "invoice_payment", map[string]any{
		"id": "inpay_1" + tag, "invoice": s.inID, "amount_paid": 12000, "amount_requested": 12000, "currency": "eur", "status": "paid",
		"payment":            map[string]any{"type": "payment_intent", "payment_intent": s.piID},
		"status_transitions": map[string]any{"paid_at": paidAt, "canceled_at": nil}}))
	dispute := func(status string) map[string]any {
		return fixture(t, "dispute", map[string]any{"id": "dp_1" + tag, "amount": 2000, "currency": "eur", "charge": s.ch,
			"payment_intent": s.piID, "status": status, "reason": "fraudulent"})
	}
	s.after = [][]byte{
		fixtureEvent(t, "evt_ref_"+tag, "charge.refunded", versionNow, fixture(t, "charge", map[string]any{
			"id": s.ch, "amount": 12000, "amount_captured": 12000, "amount_refunded": 3000, "captured": true, "refunded": false,
			"currency": "eur", "customer": cus, "payment_intent": s.piID})),
		fixtureEvent(t, "evt_dpc_"+tag, "charge.dispute.created", versionNow, dispute("needs_response")),
		fixtureEvent(t, "evt_dpl_"+tag, "charge.dispute.closed", versionNow, dispute("lost")),
	}
	return s
}

// send delivers one event copies times at once, retrying a 503 as Stripe would.
func (s *invoicing) send(t *testing.T, ev []byte, copies int) {
	t.Helper()
	var wg sync.WaitGroup
	for range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for attempt := 0; ; attempt++ {
				code := s.r.deliverStripe(ev)
				if code == 200 {
					return
				}
				if code != 503 || attempt > 30 {
					t.Errorf("%s: delivery = %d", s.tag, code)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// books describes what the firm sees: both invoices, the payment every
// Stripe id leads to, the customer's credit and payments, and the open
// conflict alerts.
func (s *invoicing) books(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, inv := range []*billing.Invoice{s.older, s.newer} {
		got := s.r.getInvoice(inv.ID)
		fmt.Fprintf(&b, "%s: balance %d, %s, paid %d\n", inv.Number[:1], got.Balance, got.State, got.Paid)
	}
	names := map[string]string{s.older.ID: "O", s.newer.ID: "N"}
	var one string
	for _, ref := range []string{s.piID, s.inID} {
		p, ok := s.r.paymentByRef("stripe", ref)
		if !ok {
			fmt.Fprintf(&b, "%s: no payment\n", ref)
			continue
		}
		if one == "" {
			one = p.ID
			var allocs []string
			for _, a := range p.Allocations {
				allocs = append(allocs, fmt.Sprintf("%s:%d", names[a.InvoiceID], a.Amount))
			}
			fmt.Fprintf(&b, "payment: %d received, %d refunded, %d charged back, %d unapplied, on %v\n", p.Amount, p.Refunded, p.ChargedBack, p.Unapplied, allocs)
		} else if p.ID != one {
			fmt.Fprintf(&b, "%s is another payment: %d on %v\n", ref, p.Amount, p.Allocations)
		}
	}
	page, err := s.r.billing.ListPayments(ctx, billing.PaymentRange{CustomerID: s.customer.ID, PageSize: 10}, 10)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := s.r.store.GetAccount(ctx, s.customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.r.billing.GetCustomer(ctx, s.customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := s.r.billing.ListAlerts(ctx, "", s.customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	var conflicts int
	for _, a := range alerts {
		if a.Kind == billing.AlertProviderPayment {
			conflicts++
		}
	}
	fmt.Fprintf(&b, "customer: %d payments, credit %d, paused %v, %d conflict alerts", len(page.Items), acct.Credit["EUR"], c.PausedOn(civil.MustParse("2026-11-23")), conflicts)
	return b.String()
}

const invoicingBooks = `O: balance 7000, open, paid 0
N: balance 5000, open, paid 7000
payment: 12000 received, 3000 refunded, 2000 charged back, 0 unapplied, on [N:7000]
customer: 1 payments, credit 0, paused false, 0 conflict alerts`

// Whatever the order of Stripe's three events about one Invoicing
// payment, and however many copies of each arrive at once, the money is
// booked once, on the invoice the Stripe invoice names; the refund and
// the lost dispute that follow reach that invoice.
func TestStripeInvoicingInAnyOrderBooksTheMoneyOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rng := rand.New(rand.NewPCG(17, 3))
	type run struct {
		name   string
		order  []int // 0 payment_intent, 1 invoice, 2 invoice_payment
		copies []int
	}
	var runs []run
	for _, order := range permutations(3) {
		for k := range 3 {
			copies := []int{1 + rng.IntN(3), 1 + rng.IntN(3), 1 + rng.IntN(3)}
			if k == 0 {
				copies = []int{1, 1, 1}
			}
			runs = append(runs, run{fmt.Sprint(order, copies), order, copies})
		}
	}
	// Subscribed to the Invoicing events only, as the README advises.
	runs = append(runs, run{"invoicing only, link first", []int{2, 1}, []int{1, 2}}, run{"invoicing only, invoice first", []int{1, 2}, []int{2, 1}})
	var wg sync.WaitGroup
	for n, rn := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newInvoicing(t, r, fmt.Sprintf("ord%02d", n))
			events := [][]byte{s.pi, s.inv, s.ip}
			for k, i := range rn.order {
				s.send(t, events[i], rn.copies[k])
			}
			for k, ev := range s.after {
				s.send(t, ev, 1+(n+k)%2)
			}
			if got := s.books(t); got != invoicingBooks {
				t.Errorf("%s:\n got %s\nwant %s", rn.name, got, invoicingBooks)
			}
		}()
	}
	wg.Wait()
}

// Two of the events at the same moment, in every pair, many times: the
// books still end as one payment on the named invoice.
func TestStripeInvoicingEventsAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var wg sync.WaitGroup
	for n := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newInvoicing(t, r, fmt.Sprintf("once%02d", n))
			events := [][]byte{s.pi, s.inv, s.ip}
			var all sync.WaitGroup
			for i := range events {
				all.Add(1)
				go func() { defer all.Done(); s.send(t, events[i], 1+n%2) }()
			}
			all.Wait()
			for _, ev := range s.after {
				s.send(t, ev, 1)
			}
			if got := s.books(t); got != invoicingBooks {
				t.Errorf("run %d:\n got %s\nwant %s", n, got, invoicingBooks)
			}
		}()
	}
	wg.Wait()
}

// Two ids Stripe links, booked apart with different amounts, cannot be
// one payment: nothing is merged, and an alert names both Stripe ids.
func TestLinkedPaymentsThatDisagreeRaiseAnAlert(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	s := newInvoicing(t, r, "apart")
	s.send(t, s.pi, 1)
	// The Stripe invoice reports a different amount paid (a second
	// PaymentIntent paid the rest, say).
	s.send(t, fixtureEvent(t, "evt_in_apart2", "invoice.paid", versionNow, fixture(t, "invoice", map[string]any{
		"id": s.inID, "customer": "cus_apart", "currency": "eur", "amount_paid": 5000, "status": "paid",
		"metadata": map[string]any{"dunlin_invoice_id": s.newer.ID}, "status_transitions": map[string]any{"paid_at": paidAt}})), 1)
	s.send(t, s.ip, 1)
	alerts, err := r.billing.ListAlerts(context.Background(), "", s.customer.ID)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range alerts {
		if a.Kind == billing.AlertProviderPayment && strings.Contains(a.Message, s.piID) && strings.Contains(a.Message, s.inID) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no alert names %s and %s: %+v", s.piID, s.inID, alerts)
	}
	byPI, _ := r.paymentByRef("stripe", s.piID)
	byInv, _ := r.paymentByRef("stripe", s.inID)
	if byPI == nil || byInv == nil || byPI.ID == byInv.ID || byPI.Amount != 12000 || byInv.Amount != 5000 {
		t.Errorf("the two payments were merged or lost: %+v %+v", byPI, byInv)
	}
}
