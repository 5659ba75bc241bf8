package webhooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/apperr"
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
// the event. stripe-go's own version check is off: it accepts only its own
// release train, and Stripe delivers each endpoint's pinned version.
// Dunlin reads the fields of every version it lists (see stripeversions.go)
// and refuses the others.
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
// payment; ok is false for events Dunlin does not act on. Amounts are
// converted from Stripe's units to the currency's minor units (see
// stripeAmount). Errors: Invalid naming the field (a negative amount, an
// amount that does not convert exactly, a date outside the accepted
// years), or an *apiVersionError when the event's API version is not one
// Dunlin reads.
func fromStripe(ev stripe.Event) (pe *billing.ProviderEvent, ok bool, err error) {
	pe = &billing.ProviderEvent{Provider: "stripe", EventID: ev.ID, Type: string(ev.Type)}
	if ev.Data == nil {
		return nil, false, apperr.Invalidf("data", "event %s has no data", ev.ID)
	}
	if !knownTypes["stripe"][string(ev.Type)] {
		return nil, false, nil
	}
	raw := ev.Data.Raw
	if err := readableVersion(ev.APIVersion); err != nil {
		return nil, false, err
	}
	// Fields Stripe removed in 2025-03-31.basil, still sent by endpoints on
	// older versions: read when present (stripe-go's types no longer have
	// them).
	var legacy struct {
		Invoice       expandable `json:"invoice"`        // on a PaymentIntent or a Charge
		PaymentIntent expandable `json:"payment_intent"` // on an Invoice
		Charge        expandable `json:"charge"`         // on an Invoice
	}
	if err := json.Unmarshal(raw, &legacy); err != nil {
		return nil, false, apperr.Invalidf("data.object", "unreadable %s: %v", ev.Type, err)
	}
	switch ev.Type {
	case "payment_intent.succeeded":
		var pi stripe.PaymentIntent
		if err := readObject(raw, &pi, ev.APIVersion, "amount", "currency"); err != nil {
			return nil, false, err
		}
		pe.PaymentRef = pi.ID
		pe.AltRefs = refs(chargeID(pi.LatestCharge), string(legacy.Invoice))
		amount := pi.AmountReceived
		if amount == 0 {
			amount = pi.Amount
		}
		// The event's time is when the money arrived; the intent may have
		// been created days before (SEPA, bank debits).
		pe.Success, err = success("amount_received", amount, pi.Currency, dateOf(ev.Created, pi.Created), pi.ID,
			match(pi.Metadata, string(legacy.Invoice), customerID(pi.Customer)))
	case "invoice.paid":
		var inv stripe.Invoice
		if err := readObject(raw, &inv, ev.APIVersion, "amount_paid", "currency"); err != nil {
			return nil, false, err
		}
		// Key on the PaymentIntent when the payload names it (older API
		// versions always do; newer ones only with payments expanded), so
		// an invoice.paid and a payment_intent.succeeded for the same money
		// are one payment. When it does not, invoice_payment.paid links them.
		pe.PaymentRef = inv.ID
		pi := string(legacy.PaymentIntent)
		if inv.Payments != nil {
			for _, p := range inv.Payments.Data {
				if id := paymentIntentOf(p.Payment); id != "" && pi == "" {
					pi = id
				}
			}
		}
		if pi != "" {
			pe.PaymentRef, pe.AltRefs = pi, refs(inv.ID, string(legacy.Charge))
		} else if legacy.Charge != "" {
			pe.PaymentRef, pe.AltRefs = string(legacy.Charge), refs(inv.ID)
		}
		var paidAt int64
		if inv.StatusTransitions != nil {
			paidAt = inv.StatusTransitions.PaidAt
		}
		pe.Success, err = success("amount_paid", inv.AmountPaid, inv.Currency, dateOf(paidAt, ev.Created),
			firstNonEmpty(inv.Number, inv.ID), match(inv.Metadata, inv.ID, customerID(inv.Customer)))
	case "invoice_payment.paid":
		// The link between a Stripe invoice and the PaymentIntent (or,
		// without one, the charge) that paid it, which refunds and
		// disputes name: keyed on both.
		var ip stripe.InvoicePayment
		if err := readObject(raw, &ip, ev.APIVersion, "amount_paid", "currency", "invoice"); err != nil {
			return nil, false, err
		}
		invoiceID := ""
		if ip.Invoice != nil {
			invoiceID = ip.Invoice.ID
		}
		var byCharge string
		if ip.Payment != nil {
			byCharge = chargeID(ip.Payment.Charge)
		}
		pe.PaymentRef = firstNonEmpty(paymentIntentOf(ip.Payment), byCharge, invoiceID)
		pe.AltRefs = refs(invoiceID)
		var paidAt int64
		if ip.StatusTransitions != nil {
			paidAt = ip.StatusTransitions.PaidAt
		}
		pe.Success, err = success("amount_paid", ip.AmountPaid, ip.Currency, dateOf(paidAt, ev.Created),
			firstNonEmpty(invoiceID, ip.ID), billing.Match{InvoiceExternalID: invoiceID})
	case "charge.refunded":
		var ch stripe.Charge
		if err := readObject(raw, &ch, ev.APIVersion, "amount_refunded", "currency"); err != nil {
			return nil, false, err
		}
		pe.PaymentRef, pe.AltRefs = chargeRef(ch.PaymentIntent, ch.ID)
		pe.AltRefs = append(pe.AltRefs, refs(string(legacy.Invoice))...)
		pe.Refunded, err = stripeAmount("amount_refunded", ch.AmountRefunded, ch.Currency)
	case "charge.dispute.created", "charge.dispute.closed", "charge.dispute.updated":
		var d stripe.Dispute
		if err := readObject(raw, &d, ev.APIVersion, "amount", "currency", "status"); err != nil {
			return nil, false, err
		}
		var amount int64
		if amount, err = stripeAmount("amount", d.Amount, d.Currency); err != nil {
			return nil, false, err
		}
		pe.PaymentRef, pe.AltRefs = chargeRef(d.PaymentIntent, chargeID(d.Charge))
		pe.Dispute = &billing.Dispute{ID: d.ID, Status: disputeStatus(d.Status), Amount: amount, Reason: string(d.Reason)}
	}
	if err != nil {
		return nil, false, err
	}
	if pe.Success != nil && pe.Success.Amount == 0 {
		return nil, false, nil // a zero or fully discounted invoice: no money moved
	}
	if pe.PaymentRef == "" {
		return nil, false, apperr.Invalidf("data.object.id", "event %s names no payment", ev.ID)
	}
	return pe, true, nil
}

