package billing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
	"dunlin/shared/ids"
	"dunlin/shared/money"
)

// Promise is a customer's promise to pay an amount by a date, for some of
// its invoices. While it is open, dunning for those invoices pauses; when
// the date and a grace period pass without the money, it is broken: an
// alert is raised and dunning resumes, with the next email saying so.
type Promise struct {
	ID         string
	CustomerID string
	Amount     int64
	Currency   string
	PromisedOn civil.Date
	MadeOn     civil.Date // the customer's date when the promise was made
	GraceDays  int
	InvoiceIDs []string
	// BalanceAtPromise is what the invoices owed when the promise was
	// made: the promise is kept once their balances fell by Amount.
	BalanceAtPromise int64
	TakenBy          string
	Channel          string
	Note             string
	State            PromiseState
	CreatedAt        time.Time
	ResolvedAt       *time.Time
}

// PromiseState is a promise's lifecycle.
type PromiseState string

const (
	PromiseOpen   PromiseState = "open"
	PromiseKept   PromiseState = "kept"
	PromiseBroken PromiseState = "broken"
)

// CheckOn is the first day a promise can be found broken: the day after
// the promised date plus the grace period, in the customer's calendar.
func (p *Promise) CheckOn() civil.Date { return p.PromisedOn.AddDays(p.GraceDays + 1) }

// PromiseNote is what an invoice remembers of a broken promise until the
// next email about it has said so.
type PromiseNote struct {
	PromisedOn civil.Date
	Amount     int64
	Currency   string
}

