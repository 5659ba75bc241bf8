package webhooks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/secrets"
	"dunlin/shared/webhooks"
)

// deliveries collects what a handler reports, one entry per delivery.
type deliveries struct {
	mu  sync.Mutex
	got []webhooks.Delivery
}

func (d *deliveries) observe(_ context.Context, x webhooks.Delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got = append(d.got, x)
}

// take returns what was reported since the last take.
func (d *deliveries) take() []webhooks.Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.got
	d.got = nil
	return out
}

// TestEveryDeliveryIsReportedOnceWithABoundedType: each delivery the
// handler answers is reported exactly once, with the outcome its answer
// stands for, and an event type from a fixed list: a type Dunlin does not
// act on is "other", and a type never read (a bad signature) is
// "unknown", so no sender can mint new metric dimensions.
func TestEveryDeliveryIsReportedOnceWithABoundedType(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	var seen deliveries
	h := webhooks.New(r.billing, secrets.Static{stripeSecret}, secrets.Static{genericSecret},
		slog.New(slog.NewTextHandler(io.Discard, nil))).OnDelivery(seen.observe)
	r.handler = h
	c := r.customer("Metrics", "")
	inv := r.invoice(c, 100000, "M-1", "")
	paid := stripeEvent(t, "evt_m_paid", "payment_intent.succeeded", paymentIntent("pi_m", 500, map[string]string{"dunlin_invoice_id": inv.ID}, ""))
	// The same payment fact under a new event id changes nothing.
	repeat := stripeEvent(t, "evt_m_paid_again", "payment_intent.succeeded", paymentIntent("pi_m", 500, map[string]string{"dunlin_invoice_id": inv.ID}, ""))
	generic := genericBody(t, "bank-m-1", webhooks.GenericSucceeded, webhooks.GenericPayment{ID: "txn-m-1", Amount: 700, Currency: "EUR",
		ReceivedOn: "2026-11-20", InvoiceID: inv.ID})
	stripePost := func(p []byte) func() int { return func() int { return r.deliverStripe(p) } }
	genericPost := func(p []byte) func() int { return func() int { return r.deliverGeneric(p) } }
	for _, tc := range []struct {
		name                   string
		deliver                func() int
		status                 int
		provider, typ, outcome string
	}{
		{"a payment is applied", stripePost(paid), 200, "stripe", "payment_intent.succeeded", "applied"},
		{"its redelivery is a duplicate", stripePost(paid), 200, "stripe", "payment_intent.succeeded", "duplicate"},
		{"the same fact under another id changes nothing", stripePost(repeat), 200, "stripe", "payment_intent.succeeded", "no_change"},
		{"an event Dunlin ignores is other", stripePost(stripeEvent(t, "evt_m_cus", "customer.created", &stripe.Customer{ID: "cus_m"})),
			200, "stripe", "other", "ignored"},
		{"an invented type is other", stripePost(stripeEvent(t, "evt_m_x", stripe.EventType("x."+strings.Repeat("z", 40)), &stripe.Customer{ID: "cus_m"})),
			200, "stripe", "other", "ignored"},
		{"a zero invoice of a known type is ignored under its type",
			stripePost(stripeEvent(t, "evt_m_zero", "invoice.paid", &stripe.Invoice{ID: "in_m_zero", AmountPaid: 0, Currency: "eur"})),
			200, "stripe", "invoice.paid", "ignored"},
		{"a known type that names no payment is invalid",
			stripePost(stripeEvent(t, "evt_m_nopay", "charge.refunded", &stripe.Charge{AmountRefunded: 100})), 422, "stripe", "charge.refunded", "invalid"},
		{"a bad signature is rejected, its type unread", func() int {
			return r.post("/v1/webhooks/stripe", paid, "Stripe-Signature", signed(paid, "whsec_wrong", time.Now()))
		}, 400, "stripe", "unknown", "rejected_signature"},
		{"a generic payment is applied", genericPost(generic), 200, "generic", "payment.succeeded", "applied"},
		{"a generic bad signature is rejected", func() int {
			return r.post("/v1/webhooks/generic", generic, webhooks.GenericSignatureHeader, signed(generic, "nope", time.Now()))
		}, 400, "generic", "unknown", "rejected_signature"},
		{"a generic event of an invented type is other", genericPost(genericBody(t, "bank-m-2", "payment.teleported", webhooks.GenericPayment{ID: "t"})),
			200, "generic", "other", "ignored"},
		{"a generic event missing a field is invalid under its type",
			genericPost(genericBody(t, "bank-m-3", webhooks.GenericSucceeded, webhooks.GenericPayment{ID: "txn-m-3", Currency: "EUR", ReceivedOn: "2026-11-20"})),
			422, "generic", "payment.succeeded", "invalid"},
		{"generic JSON that cannot be read is invalid, its type unread", genericPost([]byte(`{"id":`)), 422, "generic", "unknown", "invalid"},
		{"a body too large is unreadable", func() int {
			big := bytes.Repeat([]byte("x"), 600<<10)
			return r.post("/v1/webhooks/stripe", big, "Stripe-Signature", "t=1,v1=00")
		}, 413, "stripe", "unknown", "unreadable"},
		{"an unknown route is not found", func() int { return r.post("/v1/webhooks/"+strings.Repeat("p", 30), paid, "", "") },
			404, "other", "unknown", "not_found"},
	} {
		if got := tc.deliver(); got != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.status)
		}
		got := seen.take()
		if len(got) != 1 {
			t.Errorf("%s: reported %d times: %+v", tc.name, len(got), got)
			continue
		}
		if d := got[0]; d.Provider != tc.provider || d.EventType != tc.typ || d.Outcome != tc.outcome || d.At.IsZero() {
			t.Errorf("%s: reported %+v, want %s %s %s", tc.name, d, tc.provider, tc.typ, tc.outcome)
		}
	}
}

