package billing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"dunlin/shared/apperr"
	"dunlin/shared/ids"
	"dunlin/shared/money"
)

// Outcome says what a provider event did to the books.
type Outcome string

const (
	OutcomeApplied   Outcome = "applied"   // the books changed
	OutcomeNoChange  Outcome = "no_change" // nothing new: a repeat of facts already known
	OutcomeDuplicate Outcome = "duplicate" // this event id was processed before
)

// ApplyProviderEvent folds a payment provider's event into the books,
// exactly once, whatever the order and number of deliveries.
//
// The payment the event is about (keyed by the provider's payment id)
// keeps the facts reported so far: that it succeeded and for how much, the
// largest refunded amount reported, and each dispute's latest status. An
// event merges its facts in; the books are then moved to what the merged
// facts say: the amount applied once (to the matched invoice, or oldest due
// first, or kept unmatched for the firm to allocate), refunds and lost
// disputes taken back, and dunning paused while a dispute is open. Because
// the merge is order-independent and the books follow the merged facts,
// any order of delivery ends in the same books.
//
// Errors: Invalid (a success without amount or currency), Unavailable,
// Conflict (contention beyond retries).
func (s *Service) ApplyProviderEvent(ctx context.Context, ev *ProviderEvent) (Outcome, error) {
	if ev.Provider == "" || ev.EventID == "" || ev.PaymentRef == "" {
		return "", apperr.New(apperr.Invalid, "event needs a provider, an id and a payment reference")
	}
	if s := ev.Success; s != nil {
		if err := money.CheckAmount(s.Amount, 1); err != nil {
			return "", apperr.Invalidf("amount", "amount %v", err)
		}
		cur, err := checkCurrency("currency", s.Currency)
		if err != nil {
			return "", err
		}
		s.Currency = cur
	}
	return retryRaces(ctx, func() (Outcome, error) {
		seen, err := s.store.EventSeen(ctx, ev.Provider, ev.EventID)
		if err != nil {
			return "", err
		}
		if seen {
			return OutcomeDuplicate, nil
		}
		now := s.now().UTC()
		rec := &EventRecord{Provider: ev.Provider, ID: ev.EventID, Type: ev.Type, At: now}
		before, err := s.providerPayment(ctx, ev)
		switch {
		case apperr.Is(err, apperr.NotFound):
			before = &Payment{ID: ids.New("pay_", now), Provider: ev.Provider, ProviderRef: ev.PaymentRef, Method: "card", CreatedAt: now}
		case err != nil:
			return "", err
		}
		if err := s.dropForeignRefs(ctx, ev, before); err != nil {
			return "", err
		}
		p := before.clone()
		newRefs := p.learnRefs(ev)
		if !p.mergeFacts(ev) && len(newRefs) == 0 {
			err := s.store.Post(ctx, &Posting{Event: rec})
			if errors.Is(err, ErrDuplicateEvent) {
				return OutcomeDuplicate, nil
			}
			return OutcomeNoChange, err
		}
		p.UpdatedAt, p.Version = now, p.Version+1
		pt := &Posting{Event: rec, Payment: p}
		if before.Version > 0 { // a new payment gets all its guards when created
			pt.NewRefs = newRefs
		}
		if err := s.reconcile(ctx, pt, before, p); err != nil {
			return "", err
		}
		err = s.store.Post(ctx, pt)
		if errors.Is(err, ErrDuplicateEvent) {
			return OutcomeDuplicate, nil
		}
		if err != nil {
			return "", err
		}
		return OutcomeApplied, nil
	})
}

// providerPayment finds the payment an event is about by any of the ids
// it gives. Errors: NotFound.
func (s *Service) providerPayment(ctx context.Context, ev *ProviderEvent) (*Payment, error) {
	var err error
	for _, ref := range append([]string{ev.PaymentRef}, ev.AltRefs...) {
		var p *Payment
		if p, err = s.store.GetPaymentByRef(ctx, ev.Provider, ref); !apperr.Is(err, apperr.NotFound) {
			return p, err
		}
	}
	return nil, err
}

// dropForeignRefs removes from the event the ids another payment already
// holds. That happens when a refund or dispute named the PaymentIntent
// before anything linked it to the invoice's payment: the two records stay
// apart (and the firm sees the refund as a pending payment) rather than
// the event failing for ever.
func (s *Service) dropForeignRefs(ctx context.Context, ev *ProviderEvent, p *Payment) error {
	kept := ev.AltRefs[:0:0]
	for _, ref := range ev.AltRefs {
		if ref == p.ProviderRef || slices.Contains(p.AltRefs, ref) {
			kept = append(kept, ref)
			continue
		}
		other, err := s.store.GetPaymentByRef(ctx, ev.Provider, ref)
		switch {
		case apperr.Is(err, apperr.NotFound):
			kept = append(kept, ref)
		case err != nil:
			return err
		case other.ID == p.ID:
			kept = append(kept, ref)
		}
	}
	ev.AltRefs = kept
	return nil
}

