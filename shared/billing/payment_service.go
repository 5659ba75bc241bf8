package billing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
	"dunlin/shared/ids"
	"dunlin/shared/money"
)

// ErrDuplicateEvent is returned by Store.Post when the posting's provider
// event was already processed: nothing was written.
var ErrDuplicateEvent = errors.New("provider event already processed")

// PaymentRange selects payments: one customer's, the unmatched ones, or all.
type PaymentRange struct {
	CustomerID   string
	ReceivedFrom civil.Date // with CustomerID: only payments received on or after it
	Unmatched    bool
	Cursor       string
	PageSize     int
}

// PaymentInput is the body of POST /v1/payments.
type PaymentInput struct {
	CustomerID         string            `json:"customer_id"`
	CustomerExternalID string            `json:"customer_external_id"`
	Amount             *int64            `json:"amount"`
	Currency           string            `json:"currency"`    // the customer's currency when empty
	ReceivedOn         string            `json:"received_on"` // today in the customer's zone when empty
	Method             string            `json:"method"`      // "other" when empty
	Reference          string            `json:"reference"`
	ExternalID         string            `json:"external_id"`
	Allocations        []AllocationInput `json:"allocations"` // oldest due first when empty
}

// AllocationInput asks for part of a payment to go to one invoice.
type AllocationInput struct {
	InvoiceID string `json:"invoice_id"`
	Amount    *int64 `json:"amount"`
}

// AllocateInput is the body of POST /v1/payments/{id}/allocate: put a
// payment's unapplied rest on invoices, naming the customer if the payment
// has none yet.
type AllocateInput struct {
	CustomerID         string            `json:"customer_id"`
	CustomerExternalID string            `json:"customer_external_id"`
	Allocations        []AllocationInput `json:"allocations"`
}

// ReversalInput is the body of POST /v1/payments/{id}/refunds.
type ReversalInput struct {
	Kind      string `json:"kind"`   // refund (default) or chargeback
	Amount    *int64 `json:"amount"` // everything still refundable when absent
	Reason    string `json:"reason"`
	Reference string `json:"reference"`
}

// CreditNoteInput is the body of POST /v1/credit-notes.
type CreditNoteInput struct {
	InvoiceID string `json:"invoice_id"`
	Amount    *int64 `json:"amount"`
	Reason    string `json:"reason"`
	Number    string `json:"number"`
	IssuedOn  string `json:"issued_on"`
}

// Payment methods accepted on POST /v1/payments.
var methods = []string{"bank_transfer", "card", "cash", "cheque", "direct_debit", "other"}

// maxAllocations: one transaction holds at most 100 items, and each
// invoice a change touches takes two (the change and its audit record).
const maxAllocations = 40

