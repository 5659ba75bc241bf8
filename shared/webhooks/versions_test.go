package webhooks_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/webhooks"
)

// deliverStripeBody delivers a signed Stripe event and returns the status
// and the body of the answer.
func (r *rig) deliverStripeBody(payload []byte) (int, string) {
	req := httptest.NewRequest("POST", "/v1/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Stripe-Signature", signed(payload, stripeSecret, time.Now()))
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// In every API version the tests list, an Invoicing payment and a full
// refund after it end the same: the named invoice is owed again in full,
// the older one was never touched. Versions before 2025-03-31.basil carry
// invoice.payment_intent (and payment_intent.invoice, charge.invoice)
// instead of invoice_payment.paid; both are read.
func TestEveryTestedAPIVersionEndsInTheSameBooks(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, version := range webhooks.TestedStripeVersions {
		for _, piFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, payment intent first %v", version, piFirst), func(t *testing.T) {
				tag := strings.NewReplacer("-", "", ".", "").Replace(version) + fmt.Sprint(piFirst)
				s := newInvoicing(t, r, tag)
				cus := "cus_" + tag
				old := version < "2025-03-31"
				pi := fixture(t, "payment_intent", map[string]any{"id": s.piID, "amount": 12000, "amount_received": 12000, "currency": "eur",
					"customer": cus, "status": "succeeded", "latest_charge": s.ch, "created": paidAt - 60})
				inv := fixture(t, "invoice", map[string]any{"id": s.inID, "customer": cus, "currency": "eur", "amount_paid": 12000, "status": "paid",
					"metadata": map[string]any{"dunlin_invoice_id": s.newer.ID}, "status_transitions": map[string]any{"paid_at": paidAt}})
				charge := fixture(t, "charge", map[string]any{"id": s.ch, "amount": 12000, "amount_refunded": 12000, "refunded": true,
					"currency": "eur", "payment_intent": s.piID})
				if old {
					pi["invoice"], inv["payment_intent"], inv["charge"], charge["invoice"] = s.inID, s.piID, s.ch, s.inID
					if version < "2022-08-01" { // before latest_charge, a PaymentIntent listed its charges
						delete(pi, "latest_charge")
						pi["charges"] = map[string]any{"object": "list", "data": []any{map[string]any{"id": s.ch, "object": "charge"}}}
					}
				}
				events := [][]byte{
					fixtureEvent(t, "evt_pi_"+tag, "payment_intent.succeeded", version, pi),
					fixtureEvent(t, "evt_in_"+tag, "invoice.paid", version, inv),
				}
				if !piFirst {
					events[0], events[1] = events[1], events[0]
				}
				if !old {
					events = append(events, s.ip)
				}
				events = append(events, fixtureEvent(t, "evt_ref_"+tag, "charge.refunded", version, charge))
				for _, ev := range events {
					if code, body := r.deliverStripeBody(ev); code != 200 {
						t.Fatalf("delivery = %d %s", code, body)
					}
				}
				want := `O: balance 7000, open, paid 0
N: balance 12000, open, paid 0
payment: 12000 received, 12000 refunded, 0 charged back, 0 unapplied, on []
customer: 1 payments, credit 0, paused false, 0 conflict alerts`
				if got := s.books(t); got != want {
					t.Errorf("\n got %s\nwant %s", got, want)
				}
			})
		}
	}
}