// success is a payment's success as Dunlin books it, its amount converted
// from Stripe's units.
func success(field string, amount int64, cur stripe.Currency, on civil.Date, reference string, m billing.Match) (*billing.ProviderSuccess, error) {
	minor, err := stripeAmount(field, amount, cur)
	if err != nil {
		return nil, err
	}
	return &billing.ProviderSuccess{Amount: minor, Currency: strings.ToUpper(string(cur)), ReceivedOn: on, Method: "card", Reference: reference, Match: m}, nil
}

// readObject reads an event's object into v, first checking that the
// fields Dunlin needs are there: a field missing from an event of some
// API version would otherwise read as zero, and money read as zero is
// money ignored in silence.
func readObject(raw []byte, v any, version string, need ...string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return apperr.Invalidf("data.object", "unreadable object: %v", err)
	}
	for _, f := range need {
		if v, ok := fields[f]; !ok || string(v) == "null" {
			if f == "amount" && fields["amount_received"] != nil { // a PaymentIntent's amount_received will do
				continue
			}
			return &apiVersionError{Version: version, Field: f}
		}
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return apperr.Invalidf("data.object", "unreadable object: %v", err)
	}
	return nil
}

// refs lists the non-empty ids.
func refs(xs ...string) []string {
	var out []string
	for _, x := range xs {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// expandable reads a Stripe field that is an id, or the object itself
// when expanded, as the id.
type expandable string

func (e *expandable) UnmarshalJSON(b []byte) error {
	var id string
	if json.Unmarshal(b, &id) == nil {
		*e = expandable(id)
		return nil
	}
	var obj struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil // neither: not a field Dunlin reads in this version
	}
	*e = expandable(obj.ID)
	return nil
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

// chargeRef names a charge's payment: its PaymentIntent when it has one
// (as payment_intent.succeeded does), with the charge's own id beside it,
// else the charge itself.
func chargeRef(pi *stripe.PaymentIntent, chargeID string) (string, []string) {
	if pi != nil && pi.ID != "" {
		return pi.ID, refs(chargeID)
	}
	return chargeID, nil
}

func chargeID(c *stripe.Charge) string {
	if c == nil {
		return ""
	}
	return c.ID
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
