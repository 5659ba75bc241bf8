package billing

import (
	"math/big"
	"slices"
	"time"

	"dunlin/shared/civil"
	"dunlin/shared/outbound"
)

// Payment is money received from a customer: through the API (a bank
// transfer the firm booked, a cheque), or reported by a payment provider's
// webhook. Its amount is split into allocations to invoices and an
// unapplied rest, which is the customer's credit on account (or, while no
// customer is known, money waiting for the firm to allocate it).
//
// Invariants, kept by every write (one transaction each):
//
//	Amount - Refunded - ChargedBack = Σ Allocations[i].Amount + Unapplied
//	the customer's credit in a currency = Σ Unapplied of its payments in it
//
// For provider payments the books follow the facts the provider reported
// (succeeded, refunded so far, disputes), merged so that events delivered
// twice or out of order end in the same books.
type Payment struct {
	ID          string
	CustomerID  string // empty while unmatched
	ExternalID  string // the firm's own id; unique when set
	Provider    string // "" for API payments; "stripe", "generic"
	ProviderRef string // the provider's payment id; unique per provider
	// AltRefs are other ids the provider uses for the same money (a
	// Stripe invoice id beside its PaymentIntent id), each unique too.
	AltRefs     []string
	Currency    string
	Amount      int64 // minor units received
	ReceivedOn  civil.Date
	Method      string
	Reference   string
	Allocations []Allocation
	Unapplied   int64 // received but not allocated: customer credit (or unmatched)
	Refunded    int64 // returned to the customer
	ChargedBack int64 // taken back through a card dispute
	Reversals   []Reversal
	// Applied is true once Amount is in the books. Provider payments can
	// exist before that: a refund or dispute event may arrive before the
	// payment's own event.
	Applied bool
	// Provider facts, merged from events.
	ProviderRefunded int64 // cumulative refunded amount the provider last reported (the largest seen)
	// What the books took back because the provider said so (refunds and
	// lost disputes); refunds booked through the API, for money returned
	// outside the provider, are not counted here.
	SyncedRefund, SyncedChargeback int64
	Disputes                       []Dispute
	Hint                           Match // whom the provider says paid, merged from every event; used when allocating
	// PlacedFor is the invoice the money was aimed at (the one Hint
	// named when it was placed); "" when it went oldest due first or is
	// unmatched. A later event that names a better one re-places it.
	PlacedFor string
	// AllocatedByHand: a person allocated the money (Allocate); later
	// events never move it.
	AllocatedByHand bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Version         int64
}

// Allocation is part of a payment applied to one invoice. Discount is the
// early-payment discount the allocation earned: the invoice is settled for
// Amount + Discount.
type Allocation struct {
	InvoiceID string
	Amount    int64
	Discount  int64
}

// Reversal is a refund or chargeback recorded against a payment.
type Reversal struct {
	Kind      string // refund or chargeback
	Amount    int64
	Reason    string
	Reference string
	At        time.Time
}

// Reversal kinds.
const (
	KindRefund     = "refund"
	KindChargeback = "chargeback"
)

// Dispute is a card dispute the provider reported on a payment.
type Dispute struct {
	ID     string
	Status string // open, won, lost
	Amount int64
	Reason string
}

// Dispute statuses. Won and lost are final: a late "open" never reopens them.
const (
	DisputeOpen = "open"
	DisputeWon  = "won"
	DisputeLost = "lost"
)

// Match is what a payment tells about whom it is from, strongest first.
type Match struct {
	InvoiceID          string // Dunlin's invoice id (e.g. Stripe metadata dunlin_invoice_id)
	InvoiceExternalID  string // the firm's invoice id (e.g. a Stripe invoice id)
	InvoiceNumber      string // an invoice number quoted as the payment reference
	CustomerID         string
	CustomerExternalID string
}

// PaymentStatus is derived for clients.
type PaymentStatus string

const (
	PaymentPending    PaymentStatus = "pending"    // a provider told of a refund or dispute before the payment itself
	PaymentUnmatched  PaymentStatus = "unmatched"  // no customer known: the firm must allocate it
	PaymentApplied    PaymentStatus = "applied"    // every minor unit is on invoices
	PaymentOnAccount  PaymentStatus = "on_account" // part or all is customer credit
	PaymentReversed   PaymentStatus = "reversed"   // refunded or charged back in full
	PaymentPartReturn PaymentStatus = "partially_reversed"
)

// Status derives the payment's status.
func (p *Payment) Status() PaymentStatus {
	switch {
	case !p.Applied:
		return PaymentPending
	case p.Refunded+p.ChargedBack >= p.Amount:
		return PaymentReversed
	case p.CustomerID == "":
		return PaymentUnmatched
	case p.Refunded+p.ChargedBack > 0:
		return PaymentPartReturn
	case p.Unapplied > 0:
		return PaymentOnAccount
	}
	return PaymentApplied
}