// An event of an API version Dunlin does not read, or one missing a field
// Dunlin needs, is refused with a 422 naming api_version, nothing is
// booked, and the firm gets one alert a day naming the version.
func TestUnreadableAPIVersionsAreRefusedWithAnAlert(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	s := newInvoicing(t, r, "oldver")
	for _, tc := range []struct {
		name, version string
		obj           map[string]any
		wantInAlert   string
	}{
		{"a version older than Dunlin reads", "2019-12-03", fixture(t, "invoice", map[string]any{"id": s.inID, "currency": "eur", "amount_paid": 12000,
			"metadata": map[string]any{"dunlin_invoice_id": s.newer.ID}, "status_transitions": map[string]any{"paid_at": paidAt}}), `"2019-12-03"`},
		{"a version without a field Dunlin needs", "2027-01-01.future", fixture(t, "invoice", map[string]any{"id": s.inID, "currency": "eur", "amount_paid": nil,
			"metadata": map[string]any{"dunlin_invoice_id": s.newer.ID}, "status_transitions": map[string]any{"paid_at": paidAt}}), "amount_paid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for n := range 2 {
				ev := fixtureEvent(t, fmt.Sprintf("evt_v_%s_%d", tc.version, n), "invoice.paid", tc.version, tc.obj)
				code, body := r.deliverStripeBody(ev)
				if code != 422 || !strings.Contains(body, "api_version") {
					t.Fatalf("delivery = %d %s, want 422 naming api_version", code, body)
				}
			}
			alerts, err := r.billing.ListAlerts(context.Background(), "", "")
			if err != nil {
				t.Fatal(err)
			}
			var n int
			for _, a := range alerts {
				if a.Kind == billing.AlertProviderVersion && a.Ref == "stripe:"+tc.version {
					n++
					if !strings.Contains(a.Message, tc.wantInAlert) {
						t.Errorf("alert %q does not name %s", a.Message, tc.wantInAlert)
					}
				}
			}
			if n != 1 {
				t.Errorf("%d alerts for %s, want 1", n, tc.version)
			}
		})
	}
	if _, ok := r.paymentByRef("stripe", s.inID); ok {
		t.Error("a refused event booked a payment")
	}
	if got := r.getInvoice(s.newer.ID); got.Balance != 12000 {
		t.Errorf("invoice balance %d", got.Balance)
	}
}

// A Stripe payment in a currency whose Stripe unit is not Dunlin's minor
// unit pays exactly the invoice it names: no false credit, no shortfall.
func TestStripeCurrenciesEndToEnd(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	for _, tc := range []struct {
		currency      string
		total, stripe int64 // the invoice in Dunlin's minor units; the payment in Stripe's
	}{
		{"ISK", 10000, 1000000}, // 10,000 kr
		{"JPY", 5000, 5000},     // ¥5,000
		{"MGA", 500000, 5000},   // 5,000 Ar
		{"KWD", 5120, 5120},     // 5.120 KD
	} {
		t.Run(tc.currency, func(t *testing.T) {
			ctx := context.Background()
			c, err := r.billing.CreateCustomer(ctx, billing.CustomerCreate{Name: "Cur " + tc.currency, Email: "ap@" + strings.ToLower(tc.currency) + ".example", Currency: tc.currency})
			if err != nil {
				t.Fatal(err)
			}
			total := tc.total
			inv, err := r.billing.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Total: &total, Number: "CUR-" + tc.currency, IssuedOn: "2026-10-01", DueOn: "2026-10-31"})
			if err != nil {
				t.Fatal(err)
			}
			pi := func(id string, amount int64) []byte {
				return fixtureEvent(t, "evt_"+id, "payment_intent.succeeded", versionNow, fixture(t, "payment_intent", map[string]any{
					"id": id, "amount": amount, "amount_received": amount, "currency": strings.ToLower(tc.currency), "status": "succeeded",
					"created": paidAt, "metadata": map[string]any{"dunlin_invoice_id": inv.ID}}))
			}
			if code, body := r.deliverStripeBody(pi("pi_cur_"+tc.currency, tc.stripe)); code != 200 {
				t.Fatalf("delivery = %d %s", code, body)
			}
			got := r.getInvoice(inv.ID)
			acct, err := r.store.GetAccount(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != billing.StatePaid || got.Paid != tc.total || acct.Credit[tc.currency] != 0 {
				t.Errorf("invoice %s paid %d, credit %d; want paid %d and no credit", got.State, got.Paid, acct.Credit[tc.currency], tc.total)
			}
			if tc.currency == "ISK" { // 10.50 kr: not a sum Stripe charges, refused whole
				code, body := r.deliverStripeBody(pi("pi_cur_frac", 1050))
				if code != 422 || !strings.Contains(body, "amount") {
					t.Errorf("a fractional króna = %d %s, want 422 naming amount", code, body)
				}
				if _, ok := r.paymentByRef("stripe", "pi_cur_frac"); ok {
					t.Error("the refused payment was written")
				}
			}
		})
	}
}

