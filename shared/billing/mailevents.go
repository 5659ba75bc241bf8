package billing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/ids"
)

// What SES says became of a dunning email (its configuration set's events).
const (
	MailBounced    = "bounce"    // a hard bounce: the address does not take mail
	MailComplaint  = "complaint" // the recipient marked it as spam
	MailDelivered  = "delivery"  // the recipient's server took it
	MailRejected   = "reject"    // SES did not send it (a virus, say)
	mailEventsFrom = "ses"       // the provider name of processed-event records
)

// MailEvent is one SES event about an email to a customer.
type MailEvent struct {
	ID         string // the event's own id: processing it twice does nothing
	Kind       string // MailBounced, MailComplaint, MailDelivered or MailRejected
	CustomerID string // from the email's customer_id tag
	MessageID  string
	Recipients []string // the addresses the event is about
	Detail     string   // SES's words, e.g. the bounce's diagnostic
	At         time.Time
}

// RecordMailEvent applies an SES event to the customer it is about.
//   - A hard bounce or a complaint from the customer's address marks it
//     invalid (EmailInvalid, EmailError) and raises an address_bounced
//     alert, in one transaction: no dunning email goes to it until the
//     address changes.
//   - A hard bounce or a complaint from a CC address removes it from the
//     customer's CC list and raises an address_bounced alert naming it,
//     in the same transaction, on the customer's version: the next email
//     goes to the others, and no complaint is provoked twice. The
//     customer's own address and its dunning are untouched.
//   - Every event is noted in the contact log (a delivery, a bounce, a
//     complaint, a rejection, and which CC address it removed), after
//     that transaction.
//
// The event's id is recorded with the change, so a redelivered event
// changes nothing (it returns nil). An event about a customer that no
// longer exists is ignored. Errors: Invalid (a malformed event).
func (s *Service) RecordMailEvent(ctx context.Context, ev MailEvent) error {
	switch {
	case ev.ID == "":
		return apperr.Invalidf("id", "a mail event needs its id")
	case ev.Kind != MailBounced && ev.Kind != MailComplaint && ev.Kind != MailDelivered && ev.Kind != MailRejected:
		return apperr.Invalidf("kind", "mail event kind %q is not one Dunlin records", ev.Kind)
	case !ids.Valid("cus_", ev.CustomerID):
		return apperr.Invalidf("customer_id", "mail event %s names no customer (%q)", ev.ID, ev.CustomerID)
	}
	at := ev.At.UTC()
	if at.IsZero() {
		at = s.now().UTC()
	}
	var removed []string // CC addresses this event took off the list
	_, err := retryRaces(ctx, func() (struct{}, error) {
		removed = nil
		c, err := s.GetCustomer(ctx, ev.CustomerID)
		if err != nil {
			return struct{}{}, err
		}
		pt := &Posting{Event: &EventRecord{Provider: mailEventsFrom, ID: ev.ID, Type: ev.Kind, At: at}, CustomerID: c.ID}
		if ev.Kind != MailBounced && ev.Kind != MailComplaint {
			return struct{}{}, s.store.Post(ctx, pt)
		}
		reason := "hard bounce"
		if ev.Kind == MailComplaint {
			reason = "complaint (marked as spam)"
		}
		if d := strings.TrimSpace(ev.Detail); d != "" {
			reason += ": " + d
		}
		changed := *c
		if !c.EmailInvalid && addressed(c.Email, ev.Recipients) {
			changed.EmailInvalid, changed.EmailError, changed.EmailErrorAt = true, reason, &at
			pt.Alerts = append(pt.Alerts, &Alert{ID: ids.New("alr_", at), CustomerID: c.ID, Kind: AlertAddressBounced, State: AlertOpen,
				Ref: c.Email, CreatedAt: at, UpdatedAt: at,
				Message: fmt.Sprintf("dunning to %s has stopped: %s; change the customer's email to resume", c.Email, reason)})
		}
		changed.CC, removed = withoutAddresses(c.CC, ev.Recipients)
		if len(removed) > 0 {
			changed.BouncedCC = append(slices.Clone(c.BouncedCC), removed...)
		}
		for _, addr := range removed {
			pt.Alerts = append(pt.Alerts, &Alert{ID: ids.New("alr_", at), CustomerID: c.ID, Kind: AlertAddressBounced, State: AlertOpen,
				Ref: addr, CreatedAt: at, UpdatedAt: at,
				Message: fmt.Sprintf("%s was removed from the customer's CC list: %s; add a working address to cc if someone should still get copies", addr, reason)})
		}
		if len(pt.Alerts) > 0 {
			changed.UpdatedAt, changed.Version = s.now().UTC(), c.Version+1
			pt.Customer = &changed
		}
		return struct{}{}, s.store.Post(ctx, pt)
	})
	switch {
	case errors.Is(err, ErrDuplicateEvent), apperr.Is(err, apperr.NotFound):
		return nil
	case err != nil:
		return fmt.Errorf("record mail event %s: %w", ev.ID, err)
	}
	contact := Contact{At: at, Channel: "email", Direction: "outbound", Ref: ev.MessageID, Outcome: ev.Kind,
		Summary: mailSummary(ev, removed)}
	if err := s.store.AddContact(ctx, ev.CustomerID, contact, nil); err != nil {
		return fmt.Errorf("log mail event %s: %w", ev.ID, err)
	}
	return nil
}

// addressed reports whether the event is about the customer's own address
// (not a CC, which a bounce must not cost the customer's dunning).
func addressed(email string, recipients []string) bool {
	for _, r := range recipients {
		if strings.EqualFold(strings.TrimSpace(r), strings.TrimSpace(email)) {
			return true
		}
	}
	return false
}

// withoutAddresses returns cc without the recipients (compared as
// addresses are, ignoring case), and the addresses it took out. cc itself
// is not changed: it is the customer as read, the audit trail's "before".
func withoutAddresses(cc, recipients []string) (kept, removed []string) {
	for _, addr := range cc {
		if addressed(addr, recipients) {
			removed = append(removed, addr)
		} else {
			kept = append(kept, addr)
		}
	}
	if removed == nil {
		return cc, nil
	}
	return kept, removed
}

// mailSummary is the contact-log line of an event. The CC addresses it
// removed come before SES's diagnostic, so a long diagnostic cut to
// length cannot hide them.
func mailSummary(ev MailEvent, removedCC []string) string {
	to := strings.Join(ev.Recipients, ", ")
	s := map[string]string{
		MailBounced:   "Email bounced for good from " + to,
		MailComplaint: "Complaint (marked as spam) from " + to,
		MailDelivered: "Email delivered to " + to,
		MailRejected:  "SES rejected the email to " + to,
	}[ev.Kind]
	if len(removedCC) > 0 {
		s += " (removed from the CC list: " + strings.Join(removedCC, ", ") + ")"
	}
	if d := strings.TrimSpace(ev.Detail); d != "" {
		s += ": " + d
	}
	if len(s) > maxDescription {
		s = s[:maxDescription]
	}
	return s
}