// Remaining is what can still be refunded or charged back.
func (p *Payment) Remaining() int64 { return p.Amount - p.Refunded - p.ChargedBack }

// clone returns a deep copy, so planning never changes what was read.
func (p *Payment) clone() *Payment {
	cp := *p
	cp.Allocations = slices.Clone(p.Allocations)
	cp.Reversals = slices.Clone(p.Reversals)
	cp.Disputes = slices.Clone(p.Disputes)
	cp.AltRefs = slices.Clone(p.AltRefs)
	return &cp
}

// DiscountTerms is an early-payment discount: RateBP basis points off the
// invoice total when paid within Days of the issue date ("2/10 net 30" is
// RateBP 200, Days 10).
type DiscountTerms struct {
	RateBP int64
	Days   int
}

// DiscountOn returns the discount still available to a payment received on
// day: the rate applied to the total less credit notes (rounded half up), when day is within
// the window and no discount was taken yet; capped at the balance.
func (inv *Invoice) DiscountOn(day civil.Date) int64 {
	d := inv.Discount
	if d == nil || d.RateBP <= 0 || inv.DiscountTaken > 0 || inv.State != StateOpen {
		return 0
	}
	if day.After(inv.IssuedOn.AddDays(d.Days)) {
		return 0
	}
	// Exact: (total less credit notes) × rate / 10,000, half up, without
	// overflow. A credit note lowers what was sold, so it lowers the
	// discount too.
	n := new(big.Int).Mul(big.NewInt(inv.Total-inv.Credited), big.NewInt(d.RateBP))
	q, r := new(big.Int).QuoRem(n, big.NewInt(10000), new(big.Int))
	amount := q.Int64()
	if r.Int64()*2 >= 10000 {
		amount++
	}
	return min(amount, inv.Balance)
}

// Apply is money applied to one open invoice, as a store write: the
// invoice as it was read, the amount paid and the discount it earns. When
// Amount + Discount equals the balance read, the invoice is settled; the
// store makes the write conditional on the balance, so a concurrent change
// makes it fail rather than be lost.
type Apply struct {
	Invoice  *Invoice
	Amount   int64
	Discount int64
	Credited bool       // a credit note, not a payment
	On       civil.Date // the day the money came in (or the credit note's date)
}

// Movement is the apply's change to the invoice's principal.
func (a Apply) Movement() Movement { return Movement{On: a.On, Amount: -(a.Amount + a.Discount)} }

// Settles reports whether the apply pays the invoice off.
func (a Apply) Settles() bool { return a.Amount+a.Discount == a.Invoice.Balance }

// applyTo works out how much of available to put on inv for a payment
// received on day: enough to settle it (less any early-payment discount),
// or all that is available.
func applyTo(inv *Invoice, available int64, day civil.Date) (Apply, bool) {
	if available <= 0 || inv.Balance <= 0 || inv.State != StateOpen {
		return Apply{}, false
	}
	disc := inv.DiscountOn(day)
	if need := inv.Balance - disc; need > 0 && available >= need {
		return Apply{Invoice: inv, Amount: need, Discount: disc, On: day}, true
	}
	if available >= inv.Balance { // (a discount as large as the balance is no payment)
		return Apply{Invoice: inv, Amount: inv.Balance, On: day}, true
	}
	return Apply{Invoice: inv, Amount: available, On: day}, true
}

// allocateOldestFirst applies amount to invoices in the order given
// (oldest due first), skipping disputed ones, and returns the applies and
// what is left over.
func allocateOldestFirst(amount int64, day civil.Date, invoices []*Invoice) ([]Apply, int64) {
	var out []Apply
	for _, inv := range invoices {
		if inv.Disputed {
			continue // a disputed invoice is not paid by guesswork
		}
		a, ok := applyTo(inv, amount, day)
		if !ok {
			continue
		}
		out = append(out, a)
		amount -= a.Amount
	}
	return out, amount
}

// allocationsOf records applies on the payment.
func (p *Payment) addAllocations(applies []Apply) {
	for _, a := range applies {
		merged := false
		for i := range p.Allocations {
			if p.Allocations[i].InvoiceID == a.Invoice.ID {
				p.Allocations[i].Amount += a.Amount
				p.Allocations[i].Discount += a.Discount
				merged = true
			}
		}
		if !merged {
			p.Allocations = append(p.Allocations, Allocation{InvoiceID: a.Invoice.ID, Amount: a.Amount, Discount: a.Discount})
		}
	}
}

// Reopen is a reversal's effect on one invoice: money taken back from it
// (and any discount forfeited with it).
type Reopen struct {
	InvoiceID string
	Amount    int64
	Discount  int64
}

