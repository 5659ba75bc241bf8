package webhooks

import (
	"fmt"
	"regexp"
)

// Stripe renders each event in the API version of the endpoint (or the
// account's default), so one Dunlin receives events of whatever version a
// firm's endpoint is pinned to. The fields Dunlin reads, and where each
// version has them:
//
//	payment_intent.succeeded  id, amount_received, currency, customer, metadata, latest_charge;
//	                          invoice before 2025-03-31.basil
//	invoice.paid              id, number, amount_paid, currency, customer, metadata, status_transitions.paid_at;
//	                          payment_intent and charge before basil; from basil on, payments
//	                          (only when expanded: webhooks leave it out, invoice_payment.paid links instead)
//	invoice_payment.paid      (basil on) invoice, amount_paid, currency, payment.payment_intent or payment.charge
//	charge.refunded           id, payment_intent, amount_refunded, currency; invoice before basil
//	charge.dispute.*          id, charge, payment_intent, amount, currency, status, reason
//
// Every field is read where it is present, so any version from
// OldestStripeVersion on reads right; TestedStripeVersions are the ones
// the tests deliver. An event of an older version, or one missing a field
// Dunlin needs, is refused (422) and the firm is alerted to move its
// endpoint to a newer version: nothing is read wrongly in silence.
const OldestStripeVersion = "2020-08-27"

// TestedStripeVersions are the API versions whose event shapes the tests
// deliver (the README lists them).
var TestedStripeVersions = []string{"2020-08-27", "2022-11-15", "2024-06-20", "2025-03-31.basil", "2026-03-25.dahlia"}

var stripeVersion = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$`)

// apiVersionError is an event Dunlin cannot read in its API version.
type apiVersionError struct {
	Version string
	Field   string // the field missing from the event; "" when the version itself is too old
}

func (e *apiVersionError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("Stripe API version %q: the event has no %s, which Dunlin needs", e.Version, e.Field)
	}
	return fmt.Sprintf("Stripe API version %q is older than %s, the oldest Dunlin reads", e.Version, OldestStripeVersion)
}

// readableVersion checks an event's api_version. An event without one (a
// test tool's) is read like any other: every field is checked anyway.
func readableVersion(v string) error {
	if v == "" {
		return nil
	}
	if !stripeVersion.MatchString(v) || v[:10] < OldestStripeVersion {
		return &apiVersionError{Version: v}
	}
	return nil
}