// reconcile moves the books to what p's merged facts say, adding the
// writes to pt. before is p as stored (Version 0 when new).
func (s *Service) reconcile(ctx context.Context, pt *Posting, before, p *Payment) error {
	now := s.now().UTC()
	if p.Amount > 0 && !p.Applied {
		cust, prefer, err := s.resolveMatch(ctx, p.Hint)
		if err != nil {
			return err
		}
		p.Applied = true
		p.Unapplied = p.Amount
		if cust != nil {
			p.CustomerID = cust.ID
			applies, rest, err := s.placeMoney(ctx, cust.ID, p.Currency, p.Amount, p.ReceivedOn, nil, prefer)
			if err != nil {
				return err
			}
			p.addAllocations(applies)
			p.Unapplied = rest
			pt.Applies = applies
			pt.addCredit(p.Currency, rest)
			pt.RespondedAt = &now
		}
	}
	pt.CustomerID = p.CustomerID
	if p.Applied {
		// Take back what the provider says was refunded or lost in a
		// dispute, beyond what the books already took back.
		if d := min(p.ProviderRefunded-p.SyncedRefund, p.Remaining()); d > 0 {
			if err := s.reverseInto(ctx, pt, p, KindRefund, d, "refunded by "+p.Provider, p.ProviderRef); err != nil {
				return err
			}
			p.SyncedRefund += d
		}
		if d := min(p.lostDisputes()-p.SyncedChargeback, p.Remaining()); d > 0 {
			if err := s.reverseInto(ctx, pt, p, KindChargeback, d, "dispute lost in "+p.Provider, p.ProviderRef); err != nil {
				return err
			}
			p.SyncedChargeback += d
		}
	}
	pt.creditHolding(before, p)
	pt.CreditHolders, pt.CreditCleared = dedupe(pt.CreditHolders), dedupe(pt.CreditCleared)
	return s.disputePause(ctx, pt, p)
}

// disputePause keeps the customer's dispute holds in step with this
// payment: while any of its payments has a dispute open, dunning is paused
// (Customer.PausedOn); when the last closes, it resumes. A pause the firm
// set itself is a separate thing and is left alone.
func (s *Service) disputePause(ctx context.Context, pt *Posting, p *Payment) error {
	if p.CustomerID == "" {
		return nil
	}
	c, err := s.store.GetCustomer(ctx, p.CustomerID)
	if err != nil {
		return err
	}
	ref := p.Provider + ":" + p.ProviderRef
	_, isOpen := p.openDispute()
	has := slices.Contains(c.DisputeHolds, ref)
	switch {
	case isOpen && !has:
		c.DisputeHolds = append(slices.Clone(c.DisputeHolds), ref)
	case !isOpen && has:
		c.DisputeHolds = slices.DeleteFunc(slices.Clone(c.DisputeHolds), func(h string) bool { return h == ref })
	default:
		return nil
	}
	if pt.RespondedAt != nil {
		c.LastResponseAt = pt.RespondedAt
	}
	c.UpdatedAt, c.Version = s.now().UTC(), c.Version+1
	pt.Customer = c
	return nil
}

// resolveMatch finds the customer, and the invoice if one is named, that a
// payment hint points to. Nothing found is not an error: the payment is
// kept unmatched for the firm to allocate.
func (s *Service) resolveMatch(ctx context.Context, m Match) (*Customer, *Invoice, error) {
	var inv *Invoice
	var err error
	switch {
	case m.InvoiceID != "" && ids.Valid("inv_", m.InvoiceID):
		inv, err = s.store.GetInvoice(ctx, m.InvoiceID)
	case m.InvoiceExternalID != "":
		inv, err = s.store.GetInvoiceByExternalID(ctx, m.InvoiceExternalID)
	case m.InvoiceNumber != "":
		inv, err = s.store.GetInvoiceByNumber(ctx, strings.TrimSpace(m.InvoiceNumber))
	default:
		err = apperr.NotFoundf("no invoice named")
	}
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return nil, nil, fmt.Errorf("match invoice: %w", err)
	}
	if inv != nil {
		c, err := s.store.GetCustomer(ctx, inv.CustomerID)
		if err != nil {
			return nil, nil, fmt.Errorf("match invoice's customer: %w", err)
		}
		return c, inv, nil
	}
	var c *Customer
	switch {
	case m.CustomerID != "" && ids.Valid("cus_", m.CustomerID):
		c, err = s.store.GetCustomer(ctx, m.CustomerID)
	case m.CustomerExternalID != "":
		c, err = s.store.GetCustomerByExternalID(ctx, m.CustomerExternalID)
	default:
		return nil, nil, nil
	}
	if apperr.Is(err, apperr.NotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("match customer: %w", err)
	}
	return c, nil, nil
}

func dedupe(xs []string) []string {
	seen := map[string]bool{}
	out := xs[:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