// reverse takes amount back from the payment: first from its unapplied
// rest, then from its allocations, newest first. It returns how much came
// from the unapplied rest and what each invoice gets back. A discount is
// forfeited with any part of its allocation: the invoice was no longer paid
// within the window.
func (p *Payment) reverse(amount int64) (fromUnapplied int64, reopens []Reopen) {
	fromUnapplied = min(amount, p.Unapplied)
	p.Unapplied -= fromUnapplied
	rest := amount - fromUnapplied
	for i := len(p.Allocations) - 1; i >= 0 && rest > 0; i-- {
		a := &p.Allocations[i]
		if a.Amount == 0 && a.Discount == 0 {
			continue
		}
		r := min(rest, a.Amount)
		reopens = append(reopens, Reopen{InvoiceID: a.InvoiceID, Amount: r, Discount: a.Discount})
		a.Amount -= r
		a.Discount = 0
		rest -= r
	}
	p.Allocations = slices.DeleteFunc(p.Allocations, func(a Allocation) bool { return a.Amount == 0 && a.Discount == 0 })
	return fromUnapplied, reopens
}

// reopen gives money back to an invoice's balance: it is open again and
// re-enters the dunning queue at the earliest "today" on Earth, so the
// sweep decides its step the next time it runs.
// The money is owed again from the day of the reversal in the invoice's zone.
func reopen(inv *Invoice, r Reopen, today civil.Date, now time.Time) {
	inv.Balance += r.Amount + r.Discount
	inv.Paid -= r.Amount
	inv.DiscountTaken -= r.Discount
	inv.Movements = append(slices.Clone(inv.Movements), Movement{On: civil.Today(now, Location(inv.Timezone)), Amount: r.Amount + r.Discount})
	if inv.State == StatePaid {
		inv.State, inv.PaidOn = StateOpen, civil.Date{}
		inv.NextActionOn = today
	} else if inv.State == StateOpen && (inv.NextActionOn.IsZero() || inv.NextActionOn.After(today)) {
		inv.NextActionOn = today
	}
}

// mergeFacts folds what a provider event says into the payment and reports
// whether anything is new. Success is set once; the refunded amount only
// grows; a dispute moves from open to won or lost and never back. So the
// merge gives the same result in any order and any number of times.
func (p *Payment) mergeFacts(ev *ProviderEvent) bool {
	changed := false
	if s := ev.Success; s != nil {
		if p.Amount == 0 {
			p.Amount, p.Currency, p.ReceivedOn, p.Method, p.Reference = s.Amount, s.Currency, s.ReceivedOn, s.Method, s.Reference
			changed = true
		}
		if more, _ := mergeMatch(&p.Hint, s.Match); more {
			changed = true
		}
	}
	if ev.Refunded > p.ProviderRefunded {
		p.ProviderRefunded = ev.Refunded
		changed = true
	}
	if d := ev.Dispute; d != nil {
		i := slices.IndexFunc(p.Disputes, func(x Dispute) bool { return x.ID == d.ID })
		switch {
		case i < 0:
			p.Disputes = append(p.Disputes, *d)
			changed = true
		case p.Disputes[i].Status == DisputeOpen && d.Status != DisputeOpen:
			p.Disputes[i] = *d
			changed = true
		}
	}
	return changed
}

// withOwnRefs returns a copy of the event whose id list can be changed
// without touching the caller's.
func (ev *ProviderEvent) withOwnRefs() *ProviderEvent {
	cp := *ev
	cp.AltRefs = slices.Clone(ev.AltRefs)
	return &cp
}

// Repoint moves a provider id's guard from one payment to another.
type Repoint struct {
	Ref, From string
}

// absorb takes over another record of the same money: a pending one
// (facts only: a refund or dispute seen before the payment was linked to
// its ids), or a twin whose money unplace has taken off the books. Its
// facts and what it says of who paid merge in, and its ids become this
// payment's.
func (p *Payment) absorb(shell *Payment) []Repoint {
	mergeMatch(&p.Hint, shell.Hint)
	p.mergeFacts(&ProviderEvent{Refunded: shell.ProviderRefunded})
	for i := range shell.Disputes {
		p.mergeFacts(&ProviderEvent{Dispute: &shell.Disputes[i]})
	}
	var out []Repoint
	for _, r := range append([]string{shell.ProviderRef}, shell.AltRefs...) {
		if r != p.ProviderRef && !slices.Contains(p.AltRefs, r) {
			p.AltRefs = append(p.AltRefs, r)
			out = append(out, Repoint{Ref: r, From: shell.ID})
		}
	}
	return out
}