// books that fail as the store can.
type failingBooks struct{ err error }

func (b failingBooks) ApplyProviderEvent(context.Context, *billing.ProviderEvent) (billing.Outcome, error) {
	return "", b.err
}

func (b failingBooks) RaiseDailyAlert(context.Context, string, string, string) error { return b.err }

type brokenSecrets struct{}

func (brokenSecrets) Secrets(context.Context) ([]string, error) {
	return nil, errors.New("ssm: access denied")
}

// TestFailuresAreReportedAsBusyOrFailed: what the provider will retry is
// "busy" (contention, a timeout) or "failed" (an internal error, which no
// Lambda error metric counts, since the function answered a 500).
func TestFailuresAreReportedAsBusyOrFailed(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	payload := stripeEvent(t, "evt_f", "charge.refunded", &stripe.Charge{ID: "ch_f", AmountRefunded: 100, Currency: "eur", PaymentIntent: &stripe.PaymentIntent{ID: "pi_f"}})
	for _, tc := range []struct {
		name    string
		books   webhooks.Books
		secrets webhooks.Secrets
		status  int
		typ     string
		outcome string
	}{
		{"contention", failingBooks{apperr.New(apperr.Conflict, "busy")}, secrets.Static{stripeSecret}, 503, "charge.refunded", "busy"},
		{"a timeout", failingBooks{fmt.Errorf("post: %w", context.DeadlineExceeded)}, secrets.Static{stripeSecret}, 503, "charge.refunded", "busy"},
		{"an internal error", failingBooks{errors.New("boom")}, secrets.Static{stripeSecret}, 500, "charge.refunded", "failed"},
		{"unreadable secrets", failingBooks{}, brokenSecrets{}, 500, "unknown", "failed"},
	} {
		var seen deliveries
		h := webhooks.New(tc.books, tc.secrets, tc.secrets, log).OnDelivery(seen.observe)
		req := httptest.NewRequest("POST", "/v1/webhooks/stripe", bytes.NewReader(payload))
		req.Header.Set("Stripe-Signature", signed(payload, stripeSecret, time.Now()))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := seen.take()
		if rec.Code != tc.status || len(got) != 1 || got[0].Outcome != tc.outcome || got[0].EventType != tc.typ || got[0].Provider != "stripe" {
			t.Errorf("%s: %d, reported %+v; want %d %s %s", tc.name, rec.Code, got, tc.status, tc.typ, tc.outcome)
		}
	}
}
