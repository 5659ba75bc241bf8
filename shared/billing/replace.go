package billing

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"dunlin/shared/civil"
	"dunlin/shared/ids"
)

// Re-placing a provider payment.
//
// A provider tells of one payment in several events that can arrive in
// any order, and not every event says whom the money is for. Stripe's
// payment_intent.succeeded for an invoice's PaymentIntent names only the
// customer; invoice.paid names the invoice (metadata dunlin_invoice_id)
// but, in current API versions, not the PaymentIntent; invoice_payment.paid
// links the two. Dunlin books money as soon as it is known to have
// arrived, on what is known then: the customer's oldest invoices first,
// or kept unmatched. When a later event says more (an invoice where only
// a customer was known, or that two ids Dunlin booked apart are one
// payment), the money is taken off where it was and put where it belongs,
// in the same transaction as the event that told: the books end the same
// whatever the order.

// mergeMatch folds what another event says about who paid into m: empty
// fields are filled; a field two events fill differently keeps the
// smaller value, so the result does not depend on the order, and the
// disagreement is reported.
func mergeMatch(m *Match, o Match) (changed, conflict bool) {
	merge := func(dst *string, v string) {
		switch {
		case v == "" || *dst == v:
		case *dst == "":
			*dst, changed = v, true
		default:
			conflict = true
			if v < *dst {
				*dst, changed = v, true
			}
		}
	}
	merge(&m.InvoiceID, o.InvoiceID)
	merge(&m.InvoiceExternalID, o.InvoiceExternalID)
	merge(&m.InvoiceNumber, o.InvoiceNumber)
	merge(&m.CustomerID, o.CustomerID)
	merge(&m.CustomerExternalID, o.CustomerExternalID)
	return changed, conflict
}

// twinOf reports whether other, a provider payment already in the books
// under other ids, is the same money as p, so that p can take it over:
// the same provider, currency and amount, and nothing on it that only a
// person could have done (a refund booked by hand, a firm's external id).
// Anything else is two payments the firm must look at.
func (p *Payment) twinOf(other *Payment) bool {
	return other.Applied && p.Applied && other.Provider == p.Provider && other.Currency == p.Currency &&
		other.Amount == p.Amount && other.ExternalID == "" && other.Refunded == other.SyncedRefund &&
		other.ChargedBack == other.SyncedChargeback && (other.CustomerID == "" || p.CustomerID == "" || other.CustomerID == p.CustomerID)
}

// unplace takes a payment's money off the books as they stand in pt:
// each allocation goes back onto its invoice (as if it had never been
// applied: the movement is undone on the day it was made), and its
// unapplied rest stops being the customer's credit. The payment keeps the
// money as unapplied, with no customer's credit behind it, for place to
// put down again (or, for a twin, to be deleted).
func (s *Service) unplace(ctx context.Context, pt *Posting, p *Payment) error {
	now := s.now().UTC()
	today := civil.Today(now, earliestZone)
	if p.CustomerID != "" {
		pt.addCredit(p.Currency, -p.Unapplied)
	}
	for _, a := range p.Allocations {
		inv, err := s.invoiceInPosting(ctx, pt, a.InvoiceID)
		if err != nil {
			return fmt.Errorf("take payment %s off invoice %s: %w", p.ID, a.InvoiceID, err)
		}
		inv.Balance += a.Amount + a.Discount
		inv.Paid -= a.Amount
		inv.DiscountTaken -= a.Discount
		inv.Movements = append(slices.Clone(inv.Movements), Movement{On: p.ReceivedOn, Amount: a.Amount + a.Discount})
		switch {
		case inv.State == StatePaid:
			inv.State, inv.PaidOn, inv.NextActionOn = StateOpen, civil.Date{}, today
		case inv.State == StateOpen && (inv.NextActionOn.IsZero() || inv.NextActionOn.After(today)):
			inv.NextActionOn = today
		}
		p.Unapplied += a.Amount
	}
	p.Allocations = nil
	return nil
}

// invoiceInPosting returns the invoice as pt leaves it: the copy pt
// already rewrites, or a fresh read added to pt.Rewritten.
func (s *Service) invoiceInPosting(ctx context.Context, pt *Posting, id string) (*Invoice, error) {
	if inv := findInvoice(pt.Rewritten, id); inv != nil {
		return inv, nil
	}
	inv, err := s.store.GetInvoice(ctx, id)
	if err != nil {
		return nil, err
	}
	inv.Version++
	inv.UpdatedAt = s.now().UTC()
	pt.Rewritten = append(pt.Rewritten, inv)
	return inv, nil
}

// place puts a payment's unapplied money on customer c's invoices as the
// books stand in pt: on prefer when it names one (the rest is credit),
// else oldest due first. Every invoice it pays is rewritten whole in pt,
// so an invoice unplace reopened in the same posting is written once.
func (s *Service) place(ctx context.Context, pt *Posting, p *Payment, c *Customer, prefer *Invoice) error {
	now := s.now().UTC()
	p.CustomerID, p.PlacedFor = c.ID, ""
	var applies []Apply
	rest := p.Unapplied
	if prefer != nil {
		// A named invoice is paid even while disputed: that is no guess.
		p.PlacedFor = prefer.ID
		inv := findInvoice(pt.Rewritten, prefer.ID)
		if inv == nil {
			inv = prefer
		}
		if a, ok := applyTo(inv, rest, p.ReceivedOn); ok && inv.CustomerID == c.ID && inv.Currency == p.Currency {
			applies, rest = []Apply{a}, rest-a.Amount
		}
	} else {
		targets, err := s.openInvoicesInPosting(ctx, pt, c.ID, p.Currency)
		if err != nil {
			return err
		}
		applies, rest = allocateOldestFirst(rest, p.ReceivedOn, targets)
		if len(applies) > maxAllocations {
			applies, rest = applies[:maxAllocations], rest+sumApplied(applies[maxAllocations:])
		}
	}
	var facts []Apply
	for _, a := range applies {
		inv, err := s.invoiceInPosting(ctx, pt, a.Invoice.ID)
		if err != nil {
			return err
		}
		a.Invoice = inv.clone() // as it stood: the event's "balance after" is worked out from it
		facts = append(facts, a)
		applyInMemory(inv, a)
	}
	p.addAllocations(facts)
	p.Unapplied = rest
	pt.addCredit(p.Currency, rest)
	pt.RespondedAt = &now
	pt.raisePaymentApplied(p, facts, now)
	return nil
}

