package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// Tolerance is how old a signature's timestamp may be: Stripe's default,
// which bounds how long a captured delivery can be replayed.
const Tolerance = 300 * time.Second

// Metadata keys a firm sets on Stripe objects to point at Dunlin records.
const (
	metaInvoiceID  = "dunlin_invoice_id"
	metaCustomerID = "dunlin_customer_id"
)

// errSignature is any failure to verify a delivery's signature.
var errSignature = errors.New("signature verification failed")

// verifyStripe checks the Stripe-Signature header against each secret
// (more than one during a rotation) with stripe-go's webhook package, on
// the raw body, within Tolerance of the signature's timestamp, and returns
// the event. Events of any API version are accepted: Dunlin reads only
// fields every version has.
func verifyStripe(body []byte, header string, secrets []string) (stripe.Event, error) {
	if header == "" {
		return stripe.Event{}, fmt.Errorf("%w: no Stripe-Signature header", errSignature)
	}
	if len(secrets) == 0 {
		return stripe.Event{}, fmt.Errorf("%w: no webhook secret is configured", errSignature)
	}
	if err := notFromTheFuture(header, time.Now()); err != nil {
		return stripe.Event{}, err
	}
	var last error
	for _, secret := range secrets {
		ev, err := webhook.ConstructEventWithOptions(body, header, secret, webhook.ConstructEventOptions{
			Tolerance: Tolerance, IgnoreAPIVersionMismatch: true,
		})
		if err == nil {
			return ev, nil
		}
		last = err
	}
	return stripe.Event{}, fmt.Errorf("%w: %v", errSignature, last)
}

// notFromTheFuture refuses a signature timestamped more than Tolerance
// ahead of now. stripe-go refuses old ones only; a far-future timestamp
// would let a captured delivery be replayed for longer than Tolerance.
func notFromTheFuture(header string, now time.Time) error {
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k != "t" {
			continue
		}
		ts, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: bad timestamp", errSignature)
		}
		if time.Unix(ts, 0).Sub(now) > Tolerance {
			return fmt.Errorf("%w: timestamp in the future", errSignature)
		}
	}
	return nil
}

