package dunning

import (
	"fmt"
	"time"

	"dunlin/shared/civil"
)

// SendKind separates the customer's email from the internal escalation
// email about that customer: each may go once a day.
type SendKind string

const (
	ToCustomer SendKind = "customer"
	Internal   SendKind = "escalation"
)

// SendStatus is where a send is in its life.
type SendStatus string

const (
	// Claimed: the sweep reserved the send and may be talking to SES. A
	// claim left in this state by a crash is in doubt.
	Claimed SendStatus = "claimed"
	Sent    SendStatus = "sent"
	Failed  SendStatus = "failed"   // SES refused it for good
	InDoubt SendStatus = "in_doubt" // a crash left it unknown; never resent
	// Draft: a step needs approval; nothing is sent until someone approves.
	Draft SendStatus = "draft"
	// Approved: a draft someone approved; it went out as that day's send.
	Approved SendStatus = "approved"
)

// DraftTTL is how long a draft can be approved. After that the invoices'
// steps are drafted afresh by a later sweep, with up-to-date amounts.
const DraftTTL = 72 * time.Hour

// Expired reports whether a draft can no longer be approved at now.
func (s *Send) Expired(now time.Time) bool {
	return s.Status == Draft && now.Sub(s.ClaimedAt) > DraftTTL
}

// StaleClaim is how old a Claimed send must be before a later run treats it
// as in doubt rather than as another sweep's send in progress.
const StaleClaim = 5 * time.Minute

// SentStep is one invoice's step in a send.
type SentStep struct {
	InvoiceID string `dynamodbav:"invoice_id"`
	Step      int    `dynamodbav:"step"`
	StepName  string `dynamodbav:"step_name"`
}

// Send is the record of one email: claimed before SES is called, completed
// with SES's message id after. Its key (customer, day, kind) is what makes
// a second email for the same customer and day impossible.
type Send struct {
	CustomerID string
	Day        civil.Date // the customer's local date
	Kind       SendKind
	Status     SendStatus
	Tone       Tone
	Steps      []SentStep
	To         []string
	Subject    string
	MessageID  string
	Error      string
	ClaimedAt  time.Time
	SentAt     *time.Time
	// Escalated: some invoice in it reached an escalation step (an
	// internal email can also be a no-response hand-over, which is not).
	Escalated bool
	// Language the email was written in (its template is Language+Tone).
	Language string
	// Claimant is the run that claimed the send (a random token): a claim
	// whose answer was lost, and that the SDK retried, finds it is its own.
	Claimant string
}

// Counts reports whether the send counts against a customer's limits: every
// customer email that went, or may have gone.
func (s *Send) Counts() bool {
	return s.Kind == ToCustomer && (s.Status == Sent || s.Status == Claimed || s.Status == InDoubt)
}

// RecordConflict says which parts of recording a send lost a race with
// another writer: the claim itself, some invoices (by id), or the credit
// hold on the customer. The caller re-reads those and tries again.
type RecordConflict struct {
	Claim      bool
	InvoiceIDs []string
	Hold       bool
}

func (c *RecordConflict) Error() string {
	return fmt.Sprintf("record send: lost a race (claim %v, invoices %v, hold %v)", c.Claim, c.InvoiceIDs, c.Hold)
}
