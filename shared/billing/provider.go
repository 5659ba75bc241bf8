package billing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
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
// Errors: Invalid (a success without amount or currency, or received on a
// day POST /v1/payments would refuse; a negative refund or dispute),
// Unavailable,
// Conflict (contention beyond retries).
func (s *Service) ApplyProviderEvent(ctx context.Context, ev *ProviderEvent) (Outcome, error) {
	if ev.Provider == "" || ev.EventID == "" || ev.PaymentRef == "" {
		return "", apperr.New(apperr.Invalid, "event needs a provider, an id and a payment reference")
	}
	if v := ev.Success; v != nil {
		if err := money.CheckAmount(v.Amount, 1); err != nil {
			return "", apperr.Invalidf("amount", "amount %v", err)
		}
		cur, err := checkCurrency("currency", v.Currency)
		if err != nil {
			return "", err
		}
		v.Currency = cur
		if err := checkProviderDate(v.ReceivedOn, s.now()); err != nil {
			return "", err
		}
	}
	switch {
	case ev.Refunded < 0:
		return "", apperr.Invalidf("refunded", "a refunded amount cannot be negative")
	case ev.Dispute != nil && ev.Dispute.Amount < 0:
		return "", apperr.Invalidf("amount", "a dispute's amount cannot be negative")
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
		ev := ev.withOwnRefs() // each attempt decides afresh which ids to keep
		found, err := s.providerPayments(ctx, ev)
		if err != nil {
			return "", err
		}
		pick := s.pickPayment(found, ev)
		before := pick.main
		if before == nil {
			before = &Payment{ID: ids.New("pay_", now), Provider: ev.Provider, ProviderRef: ev.PaymentRef, Method: "card", CreatedAt: now}
		}
		p := before.clone()
		pt := &Posting{Event: rec, Alerts: pick.alerts}
		var moved []Repoint
		for _, sh := range pick.shells {
			moved = append(moved, p.absorb(sh)...)
		}
		for _, tw := range pick.twins {
			// The same money booked apart under another id: off the books
			// it comes, and this payment takes over its ids and its facts.
			if tw.CustomerID != "" && tw.Unapplied > 0 {
				pt.CreditCleared = append(pt.CreditCleared, tw.ID)
			}
			if err := s.unplace(ctx, pt, tw.clone()); err != nil {
				return "", err
			}
			moved = append(moved, p.absorb(tw)...)
		}
		newRefs := p.learnRefs(ev)
		told := p.mergeFacts(ev)
		if !told && len(newRefs) == 0 && len(pick.shells) == 0 && len(pick.twins) == 0 && len(pick.alerts) == 0 {
			err := s.store.Post(ctx, &Posting{Event: rec})
			if errors.Is(err, ErrDuplicateEvent) {
				return OutcomeDuplicate, nil
			}
			return OutcomeNoChange, err
		}
		p.UpdatedAt, p.Version = now, p.Version+1
		pt.Payment, pt.Absorbed, pt.Repoints = p, append(slices.Clone(pick.shells), pick.twins...), moved
		if before.Version > 0 { // a new payment gets all its guards when created
			pt.NewRefs = newRefs
		}
		// Who paid is worth working out again only when this event told
		// something new of it.
		rematch := before.Applied && (p.Hint != before.Hint || len(pick.twins) > 0)
		if err := s.reconcile(ctx, pt, before, p, rematch); err != nil {
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

// AlertProviderVersion is raised when a provider's events cannot be read
// in the API version they were sent in.
const AlertProviderVersion = "provider_api_version"

// RaiseDailyAlert raises an alert of kind about ref (with no customer)
// at most once a UTC day: a provider that keeps sending what cannot be
// read is one problem, not one alert per delivery.
// Errors: Unavailable.
func (s *Service) RaiseDailyAlert(ctx context.Context, kind, ref, message string) error {
	now := s.now().UTC()
	day := now.Truncate(24 * time.Hour)
	a := &Alert{ID: ids.Keyed("alr_", day, kind+"\x00"+ref), Kind: kind, State: AlertOpen, Message: message, Ref: ref, CreatedAt: now, UpdatedAt: now}
	err := s.store.Post(ctx, &Posting{Alerts: []*Alert{a}})
	if apperr.Is(err, apperr.Conflict) {
		return nil // raised today already
	}
	return err
}

// checkProviderDate applies POST /v1/payments' rules to the day a
// provider says money arrived: within the years the API accepts, and not
// after today anywhere on Earth.
func checkProviderDate(d civil.Date, now time.Time) error {
	if _, err := checkDate("received_on", d.String()); err != nil {
		return err
	}
	if d.After(civil.Today(now, latestZone)) {
		return apperr.Invalidf("received_on", "received_on %s is in the future", d)
	}
	return nil
}

// providerPayments finds the payments an event's ids lead to, each once,
// in the order of the ids (the event's own payment id first).
func (s *Service) providerPayments(ctx context.Context, ev *ProviderEvent) ([]*Payment, error) {
	var out []*Payment
	for _, ref := range append([]string{ev.PaymentRef}, ev.AltRefs...) {
		p, err := s.store.GetPaymentByRef(ctx, ev.Provider, ref)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(out, func(q *Payment) bool { return q.ID == p.ID }) {
			out = append(out, p)
		}
	}
	return out, nil
}

// picked is what an event's ids lead to.
type picked struct {
	main *Payment // gets the event's facts; nil when the payment is new
	// shells are pending records of the same money (facts only: a refund
	// or dispute named the PaymentIntent before anything tied it to the
	// payment); main absorbs them.
	shells []*Payment
	// twins are the same money booked apart under another id before an
	// event linked the ids (a PaymentIntent and the Stripe invoice it
	// paid); main takes them off the books and over.
	twins  []*Payment
	alerts []*Alert
}

// pickPayment decides which of the payments an event's ids lead to gets
// its facts. Usually there is one. When the event links ids that were
// seen apart, the payment that succeeded takes over the others: pending
// records, and payments of the same amount booked under the other id. Two
// that succeeded with different amounts are not one payment Dunlin can
// merge: they stay apart, the event keeps only the ids of the first, and
// an alert names both for the firm.
func (s *Service) pickPayment(found []*Payment, ev *ProviderEvent) picked {
	var out picked
	if len(found) == 0 {
		return out
	}
	out.main = found[0]
	for _, p := range found {
		if p.Applied {
			out.main = p
			break
		}
	}
	main := out.main
	for _, p := range found {
		switch {
		case p == main:
		case !p.Applied:
			out.shells = append(out.shells, p)
		case main.twinOf(p):
			out.twins = append(out.twins, p)
		default:
			ev.AltRefs = slices.DeleteFunc(ev.AltRefs, func(r string) bool { return r == p.ProviderRef || slices.Contains(p.AltRefs, r) })
			if ev.PaymentRef == p.ProviderRef || slices.Contains(p.AltRefs, ev.PaymentRef) {
				ev.PaymentRef = main.ProviderRef
			}
			out.alerts = append(out.alerts, s.providerAlert(cmp.Or(main.CustomerID, p.CustomerID), main.ProviderRef,
				fmt.Sprintf("%s says %s and %s are one payment, but they are booked as two: %s %d %s and %s %d %s; reverse the one that is not real",
					main.Provider, main.ProviderRef, p.ProviderRef, main.ID, main.Amount, main.Currency, p.ID, p.Amount, p.Currency)))
		}
	}
	return out
}

// reconcile moves the books to what p's merged facts say, adding the
// writes to pt. before is p as stored (Version 0 when new).
//
// rematch: the payment was applied before this event, and the event told
// something new of who paid; its money is re-placed if that points
// somewhere better (see rematch).
func (s *Service) reconcile(ctx context.Context, pt *Posting, before, p *Payment, rematch bool) error {
	now := s.now().UTC()
	var matched *Customer // read while matching; the dispute check reuses it
	if rematch {
		c, err := s.rematch(ctx, pt, p)
		if err != nil {
			return err
		}
		matched = c
	}
	if p.Amount > 0 && !p.Applied {
		cust, prefer, err := s.resolveMatch(ctx, p.Hint)
		if err != nil {
			return err
		}
		matched = cust
		p.Applied = true
		p.Unapplied = p.Amount
		if cust != nil {
			p.CustomerID = cust.ID
			if prefer != nil {
				p.PlacedFor = prefer.ID
			}
			applies, rest, err := s.placeMoney(ctx, cust.ID, p.Currency, p.Amount, p.ReceivedOn, nil, prefer)
			if err != nil {
				return err
			}
			p.addAllocations(applies)
			p.Unapplied = rest
			pt.Applies = applies
			pt.addCredit(p.Currency, rest)
			pt.RespondedAt = &now
			pt.raisePaymentApplied(p, applies, now)
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
	if len(pt.CreditHolders) > 0 && len(pt.CreditCleared) > 0 {
		// A twin absorbed while the payment keeping the money gains
		// credit: one write cannot both add to and take from the account's
		// list. The absorbed id stays listed; creditHolders skips ids whose
		// payment is gone or holds nothing.
		pt.CreditCleared = nil
	}
	return s.disputePause(ctx, pt, p, matched)
}

// disputePause keeps the customer's dispute holds in step with this
// payment: one hold per open dispute ("stripe:pi_...:dp_..."), and dunning
// is paused while there is any (Customer.PausedOn). A hold a person
// released (ResumeCustomer) is not put back by later events about the same
// dispute; a new dispute holds again. A pause the firm set itself is a
// separate thing and is left alone.
//
// known, when not nil, is the customer as just read (saves reading it again).
func (s *Service) disputePause(ctx context.Context, pt *Posting, p *Payment, known *Customer) error {
	if p.CustomerID == "" {
		return nil
	}
	var c *Customer
	if known != nil && known.ID == p.CustomerID {
		cp := *known
		c = &cp
	} else {
		var err error
		if c, err = s.store.GetCustomer(ctx, p.CustomerID); err != nil {
			return err
		}
	}
	prefix := p.Provider + ":" + p.ProviderRef + ":"
	var open []string
	for _, d := range p.Disputes {
		if d.Status == DisputeOpen {
			open = append(open, prefix+d.ID)
		}
	}
	// (An exact "provider:ref" is a hold written before holds were per dispute.)
	ours := func(k string) bool { return strings.HasPrefix(k, prefix) || k+":" == prefix }
	// Keep every hold in its place, so an unchanged set compares equal and
	// the customer is not rewritten for nothing.
	holds := slices.DeleteFunc(slices.Clone(c.DisputeHolds), func(k string) bool {
		return ours(k) && (!slices.Contains(open, k) || slices.Contains(c.DisputesReleased, k))
	})
	for _, k := range open {
		if !slices.Contains(holds, k) && !slices.Contains(c.DisputesReleased, k) {
			holds = append(holds, k)
		}
	}
	// A released dispute is remembered only while it is open.
	released := slices.DeleteFunc(slices.Clone(c.DisputesReleased), func(k string) bool { return ours(k) && !slices.Contains(open, k) })
	if slices.Equal(holds, c.DisputeHolds) && slices.Equal(released, c.DisputesReleased) {
		return nil
	}
	c.DisputeHolds, c.DisputesReleased = holds, released
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