// learnRefs adds the event's ids of the payment that p does not know yet
// and returns them.
func (p *Payment) learnRefs(ev *ProviderEvent) []string {
	var out []string
	for _, r := range append([]string{ev.PaymentRef}, ev.AltRefs...) {
		if r != "" && r != p.ProviderRef && !slices.Contains(p.AltRefs, r) {
			p.AltRefs = append(p.AltRefs, r)
			out = append(out, r)
		}
	}
	return out
}

// lostDisputes is the amount of disputes the firm lost.
func (p *Payment) lostDisputes() int64 {
	var n int64
	for _, d := range p.Disputes {
		if d.Status == DisputeLost {
			n += d.Amount
		}
	}
	return n
}

// openDispute returns the first open dispute, if any.
func (p *Payment) openDispute() (Dispute, bool) {
	for _, d := range p.Disputes {
		if d.Status == DisputeOpen {
			return d, true
		}
	}
	return Dispute{}, false
}

// CreditNote reduces what a customer owes on an invoice without money
// changing hands: goods returned, a price corrected.
type CreditNote struct {
	ID         string
	CustomerID string
	InvoiceID  string
	Number     string
	Currency   string
	Amount     int64
	Reason     string
	IssuedOn   civil.Date
	CreatedAt  time.Time
}

// Account is a customer's money position that is not on an invoice: credit
// on account per currency, and which payments hold it.
type Account struct {
	CustomerID     string
	Credit         map[string]int64
	CreditPayments []string // ids of payments with an unapplied rest
}

// ProviderEvent is what one webhook delivery says about one provider
// payment. Zero fields were not told.
type ProviderEvent struct {
	Provider   string
	EventID    string
	Type       string
	PaymentRef string   // the provider's id of the payment the event is about
	AltRefs    []string // other ids of the same payment the event reveals
	Success    *ProviderSuccess
	Refunded   int64 // cumulative amount refunded so far
	Dispute    *Dispute
}

// ProviderSuccess is a provider's report that a payment succeeded.
type ProviderSuccess struct {
	Amount     int64
	Currency   string
	ReceivedOn civil.Date
	Method     string
	Reference  string
	Match      Match
}

// EventRecord marks a provider event as processed; it expires after
// EventRetention (providers stop retrying long before).
type EventRecord struct {
	Provider string
	ID       string
	Type     string
	At       time.Time
}

// EventRetention is how long processed event ids are kept.
const EventRetention = 35 * 24 * time.Hour

// Posting is one change to the books, written by the store as one
// DynamoDB transaction: every item changes or none does.
type Posting struct {
	Event        *EventRecord // written only if new; a duplicate cancels the posting
	Payment      *Payment     // created when Version is 1, else written on its version
	OtherPayment []*Payment   // payments whose credit a new invoice consumed
	NewInvoice   *Invoice     // created with its number and external-id guards
	Applies      []Apply      // money applied to open invoices (balance-conditioned)
	Rewritten    []*Invoice   // invoices written whole on their version (reopened, promised)
	CreditNote   *CreditNote
	// Promise is created; PromiseUpdate rewritten (its state). Alerts are
	// created.
	Promise       *Promise
	PromiseUpdate *Promise
	Alerts        []*Alert
	// NewRefs are provider ids newly known for Payment (an existing one):
	// each gets its own uniqueness guard pointing at the payment.
	NewRefs []string
	// Absorbed are pending records of the same money that Payment takes
	// over: deleted (on their version), their ids' guards repointed.
	Absorbed []*Payment
	Repoints []Repoint
	// Customer credit changes: the amount per currency, and payments that
	// start or stop holding credit.
	CustomerID    string
	Credit        map[string]int64
	CreditHolders []string
	CreditCleared []string
	// Customer is written on its version (a pause by a dispute); otherwise,
	// when RespondedAt is set, only last_response_at is set.
	Customer    *Customer
	RespondedAt *time.Time
	// Score is a customer's recomputed credit score, written on its
	// version; the customer's grade and score follow it.
	Score *CreditScore
	// Events are outbound events the change raises, written to the
	// outbox in the same transaction: sent only if the change commits.
	Events []*outbound.Event
}

// addCredit records a change of a customer's credit in a currency.
func (pt *Posting) addCredit(currency string, amount int64) {
	if amount == 0 {
		return
	}
	if pt.Credit == nil {
		pt.Credit = map[string]int64{}
	}
	pt.Credit[currency] += amount
}

// creditHolding keeps the account's list of credit-holding payments in step
// with a payment's unapplied rest.
func (pt *Posting) creditHolding(before, after *Payment) {
	if after.CustomerID == "" {
		return
	}
	had := before != nil && before.CustomerID != "" && before.Unapplied > 0
	switch has := after.Unapplied > 0; {
	case has && !had:
		pt.CreditHolders = append(pt.CreditHolders, after.ID)
	case !has && had:
		pt.CreditCleared = append(pt.CreditCleared, after.ID)
	}
}
