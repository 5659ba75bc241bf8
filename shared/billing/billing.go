// Package billing holds Dunlin's core records, customers and invoices, and
// the rules that govern them: what a valid customer or invoice is, how a due
// date follows from payment terms, and what an invoice's status is today.
//
// It imports nothing from AWS. Persistence is behind the Store interface,
// implemented by package store against DynamoDB.
package billing

import (
	"slices"
	"time"
	_ "time/tzdata" // Lambda's provided.al2023 image has no zoneinfo; embed it.

	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

// Customer is a firm's customer: who to write to, in which language and time
// zone, and on what credit terms.
type Customer struct {
	ID         string
	ExternalID string // the firm's own id, from its books; unique when set
	Name       string
	Email      string
	CC         []string
	Language   string // "en" or "zh-CN"
	// Timezone is an IANA zone name. Empty means the firm's zone.
	Timezone         string
	Currency         string
	CreditLimit      *int64 // minor units of Currency; nil means no limit
	PaymentTermsDays int
	// Policy names the dunning policy; empty means the default ladder.
	Policy string
	// Pause stops dunning for this customer until Until (inclusive, in the
	// customer's zone), or until resumed when Until is zero.
	Paused      bool
	PauseReason string
	PausedUntil civil.Date
	// DisputeHolds are the card disputes open on the customer's payments
	// ("stripe:pi_...:dp_..."): dunning is paused while there is any.
	// DisputesReleased are open disputes a person chose to dun through.
	DisputeHolds     []string
	DisputesReleased []string
	// EmailError is the last permanent error SES gave for this customer's
	// email (cleared when the address changes); EmailErrorAt is when.
	EmailError   string
	EmailErrorAt *time.Time
	// EmailInvalid: SES reported a hard bounce or a complaint from the
	// customer's address. No dunning email goes to it until the address
	// changes; escalations to the firm still go.
	EmailInvalid bool
	// BouncedCC are addresses taken off CC after a hard bounce or a
	// complaint. An import does not put them back; setting cc through the
	// API does, as the firm's own decision.
	BouncedCC []string
	// LastResponseAt is when the customer last responded to dunning: a
	// reply or call logged (and, later, a payment or promise).
	LastResponseAt *time.Time
	// Owner is the collector who looks after the customer (a name or an
	// email); FollowUpOn, when to contact it next (from the contact log).
	Owner      string
	FollowUpOn civil.Date
	// CreditHold: no more goods or services on credit until cleared.
	CreditHold bool
	HoldReason string
	// HandedOffTo, once set, names who collects the debt now (a lawyer,
	// an agency); Dunlin sends the customer nothing more (HandedOffAt).
	HandedOffTo string
	HandedOffAt *time.Time
	// Grade and Score are the stored credit score (see CreditScore), kept
	// here too so that reading a customer shows them; "" and nil until the
	// customer is first scored.
	Grade     string
	Score     *int
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64 // optimistic-locking counter, bumped on every write
}

// PausedOn reports whether dunning is paused for the customer on day: by
// the firm, or by an open card dispute.
func (c *Customer) PausedOn(day civil.Date) bool {
	return c.Paused && (c.PausedUntil.IsZero() || !day.After(c.PausedUntil)) || len(c.DisputeHolds) > 0
}

// InvoiceState is the stored lifecycle state. "Overdue" is deliberately not a
// state: it depends on today's date in the customer's zone, so it is derived
// on every read (see Invoice.Status).
type InvoiceState string

const (
	StateOpen InvoiceState = "open" // balance outstanding
	StatePaid InvoiceState = "paid" // balance reached zero through payments or credits
	StateVoid InvoiceState = "void" // cancelled; owes nothing
)

// Status is what clients see: the stored state, with open split into open
// and overdue.
type Status string

const (
	StatusOpen    Status = "open"
	StatusOverdue Status = "overdue"
	StatusPaid    Status = "paid"
	StatusVoid    Status = "void"
)

// ParseStatus checks a status filter value.
func ParseStatus(s string) (Status, bool) {
	switch st := Status(s); st {
	case StatusOpen, StatusOverdue, StatusPaid, StatusVoid:
		return st, true
	}
	return "", false
}

// Invoice is an amount a customer owes.
type Invoice struct {
	ID         string
	CustomerID string
	Number     string // unique per firm (case-insensitive)
	ExternalID string // unique when set
	Currency   string
	Total      int64 // minor units
	Balance    int64 // minor units still owed
	IssuedOn   civil.Date
	DueOn      civil.Date
	// Timezone is the zone whose calendar decides when the invoice is overdue:
	// the customer's (or the firm's) zone when the invoice was created.
	Timezone    string
	PaymentURL  string
	Description string
	State       InvoiceState
	// Dunning: the index of the last ladder step taken (-1 for none) and the
	// civil date the sweep should next look at this invoice. NextActionOn is
	// zero when the ladder is finished or the invoice voided. The invoice is
	// in the sweep's work queue only while it is open, undisputed and has a
	// NextActionOn; a dispute keeps the date but takes it out of the queue.
	DunningStep   int
	DunningOffset int // offset_days of that step, which survives policy edits
	// DunningFor is the date the step taken counted from (DunningDueOn
	// when it was taken): on an installment plan, a later date means the
	// ladder starts again for the next installment.
	DunningFor   civil.Date
	NextActionOn civil.Date
	// Plan, when set, splits the balance into dated installments.
	Plan          *Plan
	Disputed      bool
	DisputeReason string
	// Fees are late fees added by dunning steps; Balance includes the ones
	// not waived.
	Fees []FeeCharge
	// Money applied: payments (net of reversals), credit notes, and the
	// early-payment discount taken. Balance = Total + fees not waived -
	// Paid - Credited - DiscountTaken.
	Paid          int64
	Credited      int64
	Discount      *DiscountTerms // early-payment discount terms, if any
	DiscountTaken int64
	// PaidOn is the day the balance reached zero (customer-local), for
	// payment-behaviour history; zero while open.
	PaidOn civil.Date
	// PromiseID is the open promise to pay that holds dunning for the
	// invoice; BrokenPromise, a promise broken since the last email.
	PromiseID     string
	BrokenPromise *PromiseNote
	// Movements are the changes to what is owed for goods and services
	// (payments and credit notes negative, reversals positive), by the day
	// they took effect: statutory interest accrues on the balance of each day.
	Movements  []Movement
	VoidedAt   *time.Time
	VoidReason string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int64
}

// Status returns the invoice's status at instant now.
func (inv *Invoice) Status(now time.Time) Status {
	switch inv.State {
	case StateVoid:
		return StatusVoid
	case StatePaid:
		return StatusPaid
	}
	if civil.Today(now, Location(inv.Timezone)).After(inv.DueOn) {
		return StatusOverdue
	}
	return StatusOpen
}

// DaysOverdue returns how many days past due an open invoice is at now:
// 1 on the day after the due date, 0 when not overdue or not open.
func (inv *Invoice) DaysOverdue(now time.Time) int {
	if inv.State != StateOpen {
		return 0
	}
	if d := civil.Today(now, Location(inv.Timezone)).DaysSince(inv.DueOn); d > 0 {
		return d
	}
	return 0
}

// FeeCharge is a late fee on an invoice, added by a dunning step.
type FeeCharge struct {
	Step        int    // ladder step that added it; a step adds at most one
	StepName    string // for people
	Kind        string
	Amount      int64 // minor units of the invoice currency
	ChargedOn   civil.Date
	Waived      bool
	WaiveReason string
}

// FeeFor returns the fee the named step added, if any.
func (inv *Invoice) FeeFor(stepName string) (*FeeCharge, bool) {
	for i := range inv.Fees {
		if inv.Fees[i].StepName == stepName {
			return &inv.Fees[i], true
		}
	}
	return nil, false
}

// FeesOutstanding is the sum of fees not waived.
func (inv *Invoice) FeesOutstanding() int64 {
	var n int64
	for _, f := range inv.Fees {
		if !f.Waived {
			n += f.Amount
		}
	}
	return n
}

// Contact is one entry of a customer's contact log: an email Dunlin sent,
// or a call, letter, meeting, note or reply a person logged.
type Contact struct {
	At         time.Time
	Channel    string // email, phone, letter, meeting, note, reply
	Summary    string
	Ref        string // e.g. SES's message id
	Direction  string // outbound or inbound; "" for emails the sweep sent (outbound)
	Outcome    string
	Reason     string // a ReasonCodes value, or ""
	FollowUpOn civil.Date
}

// Movement is a change to an invoice's principal on a day.
type Movement struct {
	On     civil.Date
	Amount int64 // minor units; negative when money came in
}

// PrincipalHistory is what was owed for goods and services (fees aside)
// from the due date on: one segment per day the amount changed, for
// interest that accrues day by day. A payment counts from the day it was
// received.
//
// It is nil (the current principal stood since the due date) when there are
// no movements, or when they do not add up to the current principal: an
// invoice written before movements were kept.
func (inv *Invoice) PrincipalHistory() []dunning.Segment {
	var sum int64
	for _, m := range inv.Movements {
		sum += m.Amount
	}
	if len(inv.Movements) == 0 || inv.Total+sum != inv.Balance-inv.FeesOutstanding() {
		return nil
	}
	moves := slices.Clone(inv.Movements)
	slices.SortStableFunc(moves, func(a, b Movement) int { return a.On.Compare(b.On) })
	owed := inv.Total
	var out []dunning.Segment
	for _, m := range moves {
		if !m.On.After(inv.DueOn) {
			owed += m.Amount
			continue
		}
		if len(out) == 0 {
			out = append(out, dunning.Segment{From: inv.DueOn, Balance: max(owed, 0)})
		}
		owed += m.Amount
		if last := &out[len(out)-1]; last.From == m.On {
			last.Balance = max(owed, 0)
		} else {
			out = append(out, dunning.Segment{From: m.On, Balance: max(owed, 0)})
		}
	}
	if len(out) == 0 {
		out = append(out, dunning.Segment{From: inv.DueOn, Balance: max(owed, 0)})
	}
	return out
}