// fromStripe turns a verified Stripe event into what it says about a
// payment; ok is false for events Dunlin does not act on.
func fromStripe(ev stripe.Event) (pe *billing.ProviderEvent, ok bool, err error) {
	pe = &billing.ProviderEvent{Provider: "stripe", EventID: ev.ID, Type: string(ev.Type)}
	if ev.Data == nil {
		return nil, false, fmt.Errorf("event %s has no data", ev.ID)
	}
	raw := ev.Data.Raw
	switch ev.Type {
	case "payment_intent.succeeded":
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(raw, &pi); err != nil {
			return nil, false, fmt.Errorf("payment intent: %w", err)
		}
		pe.PaymentRef = pi.ID
		amount := pi.AmountReceived
		if amount == 0 {
			amount = pi.Amount
		}
		pe.Success = &billing.ProviderSuccess{
			// The event's time is when the money arrived; the intent may
			// have been created days before (SEPA, bank debits).
			Amount: amount, Currency: strings.ToUpper(string(pi.Currency)), ReceivedOn: dateOf(ev.Created, pi.Created),
			Method: "card", Reference: pi.ID, Match: match(pi.Metadata, "", customerID(pi.Customer)),
		}
	case "invoice.paid":
		var inv stripe.Invoice
		if err := json.Unmarshal(raw, &inv); err != nil {
			return nil, false, fmt.Errorf("invoice: %w", err)
		}
		// Key on the payment intent when the payload carries it, so an
		// invoice.paid and a payment_intent.succeeded for the same money
		// are one payment.
		pe.PaymentRef = inv.ID
		if inv.Payments != nil {
			for _, p := range inv.Payments.Data {
				if p.Payment != nil && p.Payment.PaymentIntent != nil && p.Payment.PaymentIntent.ID != "" {
					pe.PaymentRef, pe.AltRefs = p.Payment.PaymentIntent.ID, []string{inv.ID}
					break
				}
			}
		}
		var paidAt int64
		if inv.StatusTransitions != nil {
			paidAt = inv.StatusTransitions.PaidAt
		}
		pe.Success = &billing.ProviderSuccess{
			Amount: inv.AmountPaid, Currency: strings.ToUpper(string(inv.Currency)), ReceivedOn: dateOf(paidAt, ev.Created),
			Method: "card", Reference: firstNonEmpty(inv.Number, inv.ID), Match: match(inv.Metadata, inv.ID, customerID(inv.Customer)),
		}
	case "invoice_payment.paid":
		// The link between a Stripe invoice and the PaymentIntent that paid
		// it, which refunds and disputes name: keyed on both.
		var ip stripe.InvoicePayment
		if err := json.Unmarshal(raw, &ip); err != nil {
			return nil, false, fmt.Errorf("invoice payment: %w", err)
		}
		invoiceID := ""
		if ip.Invoice != nil {
			invoiceID = ip.Invoice.ID
		}
		pe.PaymentRef = firstNonEmpty(paymentIntentOf(ip.Payment), invoiceID)
		if pe.PaymentRef != invoiceID && invoiceID != "" {
			pe.AltRefs = []string{invoiceID}
		}
		var paidAt int64
		if ip.StatusTransitions != nil {
			paidAt = ip.StatusTransitions.PaidAt
		}
		pe.Success = &billing.ProviderSuccess{
			Amount: ip.AmountPaid, Currency: strings.ToUpper(string(ip.Currency)), ReceivedOn: dateOf(paidAt, ev.Created),
			Method: "card", Reference: firstNonEmpty(invoiceID, ip.ID), Match: billing.Match{InvoiceExternalID: invoiceID},
		}
	case "charge.refunded":
		var ch stripe.Charge
		if err := json.Unmarshal(raw, &ch); err != nil {
			return nil, false, fmt.Errorf("charge: %w", err)
		}
		pe.PaymentRef = chargeRef(ch.PaymentIntent, ch.ID)
		pe.Refunded = ch.AmountRefunded
	case "charge.dispute.created", "charge.dispute.closed", "charge.dispute.updated":
		var d stripe.Dispute
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, false, fmt.Errorf("dispute: %w", err)
		}
		chargeID := ""
		if d.Charge != nil {
			chargeID = d.Charge.ID
		}
		pe.PaymentRef = chargeRef(d.PaymentIntent, chargeID)
		pe.Dispute = &billing.Dispute{ID: d.ID, Status: disputeStatus(d.Status), Amount: d.Amount, Reason: string(d.Reason)}
	default:
		return nil, false, nil
	}
	if pe.Success != nil && pe.Success.Amount == 0 {
		return nil, false, nil // a zero or fully discounted invoice: no money moved
	}
	if pe.PaymentRef == "" {
		return nil, false, fmt.Errorf("event %s names no payment", ev.ID)
	}
	return pe, true, nil
}

// disputeStatus maps Stripe's dispute statuses onto open, won and lost.
// Only "lost" takes money back; a closed warning or a prevented dispute
// cost the firm nothing.
func disputeStatus(s stripe.DisputeStatus) string {
	switch s {
	case stripe.DisputeStatusLost:
		return billing.DisputeLost
	case stripe.DisputeStatusWon, stripe.DisputeStatusWarningClosed, stripe.DisputeStatusPrevented:
		return billing.DisputeWon
	}
	return billing.DisputeOpen
}

// chargeRef names a charge's payment: its payment intent when it has one
// (as payment_intent.succeeded does), else the charge itself.
func chargeRef(pi *stripe.PaymentIntent, chargeID string) string {
	if pi != nil && pi.ID != "" {
		return pi.ID
	}
	return chargeID
}

func paymentIntentOf(p *stripe.InvoicePaymentPayment) string {
	if p == nil || p.PaymentIntent == nil {
		return ""
	}
	return p.PaymentIntent.ID
}

func customerID(c *stripe.Customer) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// match reads who paid: Dunlin ids in metadata first, then the Stripe
// invoice id (as the invoice's external id), then the Stripe customer id
// (as the customer's external id).
func match(meta map[string]string, stripeInvoiceID, stripeCustomerID string) billing.Match {
	return billing.Match{
		InvoiceID:          meta[metaInvoiceID],
		InvoiceExternalID:  stripeInvoiceID,
		CustomerID:         meta[metaCustomerID],
		CustomerExternalID: stripeCustomerID,
	}
}

// dateOf is the UTC calendar date of a Unix time, or of fallback if it is zero.
func dateOf(unix, fallback int64) civil.Date {
	if unix == 0 {
		unix = fallback
	}
	return civil.Of(time.Unix(unix, 0).UTC())
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