// Alert is something the firm should look at, about one customer.
type Alert struct {
	ID         string
	CustomerID string
	Kind       string // promise_broken, ...
	State      string // open, acknowledged, resolved
	Message    string
	Ref        string // the record it is about (a promise id, ...)
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Alert kinds and states.
const (
	AlertPromiseBroken = "promise_broken"
	AlertOverLimit     = "exposure_over_limit"
	AlertEscalation    = "escalation"
	// AlertUsuallyOnTimeLate: a customer that usually pays on time is late.
	AlertUsuallyOnTimeLate = "usually_on_time_late"

	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
)

// PromiseInput is the body of POST /v1/customers/{id}/promises.
type PromiseInput struct {
	Amount     *int64   `json:"amount"`
	PromisedOn string   `json:"promised_on"`
	InvoiceIDs []string `json:"invoice_ids"` // all open invoices in the currency when empty
	Currency   string   `json:"currency"`    // the customer's when empty
	GraceDays  *int     `json:"grace_days"`  // DefaultPromiseGrace when absent
	TakenBy    string   `json:"taken_by"`
	Channel    string   `json:"channel"`
	Note       string   `json:"note"`
}

// DefaultPromiseGrace is how many days after the promised date a payment
// still counts (bank transfers take a day or two).
const DefaultPromiseGrace = 3

var promiseChannels = []string{"phone", "email", "meeting", "letter", "portal", "other"}

// MakePromise records a promise to pay: the promised invoices leave the
// dunning queue until the day after the promised date and grace, when the
// sweep checks the promise. It counts as the customer responding.
// Errors: NotFound (customer), Invalid (a field, an invoice not open or
// not the customer's), Conflict (an invoice already under an open promise).
func (s *Service) MakePromise(ctx context.Context, customerID string, in PromiseInput) (*Promise, error) {
	c, err := s.GetCustomer(ctx, customerID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	today := civil.Today(now, Location(s.CustomerZone(c)))
	p := &Promise{ID: ids.New("prm_", now), CustomerID: c.ID, Currency: c.Currency, GraceDays: DefaultPromiseGrace, MadeOn: today,
		TakenBy: strings.TrimSpace(in.TakenBy), Channel: in.Channel, Note: in.Note, State: PromiseOpen, CreatedAt: now}
	if p.Amount, err = requiredAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	if in.Currency != "" {
		if p.Currency, err = checkCurrency("currency", in.Currency); err != nil {
			return nil, err
		}
	}
	if in.PromisedOn == "" {
		return nil, apperr.Invalidf("promised_on", "promised_on is required: the date the customer will pay by")
	}
	if p.PromisedOn, err = checkDate("promised_on", in.PromisedOn); err != nil {
		return nil, err
	}
	if p.PromisedOn.Before(today) || p.PromisedOn.After(today.AddDays(180)) {
		return nil, apperr.Invalidf("promised_on", "promised_on must be from today to 180 days ahead")
	}
	if in.GraceDays != nil {
		if *in.GraceDays < 0 || *in.GraceDays > 30 {
			return nil, apperr.Invalidf("grace_days", "grace_days must be from 0 to 30")
		}
		p.GraceDays = *in.GraceDays
	}
	if err := checkChoice("channel", &p.Channel, "other", promiseChannels); err != nil {
		return nil, err
	}
	if err := checkText("taken_by", p.TakenBy, maxName, false); err != nil {
		return nil, err
	}
	if err := checkText("note", p.Note, maxDescription, false); err != nil {
		return nil, err
	}
	if len(in.InvoiceIDs) > maxAllocations {
		return nil, apperr.Invalidf("invoice_ids", "at most %d invoices per promise", maxAllocations)
	}
	return retryRaces(ctx, func() (*Promise, error) {
		pr := *p
		invs, err := s.promisedInvoices(ctx, c.ID, pr.Currency, in.InvoiceIDs)
		if err != nil {
			return nil, err
		}
		pr.InvoiceIDs, pr.BalanceAtPromise = nil, 0
		for _, inv := range invs {
			pr.InvoiceIDs = append(pr.InvoiceIDs, inv.ID)
			pr.BalanceAtPromise += inv.Balance
			inv.PromiseID, inv.NextActionOn = pr.ID, pr.CheckOn()
			inv.UpdatedAt, inv.Version = now, inv.Version+1
		}
		if pr.Amount > pr.BalanceAtPromise {
			return nil, apperr.Invalidf("amount", "%d is more than the %d the promised invoices owe", pr.Amount, pr.BalanceAtPromise)
		}
		if err := s.store.Post(ctx, &Posting{Promise: &pr, Rewritten: invs, CustomerID: c.ID, RespondedAt: &now}); err != nil {
			return nil, err
		}
		return &pr, nil
	})
}

// promisedInvoices reads the invoices a promise covers: those named, or
// every open one in the currency.
func (s *Service) promisedInvoices(ctx context.Context, cid, currency string, named []string) ([]*Invoice, error) {
	var out []*Invoice
	check := func(field string, inv *Invoice) error {
		switch {
		case inv.CustomerID != cid:
			return apperr.Invalidf(field, "invoice %s belongs to another customer", inv.Number)
		case inv.State != StateOpen:
			return apperr.Invalidf(field, "invoice %s is %s", inv.Number, inv.State)
		case inv.Currency != currency:
			return apperr.Invalidf(field, "invoice %s is in %s, the promise in %s", inv.Number, inv.Currency, currency)
		case inv.Disputed:
			return apperr.Invalidf(field, "invoice %s is disputed: resolve the dispute first", inv.Number)
		case inv.PromiseID != "":
			return apperr.Field(apperr.Conflict, field, "invoice %s is already under promise %s", inv.Number, inv.PromiseID)
		}
		return nil
	}
	if len(named) > 0 {
		for i, id := range named {
			field := fmt.Sprintf("invoice_ids[%d]", i)
			if slices.Contains(named[:i], id) {
				return nil, apperr.Invalidf(field, "invoice %s is listed twice", id)
			}
			inv, err := s.GetInvoice(ctx, id)
			if apperr.Is(err, apperr.NotFound) {
				return nil, apperr.Invalidf(field, "no invoice %q", id)
			} else if err != nil {
				return nil, err
			}
			if err := check(field, inv); err != nil {
				return nil, err
			}
			out = append(out, inv)
		}
		return out, nil
	}
	err := s.store.ListInvoices(ctx, InvoiceRange{CustomerID: cid, State: StateOpen, PageSize: 100}, func(listed *Invoice, _ string) bool {
		if listed.Currency == currency && !listed.Disputed {
			out = append(out, listed)
		}
		return len(out) < maxAllocations
	})
	if err != nil {
		return nil, err
	}
	// The index may lag: read each one as it is now.
	var fresh []*Invoice
	for _, l := range out {
		inv, err := s.GetInvoice(ctx, l.ID)
		if err != nil {
			return nil, err
		}
		if inv.State == StateOpen && inv.PromiseID == "" {
			fresh = append(fresh, inv)
		}
	}
	if len(fresh) == 0 {
		return nil, apperr.Invalidf("invoice_ids", "the customer has no open invoice in %s without a promise", currency)
	}
	return fresh, nil
}

// ListPromises returns a customer's promises, oldest first.
// Errors: NotFound (customer).
func (s *Service) ListPromises(ctx context.Context, customerID string) ([]*Promise, error) {
	if _, err := s.GetCustomer(ctx, customerID); err != nil {
		return nil, err
	}
	ps, err := s.store.ListPromises(ctx, customerID)
	if err != nil {
		return nil, err
	}
	// An open promise whose money has arrived is kept, though the sweep
	// has not looked yet (a paid invoice leaves its queue): say so.
	for _, p := range ps {
		if p.State != PromiseOpen {
			continue
		}
		got, err := s.received(ctx, p)
		if err != nil {
			return nil, err
		}
		if got >= p.Amount {
			p.State = PromiseKept
		}
	}
	return ps, nil
}

// CheckPromise settles an open promise whose check day has come: kept if
// the promised invoices' balances fell by the amount, else broken, which
// raises an alert and marks the invoices so the next email says so. Either
// way the invoices are back in the dunning queue from today. It returns
// the promise as it now stands. Errors: NotFound, Conflict (contention).
func (s *Service) CheckPromise(ctx context.Context, customerID, promiseID string, today civil.Date) (*Promise, error) {
	return retryRaces(ctx, func() (*Promise, error) {
		p, err := s.store.GetPromise(ctx, customerID, promiseID)
		if err != nil {
			return nil, err
		}
		if p.State != PromiseOpen || today.Before(p.CheckOn()) {
			return p, nil
		}
		now := s.now().UTC()
		var held []*Invoice
		for _, id := range p.InvoiceIDs {
			inv, err := s.store.GetInvoice(ctx, id)
			if err != nil {
				return nil, err
			}
			if inv.PromiseID == p.ID {
				held = append(held, inv)
			}
		}
		got, err := s.received(ctx, p)
		if err != nil {
			return nil, err
		}
		pt := &Posting{CustomerID: customerID}
		p.State, p.ResolvedAt = PromiseKept, &now
		if got < p.Amount {
			p.State = PromiseBroken
			pt.Alerts = append(pt.Alerts, &Alert{ID: ids.New("alr_", now), CustomerID: customerID, Kind: AlertPromiseBroken, State: AlertOpen,
				Message: fmt.Sprintf("promise to pay %s by %s was broken", money.Format(p.Amount, p.Currency, "en"), p.PromisedOn),
				Ref:     p.ID, CreatedAt: now, UpdatedAt: now})
			pt.Events = append(pt.Events, promiseBrokenEvent(p, got, now))
		}
		for _, inv := range held {
			inv.PromiseID = ""
			if inv.State == StateOpen {
				inv.NextActionOn = today
				if p.State == PromiseBroken {
					inv.BrokenPromise = &PromiseNote{PromisedOn: p.PromisedOn, Amount: p.Amount, Currency: p.Currency}
				}
			}
			inv.UpdatedAt, inv.Version = now, inv.Version+1
		}
		pt.Rewritten, pt.PromiseUpdate = held, p
		if err := s.store.Post(ctx, pt); err != nil {
			return nil, err
		}
		return p, nil
	})
}

// PromiseOutcome is CheckPromise without writing, for previews: the
// promise as it would stand after a check on today.
func (s *Service) PromiseOutcome(ctx context.Context, customerID, promiseID string, today civil.Date) (*Promise, error) {
	p, err := s.store.GetPromise(ctx, customerID, promiseID)
	if err != nil || p.State != PromiseOpen || today.Before(p.CheckOn()) {
		return p, err
	}
	got, err := s.received(ctx, p)
	if err != nil {
		return nil, err
	}
	p.State = PromiseKept
	if got < p.Amount {
		p.State = PromiseBroken
	}
	return p, nil
}

// received is the money the customer paid (in the promise's currency)
// from the day the promise was made to the last day of its grace: what
// keeps a promise. A later refund or chargeback does not unmake it: the
// customer paid when promised. Money, not balances: a
// void or a credit note does not keep a promise, and a payment applied to
// another of the customer's invoices does.
func (s *Service) received(ctx context.Context, p *Promise) (int64, error) {
	var got int64
	last := p.CheckOn().AddDays(-1)
	err := s.store.ListPayments(ctx, PaymentRange{CustomerID: p.CustomerID, ReceivedFrom: p.MadeOn, PageSize: 100}, func(pay *Payment, _ string) bool {
		if pay.ReceivedOn.After(last) {
			return false
		}
		if pay.Currency == p.Currency && pay.Applied {
			got += pay.Amount
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("payments towards promise %s: %w", p.ID, err)
	}
	return got, nil
}

// ListAlerts returns alerts, oldest first, optionally of one state or customer.
func (s *Service) ListAlerts(ctx context.Context, state, customerID string) ([]*Alert, error) {
	if state != "" && state != AlertOpen && state != AlertAcknowledged && state != AlertResolved {
		return nil, apperr.Field(apperr.BadRequest, "state", "state must be open, acknowledged or resolved")
	}
	all, err := s.store.ListAlerts(ctx, customerID)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(a *Alert) bool { return state != "" && a.State != state }), nil
}

// SetAlertState acknowledges or resolves an alert. Errors: NotFound.
func (s *Service) SetAlertState(ctx context.Context, id, state string) (*Alert, error) {
	if !ids.Valid("alr_", id) {
		return nil, apperr.NotFoundf("no alert %q", id)
	}
	return s.store.SetAlertState(ctx, id, state, s.now().UTC())
}