func sumApplied(as []Apply) int64 {
	var n int64
	for _, a := range as {
		n += a.Amount
	}
	return n
}

// openInvoicesInPosting lists customer cid's open invoices in currency,
// oldest due first, as pt leaves them: the stored ones, with pt's copies
// in their place and the ones pt reopens added.
func (s *Service) openInvoicesInPosting(ctx context.Context, pt *Posting, cid, currency string) ([]*Invoice, error) {
	var out []*Invoice
	err := s.store.ListInvoices(ctx, InvoiceRange{CustomerID: cid, State: StateOpen, PageSize: 100}, func(inv *Invoice, _ string) bool {
		if findInvoice(pt.Rewritten, inv.ID) == nil && inv.Currency == currency {
			out = append(out, inv)
		}
		return len(out) < 100
	})
	if err != nil {
		return nil, fmt.Errorf("open invoices of %s: %w", cid, err)
	}
	for _, inv := range pt.Rewritten {
		if inv.CustomerID == cid && inv.Currency == currency && inv.State == StateOpen {
			out = append(out, inv)
		}
	}
	slices.SortFunc(out, func(a, b *Invoice) int { return cmp.Or(a.DueOn.Compare(b.DueOn), cmp.Compare(a.ID, b.ID)) })
	return out, nil
}

// applyInMemory does to a rewritten invoice what the store's balance-
// conditioned update does to a stored one (see store.applyUpdate).
func applyInMemory(inv *Invoice, a Apply) {
	wakes := inv.PromiseID == "" && !inv.Disputed && inv.InstallmentChangedBy(a.Amount)
	settles := a.Amount+a.Discount >= inv.Balance
	inv.Paid += a.Amount
	inv.DiscountTaken += a.Discount
	inv.Balance -= a.Amount + a.Discount
	inv.Movements = append(slices.Clone(inv.Movements), a.Movement())
	switch {
	case settles:
		inv.State, inv.PaidOn, inv.PromiseID, inv.NextActionOn = StatePaid, a.On, "", civil.Date{}
	case wakes:
		inv.NextActionOn = a.On
	}
}

func (inv *Invoice) clone() *Invoice {
	cp := *inv
	cp.Movements = slices.Clone(inv.Movements)
	return &cp
}

// rematch re-places an applied provider payment when what is now known of
// who paid (p.Hint, just merged) points somewhere better than where its
// money is: to a customer when it was unmatched, or to a named invoice of
// the same customer when it was placed oldest first or on another invoice.
// Money a person allocated stays where they put it. A hint that points at
// another customer's invoice is not followed: it raises an alert instead.
func (s *Service) rematch(ctx context.Context, pt *Posting, p *Payment) (*Customer, error) {
	c, prefer, err := s.resolveMatch(ctx, p.Hint)
	switch {
	case err != nil:
		return nil, err
	case c == nil || p.AllocatedByHand:
		return c, nil
	case p.CustomerID != "" && c.ID != p.CustomerID:
		pt.Alerts = append(pt.Alerts, s.providerAlert(p.CustomerID, p.ProviderRef,
			fmt.Sprintf("%s payment %s is booked for customer %s, but a later event names customer %s's records (%s); nothing was moved: check which is right",
				p.Provider, refsOf(p), p.CustomerID, c.ID, describeMatch(p.Hint))))
		return nil, nil
	case p.CustomerID != "" && (prefer == nil || prefer.ID == p.PlacedFor):
		return c, nil // already placed on the best that is known
	}
	if err := s.unplace(ctx, pt, p); err != nil {
		return nil, err
	}
	return c, s.place(ctx, pt, p, c, prefer)
}

// AlertProviderPayment is raised when a provider's events about a payment
// cannot be squared without a person: two ids the provider says are one
// payment, booked apart with different amounts; or a later event naming
// another customer than the one the money was booked for.
const AlertProviderPayment = "provider_payment_conflict"

func (s *Service) providerAlert(customerID, ref, message string) *Alert {
	now := s.now().UTC()
	return &Alert{ID: ids.New("alr_", now), CustomerID: customerID, Kind: AlertProviderPayment, State: AlertOpen,
		Message: message, Ref: ref, CreatedAt: now, UpdatedAt: now}
}

func refsOf(p *Payment) string {
	out := p.ProviderRef
	for _, r := range p.AltRefs {
		out += "/" + r
	}
	return out
}

func describeMatch(m Match) string {
	out := ""
	for _, f := range [][2]string{{"invoice", m.InvoiceID}, {"invoice external id", m.InvoiceExternalID}, {"invoice number", m.InvoiceNumber},
		{"customer", m.CustomerID}, {"customer external id", m.CustomerExternalID}} {
		if f[1] != "" {
			if out != "" {
				out += ", "
			}
			out += f[0] + " " + f[1]
		}
	}
	return out
}