// Money a provider reports is held to the rules POST /v1/payments
// applies: no negative dispute, no payment received in the future or in
// the year 9999. Refused with a 422 naming the field; nothing is written.
func TestProviderEventsAreCheckedLikeAPIPayments(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := r.customer("Checks", "cus_checks")
	inv := r.invoice(c, 10000, "CHK-1", "")
	future := time.Now().AddDate(0, 0, 3).Unix()
	for _, tc := range []struct {
		name, ref string
		event     []byte
		field     string
	}{
		{"a negative dispute", "pi_neg", fixtureEvent(t, "evt_neg", "charge.dispute.created", versionNow, fixture(t, "dispute", map[string]any{
			"id": "dp_neg", "amount": -5000, "currency": "eur", "charge": "ch_neg", "payment_intent": "pi_neg", "status": "needs_response"})), "amount"},
		{"a refund of a negative amount", "pi_negref", fixtureEvent(t, "evt_negref", "charge.refunded", versionNow, fixture(t, "charge", map[string]any{
			"id": "ch_negref", "amount_refunded": -1, "currency": "eur", "payment_intent": "pi_negref"})), "amount_refunded"},
		{"a payment paid in the future", "in_future", fixtureEvent(t, "evt_future", "invoice.paid", versionNow, fixture(t, "invoice", map[string]any{
			"id": "in_future", "currency": "eur", "amount_paid": 10000, "metadata": map[string]any{"dunlin_invoice_id": inv.ID},
			"status_transitions": map[string]any{"paid_at": future}})), "received_on"},
		{"a payment paid in 9999", "in_9999", fixtureEvent(t, "evt_9999", "invoice.paid", versionNow, fixture(t, "invoice", map[string]any{
			"id": "in_9999", "currency": "eur", "amount_paid": 10000, "metadata": map[string]any{"dunlin_invoice_id": inv.ID},
			"status_transitions": map[string]any{"paid_at": time.Date(9999, 12, 31, 12, 0, 0, 0, time.UTC).Unix()}})), "received_on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := r.deliverStripeBody(tc.event)
			if code != 422 || !strings.Contains(body, tc.field) {
				t.Errorf("= %d %s, want 422 naming %s", code, body, tc.field)
			}
			if _, ok := r.paymentByRef("stripe", tc.ref); ok {
				t.Error("the refused event was stored")
			}
		})
	}
	for _, tc := range []struct{ name, day string }{{"in 9999", "9999-12-31"}, {"in the future", time.Now().AddDate(0, 0, 3).Format("2006-01-02")}} {
		t.Run("generic, received "+tc.name, func(t *testing.T) {
			body := genericBody(t, "evt_gen_"+tc.day, webhooks.GenericSucceeded, webhooks.GenericPayment{ID: "bank-" + tc.day, Amount: 100,
				Currency: "EUR", ReceivedOn: tc.day, InvoiceID: inv.ID})
			if code := r.deliverGeneric(body); code != 422 {
				t.Errorf("= %d, want 422", code)
			}
			if _, ok := r.paymentByRef("generic", "bank-"+tc.day); ok {
				t.Error("the refused event was stored")
			}
		})
	}
	if got := r.getInvoice(inv.ID); got.Balance != 10000 {
		t.Errorf("balance %d after refused events", got.Balance)
	}
}

// TestReadmeListsTheTestedStripeVersions keeps the README's list of Stripe
// API versions the same as the ones the tests deliver.
func TestReadmeListsTheTestedStripeVersions(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range append([]string{webhooks.OldestStripeVersion}, webhooks.TestedStripeVersions...) {
		if !strings.Contains(string(readme), v) {
			t.Errorf("README does not name Stripe API version %s", v)
		}
	}
}