// RecordPayment books money received from a customer: on the invoices
// given, or oldest due first; what is left is credit on account, which
// later invoices consume.
// Errors: Invalid (bad field, unknown customer or invoice, allocation
// larger than a balance or than the payment), Conflict (external_id taken,
// or contention beyond retries).
func (s *Service) RecordPayment(ctx context.Context, in PaymentInput) (*Payment, error) {
	cust, err := s.customerNamed(ctx, in.CustomerID, in.CustomerExternalID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	p := &Payment{
		ID: ids.New("pay_", now), CustomerID: cust.ID, ExternalID: strings.TrimSpace(in.ExternalID),
		Currency: cust.Currency, Method: in.Method, Reference: strings.TrimSpace(in.Reference),
		Applied: true, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if p.Amount, err = requiredAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	if in.Currency != "" {
		if p.Currency, err = checkCurrency("currency", in.Currency); err != nil {
			return nil, err
		}
	}
	today := civil.Today(now, Location(s.CustomerZone(cust)))
	p.ReceivedOn = today
	if in.ReceivedOn != "" {
		if p.ReceivedOn, err = checkDate("received_on", in.ReceivedOn); err != nil {
			return nil, err
		}
		if p.ReceivedOn.After(today) {
			return nil, apperr.Invalidf("received_on", "received_on %s is in the future", p.ReceivedOn)
		}
	}
	if err := checkChoice("method", &p.Method, "other", methods); err != nil {
		return nil, err
	}
	if err := checkText("reference", p.Reference, maxDescription, false); err != nil {
		return nil, err
	}
	if err := checkText("external_id", p.ExternalID, maxExternalID, false); err != nil {
		return nil, err
	}
	if err := checkAllocations(in.Allocations, p.Amount); err != nil {
		return nil, err
	}
	return retryRaces(ctx, func() (*Payment, error) {
		pay := p.clone()
		applies, rest, err := s.placeMoney(ctx, cust.ID, pay.Currency, pay.Amount, pay.ReceivedOn, in.Allocations, nil)
		if err != nil {
			return nil, err
		}
		pay.addAllocations(applies)
		pay.Unapplied = rest
		pt := &Posting{Payment: pay, Applies: applies, CustomerID: cust.ID, RespondedAt: &now}
		pt.addCredit(pay.Currency, rest)
		pt.creditHolding(nil, pay)
		pt.raisePaymentApplied(pay, applies, now)
		if err := s.store.Post(ctx, pt); err != nil {
			return nil, err
		}
		return pay, nil
	})
}

// checkAllocations validates requested allocations against an amount.
func checkAllocations(in []AllocationInput, amount int64) error {
	if len(in) > maxAllocations {
		return apperr.Invalidf("allocations", "at most %d allocations per payment", maxAllocations)
	}
	var sum int64
	seen := map[string]bool{}
	for i, a := range in {
		field := fmt.Sprintf("allocations[%d]", i)
		if a.InvoiceID == "" {
			return apperr.Invalidf(field+".invoice_id", "invoice_id is required")
		}
		if seen[a.InvoiceID] {
			return apperr.Invalidf(field+".invoice_id", "invoice %s is listed twice", a.InvoiceID)
		}
		seen[a.InvoiceID] = true
		if a.Amount == nil {
			return apperr.Invalidf(field+".amount", "amount is required")
		}
		if err := money.CheckAmount(*a.Amount, 1); err != nil {
			return apperr.Invalidf(field+".amount", "amount %v", err)
		}
		sum += *a.Amount
		if sum > amount {
			return apperr.Invalidf("allocations", "allocations add up to more than the %d available", amount)
		}
	}
	return nil
}

// placeMoney decides where amount goes among customer cid's open invoices
// in currency: the explicit allocations if given; else the preferred
// invoice if given (the rest is credit); else oldest due first. It returns
// the applies and what is left over. Errors: Invalid (an explicit
// allocation that does not fit).
func (s *Service) placeMoney(ctx context.Context, cid, currency string, amount int64, day civil.Date, explicit []AllocationInput, prefer *Invoice) ([]Apply, int64, error) {
	if len(explicit) > 0 {
		var out []Apply
		for i, a := range explicit {
			field := fmt.Sprintf("allocations[%d]", i)
			inv, err := s.GetInvoice(ctx, a.InvoiceID)
			if apperr.Is(err, apperr.NotFound) {
				return nil, 0, apperr.Invalidf(field+".invoice_id", "no invoice %q", a.InvoiceID)
			} else if err != nil {
				return nil, 0, err
			}
			switch {
			case inv.CustomerID != cid:
				return nil, 0, apperr.Invalidf(field+".invoice_id", "invoice %s belongs to another customer", inv.Number)
			case inv.State != StateOpen:
				return nil, 0, apperr.Invalidf(field+".invoice_id", "invoice %s is %s", inv.Number, inv.State)
			case inv.Currency != currency:
				return nil, 0, apperr.Invalidf(field+".invoice_id", "invoice %s is in %s, the payment in %s", inv.Number, inv.Currency, currency)
			}
			disc := inv.DiscountOn(day)
			switch want := *a.Amount; {
			case want > inv.Balance:
				return nil, 0, apperr.Invalidf(field+".amount", "%d is more than invoice %s's balance of %d", want, inv.Number, inv.Balance)
			case disc > 0 && want >= inv.Balance-disc:
				out = append(out, Apply{Invoice: inv, Amount: want, Discount: inv.Balance - want, On: day})
			default:
				out = append(out, Apply{Invoice: inv, Amount: want, On: day})
			}
			amount -= *a.Amount
		}
		return out, amount, nil
	}
	if prefer != nil {
		if prefer.CustomerID == cid && prefer.Currency == currency {
			if a, ok := applyTo(prefer, amount, day); ok {
				return []Apply{a}, amount - a.Amount, nil
			}
		}
		return nil, amount, nil
	}
	var out []Apply
	err := s.store.ListInvoices(ctx, InvoiceRange{CustomerID: cid, State: StateOpen, PageSize: 100}, func(inv *Invoice, _ string) bool {
		if inv.Currency != currency {
			return true
		}
		applies, rest := allocateOldestFirst(amount, day, []*Invoice{inv})
		out = append(out, applies...)
		amount = rest
		return amount > 0 && len(out) < maxAllocations
	})
	if err != nil {
		return nil, 0, fmt.Errorf("open invoices of %s: %w", cid, err)
	}
	return out, amount, nil
}

// customerNamed finds the customer a request names by id or external id.
func (s *Service) customerNamed(ctx context.Context, id, externalID string) (*Customer, error) {
	var (
		c     *Customer
		err   error
		field = "customer_id"
	)
	switch {
	case id != "" && externalID != "":
		return nil, apperr.Invalidf("customer_id", "give customer_id or customer_external_id, not both")
	case id != "":
		c, err = s.GetCustomer(ctx, id)
	case externalID != "":
		field = "customer_external_id"
		c, err = s.store.GetCustomerByExternalID(ctx, strings.TrimSpace(externalID))
	default:
		return nil, apperr.Invalidf("customer_id", "customer_id is required")
	}
	if apperr.Is(err, apperr.NotFound) {
		return nil, apperr.Invalidf(field, "no customer with %s %q", field, id+externalID)
	}
	return c, err
}

// GetPayment returns a payment. Errors: NotFound.
func (s *Service) GetPayment(ctx context.Context, id string) (*Payment, error) {
	if !ids.Valid("pay_", id) {
		return nil, apperr.NotFoundf("no payment %q", id)
	}
	return s.store.GetPayment(ctx, id)
}

// ListPayments returns a page of payments in the order they were received.
// Errors: BadRequest (malformed cursor).
func (s *Service) ListPayments(ctx context.Context, q PaymentRange, limit int) (Page[Payment], error) {
	q.PageSize = limit + 1
	return collect(limit, func(fn func(*Payment, string) bool) error {
		return s.store.ListPayments(ctx, q, fn)
	}, func(*Payment) bool { return true })
}

// Allocate puts a payment's unapplied rest on invoices (given, or oldest
// due first), naming its customer first if it had none.
// Errors: NotFound, Invalid, Conflict (nothing left to allocate, another
// customer's payment, contention beyond retries).
func (s *Service) Allocate(ctx context.Context, id string, in AllocateInput) (*Payment, error) {
	var named *Customer
	if in.CustomerID != "" || in.CustomerExternalID != "" {
		c, err := s.customerNamed(ctx, in.CustomerID, in.CustomerExternalID)
		if err != nil {
			return nil, err
		}
		named = c
	}
	return retryRaces(ctx, func() (*Payment, error) {
		before, err := s.GetPayment(ctx, id)
		if err != nil {
			return nil, err
		}
		p := before.clone()
		switch {
		case !p.Applied:
			return nil, apperr.New(apperr.Conflict, "payment %s has not succeeded yet", p.ID)
		case p.Unapplied == 0:
			return nil, apperr.New(apperr.Conflict, "payment %s has nothing left to allocate", p.ID)
		case p.CustomerID == "" && named == nil:
			return nil, apperr.Invalidf("customer_id", "the payment has no customer yet: name one")
		case p.CustomerID != "" && named != nil && named.ID != p.CustomerID:
			return nil, apperr.Invalidf("customer_id", "payment %s belongs to customer %s", p.ID, p.CustomerID)
		}
		if err := checkAllocations(in.Allocations, p.Unapplied); err != nil {
			return nil, err
		}
		wasMatched := p.CustomerID != ""
		if !wasMatched {
			p.CustomerID = named.ID
		}
		p.AllocatedByHand = true // a provider's later events leave it where a person put it
		applies, rest, err := s.placeMoney(ctx, p.CustomerID, p.Currency, p.Unapplied, p.ReceivedOn, in.Allocations, nil)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC()
		p.addAllocations(applies)
		pt := &Posting{Payment: p, Applies: applies, CustomerID: p.CustomerID}
		if wasMatched {
			pt.addCredit(p.Currency, rest-p.Unapplied) // credit used
		} else {
			pt.addCredit(p.Currency, rest) // unmatched money becomes the customer's credit
		}
		p.Unapplied = rest
		pt.creditHolding(before, p)
		p.UpdatedAt, p.Version = now, p.Version+1
		pt.raisePaymentApplied(p, applies, now)
		if err := s.store.Post(ctx, pt); err != nil {
			return nil, err
		}
		return p, nil
	})
}

// Reverse records a refund or chargeback of part or all of a payment: the
// money comes first out of its unapplied rest, then off its invoices
// (newest allocation first), which reopen and re-enter the dunning queue.
// Errors: NotFound, Invalid (kind, amount beyond what is left), Conflict.
func (s *Service) Reverse(ctx context.Context, id string, in ReversalInput) (*Payment, error) {
	kind := in.Kind
	if kind == "" {
		kind = KindRefund
	}
	if kind != KindRefund && kind != KindChargeback {
		return nil, apperr.Invalidf("kind", "kind must be refund or chargeback")
	}
	if in.Amount != nil {
		if err := money.CheckAmount(*in.Amount, 1); err != nil {
			return nil, apperr.Invalidf("amount", "amount %v", err)
		}
	}
	if err := checkText("reason", in.Reason, maxDescription, false); err != nil {
		return nil, err
	}
	if err := checkText("reference", in.Reference, maxDescription, false); err != nil {
		return nil, err
	}
	return retryRaces(ctx, func() (*Payment, error) {
		p, err := s.GetPayment(ctx, id)
		if err != nil {
			return nil, err
		}
		if !p.Applied {
			return nil, apperr.New(apperr.Conflict, "payment %s has not succeeded yet", p.ID)
		}
		amount := p.Remaining()
		if in.Amount != nil {
			amount = *in.Amount
		}
		if amount > p.Remaining() || amount == 0 {
			return nil, apperr.Invalidf("amount", "%d is more than the %d left on payment %s", amount, p.Remaining(), p.ID)
		}
		pt, np, err := s.reversal(ctx, p, kind, amount, strings.TrimSpace(in.Reason), strings.TrimSpace(in.Reference))
		if err != nil {
			return nil, err
		}
		if err := s.store.Post(ctx, pt); err != nil {
			return nil, err
		}
		return np, nil
	})
}

// reversal plans taking amount back from payment p (as read).
func (s *Service) reversal(ctx context.Context, before *Payment, kind string, amount int64, reason, ref string) (*Posting, *Payment, error) {
	now := s.now().UTC()
	p := before.clone()
	pt := &Posting{Payment: p, CustomerID: p.CustomerID}
	if err := s.reverseInto(ctx, pt, p, kind, amount, reason, ref); err != nil {
		return nil, nil, err
	}
	pt.creditHolding(before, p)
	p.UpdatedAt, p.Version = now, p.Version+1
	return pt, p, nil
}

// reverseInto adds a reversal of amount from p to the posting.
func (s *Service) reverseInto(ctx context.Context, pt *Posting, p *Payment, kind string, amount int64, reason, ref string) error {
	now := s.now().UTC()
	fromCredit, reopens := p.reverse(amount)
	if p.CustomerID != "" {
		pt.addCredit(p.Currency, -fromCredit)
	}
	if kind == KindRefund {
		p.Refunded += amount
	} else {
		p.ChargedBack += amount
	}
	p.Reversals = append(p.Reversals, Reversal{Kind: kind, Amount: amount, Reason: reason, Reference: ref, At: now})
	today := civil.Today(now, earliestZone)
	for _, r := range reopens {
		// Money applied and taken back in one posting (a refund reported
		// before the payment itself) nets out: one write per invoice.
		if i := slices.IndexFunc(pt.Applies, func(a Apply) bool { return a.Invoice.ID == r.InvoiceID }); i >= 0 {
			a := &pt.Applies[i]
			a.Amount, a.Discount = a.Amount-r.Amount, 0
			if a.Amount == 0 {
				pt.Applies = slices.Delete(pt.Applies, i, i+1)
			}
			continue
		}
		inv := findInvoice(pt.Rewritten, r.InvoiceID)
		if inv == nil {
			var err error
			if inv, err = s.store.GetInvoice(ctx, r.InvoiceID); err != nil {
				return fmt.Errorf("reopen invoice %s: %w", r.InvoiceID, err)
			}
			inv.Version++
			inv.UpdatedAt = now
			pt.Rewritten = append(pt.Rewritten, inv)
		}
		reopen(inv, r, today, now)
	}
	return nil
}

func findInvoice(list []*Invoice, id string) *Invoice {
	for _, inv := range list {
		if inv.ID == id {
			return inv
		}
	}
	return nil
}

// CreateCreditNote reduces an open invoice's balance.
// Errors: Invalid (unknown invoice, amount beyond the balance), Conflict
// (invoice not open, contention beyond retries).
func (s *Service) CreateCreditNote(ctx context.Context, in CreditNoteInput) (*CreditNote, error) {
	if _, err := requiredAmount("amount", in.Amount); err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Reason) == "" {
		return nil, apperr.Invalidf("reason", "reason is required: why is the customer credited?")
	}
	if err := checkText("reason", in.Reason, maxDescription, false); err != nil {
		return nil, err
	}
	if err := checkText("number", in.Number, maxNumber, false); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	return retryRaces(ctx, func() (*CreditNote, error) {
		inv, err := s.GetInvoice(ctx, in.InvoiceID)
		if apperr.Is(err, apperr.NotFound) || in.InvoiceID == "" {
			return nil, apperr.Invalidf("invoice_id", "no invoice %q", in.InvoiceID)
		} else if err != nil {
			return nil, err
		}
		if inv.State != StateOpen {
			return nil, apperr.New(apperr.Conflict, "invoice %s is %s; credit notes apply to open invoices", inv.Number, inv.State)
		}
		if *in.Amount > inv.Balance {
			return nil, apperr.Invalidf("amount", "%d is more than invoice %s's balance of %d", *in.Amount, inv.Number, inv.Balance)
		}
		cn := &CreditNote{
			ID: ids.New("cn_", now), CustomerID: inv.CustomerID, InvoiceID: inv.ID, Number: strings.TrimSpace(in.Number),
			Currency: inv.Currency, Amount: *in.Amount, Reason: strings.TrimSpace(in.Reason), CreatedAt: now,
			IssuedOn: civil.Today(now, Location(inv.Timezone)),
		}
		if in.IssuedOn != "" {
			if cn.IssuedOn, err = checkDate("issued_on", in.IssuedOn); err != nil {
				return nil, err
			}
		}
		pt := &Posting{CreditNote: cn, Applies: []Apply{{Invoice: inv, Amount: cn.Amount, Credited: true, On: cn.IssuedOn}}, CustomerID: inv.CustomerID}
		if err := s.store.Post(ctx, pt); err != nil {
			return nil, err
		}
		return cn, nil
	})
}

// GetCreditNote returns a credit note. Errors: NotFound.
func (s *Service) GetCreditNote(ctx context.Context, id string) (*CreditNote, error) {
	if !ids.Valid("cn_", id) {
		return nil, apperr.NotFoundf("no credit note %q", id)
	}
	return s.store.GetCreditNote(ctx, id)
}

// Balance is a customer's position: what it owes on open invoices
// (exposure) and its credit on account, per currency.
type Balance struct {
	CustomerID   string
	Exposure     map[string]int64
	Overdue      map[string]int64
	Credit       map[string]int64
	OpenInvoices int
}

// CustomerBalance reads a customer's exposure from its open invoices and
// its credit from its account. Errors: NotFound.
func (s *Service) CustomerBalance(ctx context.Context, id string) (*Balance, error) {
	c, err := s.GetCustomer(ctx, id)
	if err != nil {
		return nil, err
	}
	acct, err := s.store.GetAccount(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	b := &Balance{CustomerID: c.ID, Exposure: map[string]int64{}, Overdue: map[string]int64{}, Credit: map[string]int64{}}
	for cur, v := range acct.Credit {
		if v != 0 {
			b.Credit[cur] = v
		}
	}
	now := s.now()
	err = s.store.ListInvoices(ctx, InvoiceRange{CustomerID: c.ID, State: StateOpen, PageSize: 100}, func(inv *Invoice, _ string) bool {
		b.Exposure[inv.Currency] += inv.Balance
		if inv.Status(now) == StatusOverdue {
			b.Overdue[inv.Currency] += inv.Balance
		}
		b.OpenInvoices++
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("open invoices of %s: %w", c.ID, err)
	}
	return b, nil
}

// creditHolders reads the customer's payments that hold credit in a
// currency, oldest received first.
func (s *Service) creditHolders(ctx context.Context, customerID, currency string) ([]*Payment, error) {
	acct, err := s.store.GetAccount(ctx, customerID)
	if err != nil {
		return nil, err
	}
	var holders []*Payment
	if acct.Credit[currency] <= 0 {
		return nil, nil
	}
	for _, pid := range acct.CreditPayments {
		p, err := s.store.GetPayment(ctx, pid)
		if apperr.Is(err, apperr.NotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if p.CustomerID == customerID && p.Currency == currency && p.Unapplied > 0 {
			holders = append(holders, p)
		}
	}
	slices.SortFunc(holders, func(a, b *Payment) int {
		return cmp.Or(a.ReceivedOn.Compare(b.ReceivedOn), cmp.Compare(a.ID, b.ID))
	})
	return holders, nil
}

// CreditOnAccount returns the customer's credit per currency (only
// currencies with credit). Errors: internal only.
func (s *Service) CreditOnAccount(ctx context.Context, customerID string) (map[string]int64, error) {
	acct, err := s.store.PeekAccount(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for cur, v := range acct.Credit {
		if v > 0 {
			out[cur] = v
		}
	}
	return out, nil
}

// ApplyCredit pays the given open invoices (oldest due first) from the
// customer's credit on account, if it has any in their currency. It is the
// safety net for credit and open invoices existing side by side: a payment
// that raced an invoice's creation, or a refund that reopened an invoice
// while other money sat on account. The sweep calls it before dunning, so
// nobody is chased for money they already have with the firm. It reports
// whether anything was applied. Errors: Conflict (contention), Unavailable.
func (s *Service) ApplyCredit(ctx context.Context, customerID string, invoices []*Invoice) (bool, error) {
	// A cheap look first: most customers have no credit. The writes read
	// consistently again.
	acct, err := s.store.PeekAccount(ctx, customerID)
	if err != nil {
		return false, err
	}
	byCurrency := map[string][]string{}
	for _, inv := range invoices {
		if acct.Credit[inv.Currency] > 0 && !slices.Contains(byCurrency[inv.Currency], inv.ID) {
			byCurrency[inv.Currency] = append(byCurrency[inv.Currency], inv.ID)
		}
	}
	applied := false
	for cur, ids := range byCurrency {
		for range maxAllocations { // each round uses up one payment's credit or one invoice
			ok, err := retryRaces(ctx, func() (bool, error) { return s.applyCreditTo(ctx, customerID, cur, ids) })
			if err != nil {
				return applied, fmt.Errorf("apply credit of %s: %w", customerID, err)
			}
			if !ok {
				break
			}
			applied = true
		}
	}
	return applied, nil
}

func (s *Service) applyCreditTo(ctx context.Context, customerID, currency string, invoiceIDs []string) (bool, error) {
	holders, err := s.creditHolders(ctx, customerID, currency)
	if err != nil || len(holders) == 0 {
		return false, err
	}
	var open []*Invoice
	for _, id := range invoiceIDs {
		inv, err := s.store.GetInvoice(ctx, id) // consistent: the index may lag
		if err != nil {
			return false, err
		}
		if inv.State == StateOpen && inv.Balance > 0 && !inv.Disputed && inv.CustomerID == customerID {
			open = append(open, inv)
		}
	}
	slices.SortFunc(open, func(a, b *Invoice) int { return cmp.Or(a.DueOn.Compare(b.DueOn), cmp.Compare(a.ID, b.ID)) })
	// One holder per posting, so each invoice is written once; the caller
	// loops while credit and open invoices remain.
	before := holders[0]
	p := before.clone()
	applies, rest := allocateOldestFirst(p.Unapplied, p.ReceivedOn, open) // credit pays as of the day it came in
	if len(applies) == 0 {
		return false, nil
	}
	pt := &Posting{CustomerID: customerID, Payment: p, Applies: applies}
	p.addAllocations(applies)
	pt.addCredit(currency, rest-p.Unapplied)
	p.Unapplied = rest
	p.UpdatedAt, p.Version = s.now().UTC(), p.Version+1
	pt.creditHolding(before, p)
	pt.raisePaymentApplied(p, applies, p.UpdatedAt)
	return true, s.store.Post(ctx, pt)
}

// storeNewInvoice writes a new invoice, consuming the customer's credit in
// its currency first (oldest payment first): the invoice starts with a
// smaller balance, or paid.
//
// limit, when the customer has a credit limit in the invoice's currency, is
// what its open invoices owed before this one: if the new balance takes
// the total over the limit, an alert is raised in the same transaction
// (the invoice is still created: the books must reflect reality).
func (s *Service) storeNewInvoice(ctx context.Context, inv *Invoice, limit *overLimit, create func(*Invoice) error) error {
	acct, err := s.store.GetAccount(ctx, inv.CustomerID)
	if err != nil {
		return err
	}
	if acct.Credit[inv.Currency] <= 0 {
		if a := limit.alert(inv); a != nil {
			return s.store.Post(ctx, &Posting{NewInvoice: inv, Alerts: []*Alert{a}, CustomerID: inv.CustomerID})
		}
		return create(inv)
	}
	base := *inv
	_, err = retryRaces(ctx, func() (struct{}, error) {
		*inv = base
		holders, err := s.creditHolders(ctx, inv.CustomerID, inv.Currency)
		if err != nil {
			return struct{}{}, err
		}
		pt := &Posting{NewInvoice: inv, CustomerID: inv.CustomerID}
		for _, before := range holders {
			a, ok := applyTo(inv, before.Unapplied, inv.IssuedOn)
			if !ok {
				break
			}
			p := before.clone()
			p.addAllocations([]Apply{a})
			p.Unapplied -= a.Amount
			p.UpdatedAt, p.Version = inv.CreatedAt, p.Version+1
			pt.raisePaymentApplied(p, []Apply{a}, inv.CreatedAt) // before the invoice's balance moves
			pt.OtherPayment = append(pt.OtherPayment, p)
			pt.addCredit(inv.Currency, -a.Amount)
			pt.creditHolding(before, p)
			inv.Balance -= a.Amount + a.Discount
			inv.Paid += a.Amount
			inv.DiscountTaken += a.Discount
			inv.Movements = append(inv.Movements, a.Movement())
		}
		if inv.Balance == 0 {
			inv.State, inv.NextActionOn, inv.PaidOn = StatePaid, civil.Date{}, inv.IssuedOn
		}
		if a := limit.alert(inv); a != nil {
			pt.Alerts = append(pt.Alerts, a)
		}
		return struct{}{}, s.store.Post(ctx, pt)
	})
	return err
}

// overLimit is a customer's credit limit and what it owed before a new invoice.
type overLimit struct {
	limit, owed int64
	currency    string
}

// alert is the exposure_over_limit alert for inv, or nil when the limit
// holds (or there is none).
func (o *overLimit) alert(inv *Invoice) *Alert {
	// Only the invoice that crosses the limit raises it, not every later one.
	if o == nil || inv.Currency != o.currency || inv.Balance == 0 || o.owed > o.limit || o.owed+inv.Balance <= o.limit {
		return nil
	}
	return &Alert{ID: ids.New("alr_", inv.CreatedAt), CustomerID: inv.CustomerID, Kind: AlertOverLimit, State: AlertOpen,
		Message: fmt.Sprintf("invoice %s takes exposure to %s, over the credit limit of %s", inv.Number,
			money.Format(o.owed+inv.Balance, o.currency, "en"), money.Format(o.limit, o.currency, "en")),
		Ref: inv.ID, CreatedAt: inv.CreatedAt, UpdatedAt: inv.CreatedAt}
}

// owedBeforeInvoice reads what the customer owes in its limit's currency,
// when it has a limit: one Query of its open invoices.
func (s *Service) owedBeforeInvoice(ctx context.Context, c *Customer) (*overLimit, error) {
	if c.CreditLimit == nil {
		return nil, nil
	}
	o := &overLimit{limit: *c.CreditLimit, currency: c.Currency}
	err := s.store.ListInvoices(ctx, InvoiceRange{CustomerID: c.ID, State: StateOpen, PageSize: 100}, func(inv *Invoice, _ string) bool {
		if inv.Currency == o.currency {
			o.owed += inv.Balance
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("exposure of %s: %w", c.ID, err)
	}
	return o, nil
}
