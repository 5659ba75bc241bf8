// Package sweep is Dunlin's heartbeat: it reads the work queue of invoices
// with a dunning action due, and for each customer sends at most one email a
// day, in the tone of the most severe step due, inside the customer's send
// window, and never twice.
//
// Exactly-once works like this. Before calling SES the sweep claims the send
// (customer, local day, kind) with a conditional write; a second sweep, a
// retry or a rerun finds the claim and stops. Right before sending it re-reads
// the customer and invoices, so a payment or dispute that committed meanwhile
// stops the email. After SES accepts the message, one transaction records the
// message id, moves each invoice up its ladder and logs the contact. If the
// process dies between SES and that transaction, the claim stays "claimed";
// a later run reports it as in doubt and moves the invoices on as if it had
// been sent. It never sends it again.
package sweep

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
	"dunlin/shared/emails"
	"dunlin/shared/ids"
	"dunlin/shared/links"
	"dunlin/shared/logs"
	"dunlin/shared/mailer"
	"dunlin/shared/money"
	"dunlin/shared/outbound"
)

// Store is what the sweep reads and writes. Package store implements it.
type Store interface {
	DueActions(ctx context.Context, shard int, through civil.Date, fn func(*billing.Invoice) bool) error
	GetCustomer(ctx context.Context, id string) (*billing.Customer, error)
	// PeekCustomer and PeekSendsSince read eventually consistently (half
	// the cost), for planning: what is written or sent is re-read first.
	PeekCustomer(ctx context.Context, id string) (*billing.Customer, error)
	PeekSendsSince(ctx context.Context, customerID string, from civil.Date) ([]*dunning.Send, error)
	GetInvoice(ctx context.Context, id string) (*billing.Invoice, error)
	GetPolicy(ctx context.Context, name string) (*dunning.Policy, error)
	ListPolicies(ctx context.Context) ([]*dunning.Policy, error)
	SaveInvoice(ctx context.Context, inv *billing.Invoice) error
	ClaimSend(ctx context.Context, snd *dunning.Send) (*dunning.Send, bool, error)
	ReleaseSend(ctx context.Context, snd *dunning.Send) error
	UpdateSend(ctx context.Context, snd *dunning.Send, from dunning.SendStatus) error
	GetSend(ctx context.Context, customerID string, day civil.Date, kind dunning.SendKind) (*dunning.Send, error)
	ListDrafts(ctx context.Context) ([]*dunning.Send, error)
	UpdateCustomer(ctx context.Context, c *billing.Customer, oldExternalID string) error
	SendsSince(ctx context.Context, customerID string, from civil.Date) ([]*dunning.Send, error)
	// RecordSend writes a sent email, the invoices it advanced, a credit
	// hold and the outbound events it raises, in one transaction.
	RecordSend(ctx context.Context, snd *dunning.Send, advanced []*billing.Invoice, hold *billing.Customer, events []*outbound.Event) error
	GetOverrides(ctx context.Context, lang string) (emails.Overrides, error)

	// The firm's daily digest of alerts (digest.go).
	ClaimDigest(ctx context.Context, day civil.Date, at time.Time) (bool, error)
	DigestClaimedAt(ctx context.Context, day civil.Date) (time.Time, bool, error)
	FinishDigest(ctx context.Context, day civil.Date, status, messageID string, alerts int, errText string, at time.Time) error
	ReleaseDigest(ctx context.Context, day civil.Date) error
	ListAlertsSince(ctx context.Context, since time.Time) ([]*billing.Alert, error)
}

// runCache holds what one run reads once: policies and the firm's wording.
type runCache struct {
	policies  map[string]*dunning.Policy
	overrides map[string]emails.Overrides
	all       []*dunning.Policy // every policy, read the first time a grade picks one
}

func newRunCache() *runCache {
	return &runCache{policies: map[string]*dunning.Policy{}, overrides: map[string]emails.Overrides{}}
}

func (s *Sweeper) policy(ctx context.Context, rc *runCache, name string) (*dunning.Policy, error) {
	if p, ok := rc.policies[name]; ok {
		return p, nil
	}
	p, err := s.store.GetPolicy(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("load policy %q: %w", name, err)
	}
	rc.policies[name] = p
	return p, nil
}

// policyFor is a customer's ladder: the policy named on it; else the one
// that claims its credit grade; else the standard ladder.
func (s *Sweeper) policyFor(ctx context.Context, rc *runCache, c *billing.Customer) (*dunning.Policy, error) {
	if c.Policy == "" && c.Grade != "" {
		if rc.all == nil {
			all, err := s.store.ListPolicies(ctx)
			if err != nil {
				return nil, fmt.Errorf("load policies: %w", err)
			}
			if all == nil {
				all = []*dunning.Policy{} // read, and none: do not read again
			}
			rc.all = all
		}
		if p := dunning.ForGrade(rc.all, c.Grade); p != nil {
			return p, nil
		}
	}
	return s.policy(ctx, rc, c.Policy)
}

func (s *Sweeper) wording(ctx context.Context, rc *runCache, lang string) (emails.Overrides, error) {
	if o, ok := rc.overrides[lang]; ok {
		return o, nil
	}
	o, err := s.store.GetOverrides(ctx, lang)
	if err != nil {
		return nil, fmt.Errorf("load %s wording: %w", lang, err)
	}
	rc.overrides[lang] = o
	return o, nil
}

// Settings are the firm's sending settings.
type Settings struct {
	FirmName         string
	FirmTimezone     string // for customers without a zone of their own
	From             string // a verified SES identity
	ReplyTo          string
	CollectionsEmail string // receives internal escalations
	Window           dunning.Window
	Shards           int
	// Budget is how long a run may take; it stops cleanly before it, well
	// inside the Lambda timeout. Zero means no budget.
	Budget time.Duration
	// MaxEmails caps the emails one run sends, drafts or leaves in doubt
	// (zero: no cap). Past it the run stops as it does at its budget, and
	// the next run goes on: nothing is lost, nobody is flooded.
	MaxEmails int
	// Clock is the wall clock (time.Now when nil). A run is "as of" its
	// scheduled time, which a retried run may be far behind; claims are
	// stamped, and judged stale, by the later of the two.
	Clock func() time.Time
	// Links, when set, puts a signed link to the customer's statement page
	// in each email to a customer.
	Links *links.Signer
	// Digest, when set, emails CollectionsEmail a digest of the day's new
	// alerts once a day, with the first run at or after DigestHour (0-23)
	// in FirmTimezone.
	Digest     bool
	DigestHour int
	// Books pays due invoices from the customer's credit on account
	// before anyone is chased for them, and settles promises to pay whose
	// day has come (billing.Service); nil skips both.
	Books Books
}

// Books is what the sweep asks of the books before it duns.
type Books interface {
	// ApplyCredit pays open invoices from credit on account and reports
	// whether it applied anything.
	ApplyCredit(ctx context.Context, customerID string, invoices []*billing.Invoice) (bool, error)
	// CreditOnAccount reads the credit per currency, for previews.
	CreditOnAccount(ctx context.Context, customerID string) (map[string]int64, error)
	// CheckPromise settles a promise whose check day has come (kept or
	// broken) and puts its invoices back in the queue.
	CheckPromise(ctx context.Context, customerID, promiseID string, today civil.Date) (*billing.Promise, error)
	// PromiseOutcome is CheckPromise without writing, for previews.
	PromiseOutcome(ctx context.Context, customerID, promiseID string, today civil.Date) (*billing.Promise, error)
	// NoteLateness raises an alert when a customer that usually pays on
	// time has an invoice overdue.
	NoteLateness(ctx context.Context, customerID string, invoices []*billing.Invoice, today civil.Date) error
	// RescoreDue recomputes the credit scores marked or due by now and
	// reports how many it recomputed.
	RescoreDue(ctx context.Context, now time.Time) (int, error)
	// NoteBadAddress records that the customer's address was refused, and
	// alerts the firm the first time.
	NoteBadAddress(ctx context.Context, c *billing.Customer, reason string) error
	// TakeSnapshot stores the day's receivables snapshot once (for DSO).
	// It returns the snapshot when this call took it, nil when the day
	// already had one.
	TakeSnapshot(ctx context.Context, now time.Time) (*billing.Snapshot, error)
}

// Sweeper runs sweeps.
type Sweeper struct {
	store    Store
	mail     mailer.Mailer
	settings Settings
	log      *slog.Logger
}

// New returns a Sweeper.
func New(store Store, mail mailer.Mailer, settings Settings, log *slog.Logger) *Sweeper {
	if settings.Shards <= 0 {
		settings.Shards = 1
	}
	if settings.Clock == nil {
		settings.Clock = time.Now
	}
	return &Sweeper{store: store, mail: mail, settings: settings, log: log}
}

// Summary is what a run did. Skipped counts invoices by reason.
type Summary struct {
	Now        time.Time      `json:"now"`
	Considered int            `json:"considered"`       // invoices whose action date has come
	Sent       int            `json:"sent"`             // emails accepted by SES
	Requeued   int            `json:"requeued"`         // invoices moved to a later action date
	InDoubt    int            `json:"in_doubt"`         // sends whose outcome is unknown (reported, never resent)
	Failed     int            `json:"failed"`           // sends SES refused
	Drafted    int            `json:"drafted"`          // emails waiting for approval
	Rescored   int            `json:"rescored"`         // customers whose credit score was recomputed
	Digest     string         `json:"digest,omitempty"` // what became of today's alert digest, if this run made it
	Skipped    map[string]int `json:"skipped"`
	Stopped    bool           `json:"stopped"` // the time budget ran out; the next run continues
	// SentBy counts the emails sent by ladder step and tone.
	SentBy []SentCount `json:"sent_by,omitempty"`
	// Overdue is the firm's overdue receivables per currency, from the
	// day's snapshot: only on the one run a day that took it, so the
	// figures are reported once a day, at no read beyond the snapshot's.
	Overdue []billing.Overdue `json:"overdue,omitempty"`
}

// SentCount is how many emails a run sent at one step and tone. An email
// about several invoices counts at the furthest step among them.
type SentCount struct {
	Step   string       `json:"step"`
	Tone   dunning.Tone `json:"tone"`
	Emails int          `json:"emails"`
}

func (s *Summary) sentAs(step string, tone dunning.Tone) {
	for i := range s.SentBy {
		if s.SentBy[i].Step == step && s.SentBy[i].Tone == tone {
			s.SentBy[i].Emails++
			return
		}
	}
	s.SentBy = append(s.SentBy, SentCount{Step: step, Tone: tone, Emails: 1})
}

func (s *Summary) skip(reason string, n int) {
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason] += n
}

// stamp is the time a claim made now carries: the later of the run's
// instant and the wall clock.
func (s *Sweeper) stamp(now time.Time) time.Time {
	if wall := s.settings.Clock(); wall.After(now) {
		return wall.UTC()
	}
	return now.UTC()
}

// MaxInvoicesPerEmail is the most invoices one dunning email speaks for.
// Its record is one transaction of at most 100 items: each invoice, its
// audit record and its invoice.overdue event, plus the send, the contact
// log entry, a credit hold, an alert, the rescoring mark, the
// dunning.email_sent event and their audit records.
const MaxInvoicesPerEmail = 25

// sendTimeout bounds one claimed send: re-check, SES and the record.
const sendTimeout = 30 * time.Second

// latestZone: at any instant no customer's date is later than UTC+14's.
var latestZone = time.FixedZone("UTC+14", 14*3600)

// Run sweeps the whole queue as of now. It returns an error only when it
// could not read the queue; problems with one customer are logged, counted
// and passed over so the others still get their emails.
func (s *Sweeper) Run(ctx context.Context, now time.Time) (Summary, error) {
	started := time.Now()
	sum, err := s.run(ctx, now, nil, "")
	if err != nil || sum.Stopped {
		return sum, err
	}
	actx := audit.Begin(ctx, "system:sweep", "sweep", "")
	// The day's receivables snapshot, once (DSO and CEI read them).
	if s.settings.Books != nil {
		snap, err := s.settings.Books.TakeSnapshot(actx, now)
		if err != nil {
			s.log.ErrorContext(ctx, "receivables snapshot", "error", err.Error())
		}
		if snap != nil {
			sum.Overdue = snap.Overdue()
		}
	}
	// The firm's digest next: quick, once a day, and, once begun, not cut
	// short between SES and its record (as a send is not).
	if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > sendTimeout {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(actx), sendTimeout)
		err := s.digest(dctx, now, &sum)
		cancel()
		if err != nil {
			s.log.ErrorContext(ctx, "alert digest", "error", err.Error())
		}
	}
	// Then the credit scores that changed since the last run or whose day
	// has come, within the run's budget: the emails go first, and a score
	// not reached waits for the next run.
	if s.settings.Books != nil {
		rctx := actx
		if s.settings.Budget > 0 {
			var cancel context.CancelFunc
			rctx, cancel = context.WithDeadline(actx, started.Add(s.settings.Budget))
			defer cancel()
		}
		n, err := s.settings.Books.RescoreDue(rctx, now)
		sum.Rescored = n
		if err != nil {
			s.log.ErrorContext(ctx, "rescoring", "error", err.Error())
		}
	}
	return sum, nil
}

// Planned is an email a sweep would send.
type Planned struct {
	CustomerID string           `json:"customer_id"`
	Kind       dunning.SendKind `json:"kind"`
	Tone       dunning.Tone     `json:"tone"`
	To         []string         `json:"to"`
	CC         []string         `json:"cc"`
	Subject    string           `json:"subject"`
	HTML       string           `json:"html"`
	Text       string           `json:"text"`
	Invoices   []PlannedStep    `json:"invoices"`
}

// PlannedStep is one invoice in a planned email.
type PlannedStep struct {
	InvoiceID string `json:"invoice_id"`
	Number    string `json:"number"`
	Step      string `json:"step"`
}

// Preview returns exactly what a sweep at now would send, rendered, and
// what it would pass over and why, without sending or writing anything.
func (s *Sweeper) Preview(ctx context.Context, now time.Time) ([]Planned, Summary, error) {
	out := []Planned{}
	sum, err := s.run(ctx, now, &out, "")
	return out, sum, err
}

// PreviewCustomer is Preview for one customer: what a sweep at now would
// send it. It reads the work queue (one Query per shard) and that
// customer's records, not everyone's.
func (s *Sweeper) PreviewCustomer(ctx context.Context, now time.Time, customerID string) ([]Planned, error) {
	out := []Planned{}
	_, err := s.run(ctx, now, &out, customerID)
	return out, err
}

// run is Run, or Preview when preview is not nil; with only set, for that
// customer alone.
func (s *Sweeper) run(ctx context.Context, now time.Time, preview *[]Planned, only string) (Summary, error) {
	sum := Summary{Now: now}
	started := time.Now()
	through := civil.Today(now, latestZone)
	limit, limitReason := s.emailLimit(ctx, preview != nil)
	rc := newRunCache()
	runCtx := audit.Begin(ctx, "system:sweep", "sweep", "")
	for shard := 0; shard < s.settings.Shards; shard++ {
		// Each shard's queue is read, and remembered for the audit trail's
		// "before" images, in a scope of its own, dropped when the shard is
		// done: a run holds one shard's queue at a time, not the night's.
		ctx := audit.Fork(runCtx)
		byCustomer := map[string][]*billing.Invoice{}
		var order []string
		err := s.store.DueActions(ctx, shard, through, func(inv *billing.Invoice) bool {
			if only != "" && inv.CustomerID != only {
				return true
			}
			if _, seen := byCustomer[inv.CustomerID]; !seen {
				order = append(order, inv.CustomerID)
			}
			byCustomer[inv.CustomerID] = append(byCustomer[inv.CustomerID], inv)
			return true
		})
		if err != nil {
			return sum, fmt.Errorf("read work queue shard %d: %w", shard, err)
		}
		for _, cid := range order {
			if ctx.Err() != nil || s.settings.Budget > 0 && time.Since(started) > s.settings.Budget {
				sum.Stopped = true
				return sum, nil
			}
			if limit >= 0 && emailed(sum, preview) >= limit {
				sum.Stopped = true
				sum.skip(limitReason, len(byCustomer[cid]))
				return sum, nil
			}
			// Each customer is its own unit of audited work: the records
			// read for it are the "before" of what its emails change.
			cctx := logs.With(audit.Fork(ctx), "customer_id", cid)
			if err := s.customer(cctx, now, cid, byCustomer[cid], rc, &sum, preview); err != nil {
				if ctx.Err() != nil {
					sum.Stopped = true
					return sum, nil
				}
				s.log.ErrorContext(ctx, "sweep customer", "customer_id", cid, "error", err.Error())
				sum.skip("error", len(byCustomer[cid]))
			}
		}
	}
	return sum, nil
}

// furthestStep names the furthest ladder step among an email's invoices.
func furthestStep(pol *dunning.Policy, work []due) string {
	step := -1
	for _, w := range work {
		step = max(step, w.step)
	}
	if step < 0 || step >= len(pol.Steps) {
		return "none"
	}
	return pol.Steps[step].Name
}

// quota is a Mailer that knows the account's sending quota: it paces
// itself to the maximum send rate and says how many more emails the
// rolling 24 hours allow (-1: no limit). mailer.SES is one.
type quota interface {
	Remaining(ctx context.Context) (int, error)
}

// emailLimit is the most emails this run may send (-1: no limit) and the
// skip reason once it is reached: MaxEmails, or what is left of the SES
// account's daily quota when that is less. A quota that cannot be read
// (SES local without an account, a throttle) leaves MaxEmails.
func (s *Sweeper) emailLimit(ctx context.Context, dry bool) (int, string) {
	limit, reason := -1, "run_email_cap"
	if s.settings.MaxEmails > 0 {
		limit = s.settings.MaxEmails
	}
	q, ok := s.mail.(quota)
	if dry || !ok {
		return limit, reason
	}
	left, err := q.Remaining(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "SES quota unknown: sending at the configured rate, up to the run's cap", "error", err.Error())
		return limit, reason
	}
	s.log.InfoContext(ctx, "SES quota", "remaining_24h", left)
	if left >= 0 && (limit < 0 || left < limit) {
		return left, "ses_daily_quota"
	}
	return limit, reason
}

// emailed counts the emails a run has sent, drafted or left in doubt (or,
// previewing, planned).
func emailed(sum Summary, preview *[]Planned) int {
	if preview != nil {
		return len(*preview)
	}
	return sum.Sent + sum.InDoubt + sum.Failed + sum.Drafted
}

// due is an invoice with the step to take on it today.
type due struct {
	inv  *billing.Invoice
	step int
}

func (s *Sweeper) customer(ctx context.Context, now time.Time, cid string, queued []*billing.Invoice, rc *runCache, sum *Summary, preview *[]Planned) error {
	dry := preview != nil
	c, err := s.store.PeekCustomer(ctx, cid)
	if err != nil {
		return fmt.Errorf("load customer: %w", err)
	}
	zone := c.Timezone
	if zone == "" {
		zone = s.settings.FirmTimezone
	}
	loc := billing.Location(zone)
	today := civil.Today(now, loc)
	pol, err := s.policyFor(ctx, rc, c)
	if err != nil {
		return err
	}

	// Decide each queued invoice; put the ones with nothing due back in the
	// queue at their next action date.
	var work []due
	for _, inv := range queued {
		if inv.NextActionOn.After(today) {
			sum.skip("not_due_yet", 1) // due "today" further east only
			continue
		}
		if inv.PromiseID != "" {
			// A promise to pay held this invoice until today: settle it
			// first (kept or broken), then go on with the invoice as it is now.
			if s.settings.Books == nil {
				sum.skip("promise_to_check", 1)
				continue
			}
			if dry {
				// What the check would decide, without writing it.
				pr, err := s.settings.Books.PromiseOutcome(ctx, cid, inv.PromiseID, today)
				if err != nil {
					return err
				}
				if pr.State == billing.PromiseOpen {
					sum.skip("promised", 1)
					continue
				}
				cp := *inv
				cp.PromiseID = ""
				if pr.State == billing.PromiseBroken {
					cp.BrokenPromise = &billing.PromiseNote{PromisedOn: pr.PromisedOn, Amount: pr.Amount, Currency: pr.Currency}
				}
				inv = &cp
			} else {
				pr, err := s.settings.Books.CheckPromise(ctx, cid, inv.PromiseID, today)
				if err != nil {
					return err
				}
				fresh, err := s.store.GetInvoice(ctx, inv.ID)
				if err != nil {
					return err
				}
				switch {
				case fresh.State != billing.StateOpen:
					sum.skip("promise_checked", 1)
					continue
				case fresh.PromiseID == pr.ID && pr.State == billing.PromiseOpen, fresh.PromiseID != "" && fresh.PromiseID != pr.ID:
					sum.skip("promised", 1) // held until its promise's check day
					continue
				}
				inv = fresh // (a promise id left on it from a settled promise holds nothing)
			}
		}
		sum.Considered++
		step, ok := pol.DueStep(inv.DunningDueOn(), pol.Done(inv.Progress()), today)
		if ok {
			work = append(work, due{inv, step})
			continue
		}
		if !dry {
			if err := s.requeue(ctx, inv, pol); err != nil {
				return err
			}
		}
		sum.Requeued++
	}
	if len(work) == 0 {
		return nil
	}
	if s.settings.Books != nil {
		pay := s.payFromCredit
		if dry {
			pay = s.previewCredit
		}
		if work, err = pay(ctx, c.ID, work, sum); err != nil || len(work) == 0 {
			return err
		}
	}

	sends, err := s.store.PeekSendsSince(ctx, cid, today.AddDays(-6))
	if err != nil {
		return err
	}
	if !dry {
		if err := s.settleInDoubt(ctx, now, sends, pol, sum); err != nil {
			return err
		}
	}
	if c.HandedOffTo != "" {
		sum.skip("handed_off", len(work)) // a lawyer or an agency collects now
		return nil
	}
	if c.PausedOn(today) {
		sum.skip("customer_paused", len(work))
		return nil
	}
	for _, snd := range sends {
		if snd.Status == dunning.Draft && !snd.Expired(now) {
			sum.skip("awaiting_approval", len(work))
			return nil
		}
	}
	if reason := s.settings.Window.Closed(now, loc); reason != "" {
		sum.skip(reason, len(work))
		return nil
	}
	var toCustomer, internal []due
	for _, w := range work {
		if pol.Steps[w.step].Escalate {
			internal = append(internal, w)
		} else {
			toCustomer = append(toCustomer, w)
		}
	}
	if len(toCustomer) > 0 && pol.MaxUnanswered > 0 {
		n, err := s.unanswered(ctx, c, today, sends)
		if err != nil {
			return err
		}
		if n >= pol.MaxUnanswered {
			// Hand the customer to a person: no more emails to the customer;
			// the firm hears about it, at most once a week.
			sum.skip("no_response_limit", len(toCustomer))
			for _, snd := range sends {
				if snd.Kind == dunning.Internal {
					return nil
				}
			}
			internal, toCustomer = append(internal, toCustomer...), nil
		}
	}
	if len(toCustomer) > 0 && c.EmailInvalid {
		// SES reported a hard bounce or a complaint from the address: a
		// person must fix it. Escalations to the firm still go.
		sum.skip("email_invalid", len(toCustomer))
		toCustomer = nil
	}
	if len(toCustomer) > 0 {
		if reason := pressure(sends, today, pol); reason != "" {
			sum.skip(reason, len(toCustomer))
		} else if err := s.sendOrPlan(ctx, now, today, c, pol, rc, dunning.ToCustomer, toCustomer, sum, preview); err != nil {
			return err
		}
	}
	if len(internal) > 0 {
		for _, snd := range sends {
			if snd.Day == today && snd.Kind == dunning.Internal {
				sum.skip("already_escalated_today", len(internal))
				return nil
			}
		}
		return s.sendOrPlan(ctx, now, today, c, pol, rc, dunning.Internal, internal, sum, preview)
	}
	return nil
}

// payFromCredit uses the customer's credit on account on its due
// invoices first, and returns the work still due: nobody is chased for
// money the firm already holds.
func (s *Sweeper) payFromCredit(ctx context.Context, cid string, work []due, sum *Summary) ([]due, error) {
	invs := make([]*billing.Invoice, 0, len(work))
	for _, w := range work {
		invs = append(invs, w.inv)
	}
	applied, err := s.settings.Books.ApplyCredit(ctx, cid, invs)
	if err != nil || !applied {
		return work, err
	}
	var left []due
	for _, w := range work {
		inv, err := s.store.GetInvoice(ctx, w.inv.ID)
		if err != nil {
			return nil, err
		}
		if inv.State != billing.StateOpen || inv.Balance <= 0 {
			sum.skip("paid_from_credit", 1)
			continue
		}
		left = append(left, due{inv, w.step})
	}
	return left, nil
}

// previewCredit is payFromCredit without writing: it spends the credit
// the same way, oldest due first (then by id), skipping disputed invoices,
// part-paying the first it cannot settle and stopping there. Invoices it
// settles drop out of the preview; a part-paid one shows what is left.
func (s *Sweeper) previewCredit(ctx context.Context, cid string, work []due, sum *Summary) ([]due, error) {
	credit, err := s.settings.Books.CreditOnAccount(ctx, cid)
	if err != nil || len(credit) == 0 {
		return work, err
	}
	order := slices.Clone(work)
	slices.SortStableFunc(order, func(a, b due) int {
		return cmp.Or(a.inv.DueOn.Compare(b.inv.DueOn), cmp.Compare(a.inv.ID, b.inv.ID))
	})
	left := map[string]int64{}
	for _, w := range order {
		c := credit[w.inv.Currency]
		if c <= 0 || w.inv.Disputed {
			continue
		}
		paid := min(c, w.inv.Balance)
		credit[w.inv.Currency] = c - paid
		left[w.inv.ID] = w.inv.Balance - paid
	}
	var out []due
	for _, w := range work {
		rest, touched := left[w.inv.ID]
		switch {
		case !touched:
			out = append(out, w)
		case rest == 0:
			sum.skip("paid_from_credit", 1)
		default:
			cp := *w.inv
			cp.Balance = rest
			out = append(out, due{&cp, w.step})
		}
	}
	return out, nil
}

// sendOrPlan sends the email, or in a preview renders it and records it.
func (s *Sweeper) sendOrPlan(ctx context.Context, now time.Time, today civil.Date, c *billing.Customer, pol *dunning.Policy, rc *runCache, kind dunning.SendKind, work []due, sum *Summary, preview *[]Planned) error {
	if len(work) > MaxInvoicesPerEmail {
		// One email's record must fit one transaction with its audit
		// trail: the oldest go now, the rest with the next email.
		work = slices.Clone(work)
		sort.SliceStable(work, func(i, j int) bool { return work[i].inv.DunningDueOn().Before(work[j].inv.DunningDueOn()) })
		sum.skip("over_email_limit", len(work)-MaxInvoicesPerEmail)
		work = work[:MaxInvoicesPerEmail]
	}
	if preview == nil {
		return s.send(ctx, now, today, c, pol, rc, kind, work, sum)
	}
	tone := dunning.Tone("")
	p := Planned{CustomerID: c.ID, Kind: kind}
	for _, w := range work {
		st := pol.Steps[w.step]
		if st.Tone.Severity() > tone.Severity() {
			tone = st.Tone
		}
		p.Invoices = append(p.Invoices, PlannedStep{InvoiceID: w.inv.ID, Number: w.inv.Number, Step: st.Name})
	}
	msg, err := s.compose(ctx, rc, c, kind, tone, withFees(pol, today, work), now, today)
	if err != nil {
		return err
	}
	p.Tone, p.To, p.CC, p.Subject, p.HTML, p.Text = tone, msg.To, msg.CC, msg.Subject, msg.HTML, msg.Text
	if p.CC == nil {
		p.CC = []string{}
	}
	*preview = append(*preview, p)
	sum.Sent++ // in a preview: would send
	return nil
}

// unanswered counts the emails a customer got since it last responded.
// recent holds the last 7 days' sends; older ones are read only when the
// last response is older than that.
func (s *Sweeper) unanswered(ctx context.Context, c *billing.Customer, today civil.Date, recent []*dunning.Send) (int, error) {
	since := time.Time{}
	if c.LastResponseAt != nil {
		since = *c.LastResponseAt
	}
	sends := recent
	if since.Before(time.Date(today.Year, today.Month, today.Day, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -6)) {
		from := today.AddDays(-366)
		if !since.IsZero() && civil.Of(since.UTC()).After(from) {
			from = civil.Of(since.UTC())
		}
		var err error
		if sends, err = s.store.SendsSince(ctx, c.ID, from); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, snd := range sends {
		if snd.Counts() && snd.ClaimedAt.After(since) {
			n++
		}
	}
	return n, nil
}

// pressure says why the customer may not get another email today, if so:
// one a day, and at most the policy's weekly cap in any 7 days.
func pressure(sends []*dunning.Send, today civil.Date, pol *dunning.Policy) string {
	week := 0
	for _, snd := range sends {
		if !snd.Counts() {
			continue
		}
		if snd.Day == today {
			return "already_emailed_today"
		}
		week++
	}
	if week >= pol.WeeklyCap {
		return "weekly_cap"
	}
	return ""
}

// requeue moves an invoice to the date its next step comes due, or out of
// the queue when the ladder is finished.
func (s *Sweeper) requeue(ctx context.Context, inv *billing.Invoice, pol *dunning.Policy) error {
	next, ok := pol.NextActionDate(inv.DunningDueOn(), pol.Done(inv.Progress()))
	if !ok {
		next = civil.Date{}
	}
	cp := *inv
	cp.NextActionOn, cp.Version = next, inv.Version+1
	err := s.store.SaveInvoice(ctx, &cp)
	if apperr.Is(err, apperr.Conflict) {
		return nil // changed meanwhile (paid, disputed, another sweep): the next run decides again
	}
	return err
}

// settleInDoubt turns claims abandoned by a crashed run into in-doubt
// records and moves their invoices on as if sent: reported, never resent.
func (s *Sweeper) settleInDoubt(ctx context.Context, now time.Time, sends []*dunning.Send, pol *dunning.Policy, sum *Summary) error {
	for _, snd := range sends {
		if snd.Status != dunning.Claimed || s.stamp(now).Sub(snd.ClaimedAt) < dunning.StaleClaim {
			continue
		}
		snd.Status = dunning.InDoubt
		if err := s.store.UpdateSend(ctx, snd, dunning.Claimed); err != nil {
			if apperr.Is(err, apperr.Conflict) {
				continue // another run settled it
			}
			return err
		}
		sum.InDoubt++
		s.log.WarnContext(ctx, "send in doubt: reported, not resent", "customer_id", snd.CustomerID, "day", snd.Day.String(), "kind", string(snd.Kind))
		// The email may have gone with its fees and its credit hold: apply
		// them as if it had, so the in-doubt email is never contradicted.
		hold := false
		for _, st := range snd.Steps {
			inv, err := s.store.GetInvoice(ctx, st.InvoiceID)
			if err != nil {
				return err
			}
			if inv.State != billing.StateOpen || st.Step >= len(pol.Steps) || pol.Done(inv.Progress()) >= st.Step {
				continue
			}
			charged := withFees(pol, snd.Day, []due{{inv, st.Step}})[0].inv
			if err := s.store.SaveInvoice(ctx, advance(inv, charged, st.Step, pol)); err != nil && !apperr.Is(err, apperr.Conflict) {
				return err // a conflict: changed meanwhile; the next run decides again
			}
			hold = hold || pol.Steps[st.Step].CreditHold
		}
		if hold {
			c, err := s.store.GetCustomer(ctx, snd.CustomerID)
			if err != nil {
				return err
			}
			if !c.CreditHold {
				h := *c
				h.CreditHold, h.HoldReason, h.Version = true, "dunning: email in doubt", c.Version+1
				if err := s.store.UpdateCustomer(ctx, &h, c.ExternalID); err != nil && !apperr.Is(err, apperr.Conflict) {
					return err
				}
			}
		}
	}
	return nil
}

// send claims, re-checks, sends and records one email; or, when a step
// needs approval, stores it as a draft.
func (s *Sweeper) send(ctx context.Context, now time.Time, today civil.Date, c *billing.Customer, pol *dunning.Policy, rc *runCache, kind dunning.SendKind, work []due, sum *Summary) error {
	snd := &dunning.Send{CustomerID: c.ID, Day: today, Kind: kind, Status: dunning.Claimed, ClaimedAt: s.stamp(now), Language: emailLanguage(c, kind),
		Claimant: ids.New("clm_", now)}
	for _, w := range work {
		st := pol.Steps[w.step]
		snd.Steps = append(snd.Steps, dunning.SentStep{InvoiceID: w.inv.ID, Step: w.step, StepName: st.Name})
		if st.Tone.Severity() > snd.Tone.Severity() {
			snd.Tone = st.Tone
		}
		if st.RequiresApproval {
			snd.Status = dunning.Draft
		}
	}
	// From the claim on, finish this one email even if the run's context is
	// cancelled (time budget, shutdown): a claim whose reply was lost, or an
	// email abandoned half way, would be in doubt. Only a process that dies
	// leaves a claim behind.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
	defer cancel()
	if snd.Status == dunning.Draft {
		msg, err := s.compose(ctx, rc, c, kind, snd.Tone, work, now, today)
		if err != nil {
			return err
		}
		snd.To, snd.Subject = append(msg.To, msg.CC...), msg.Subject
	}
	if _, claimed, err := s.store.ClaimSend(ctx, snd); err != nil {
		return err
	} else if !claimed {
		sum.skip("already_claimed", len(work))
		return nil
	}
	if snd.Status == dunning.Draft {
		sum.Drafted++
		s.log.InfoContext(ctx, "email drafted for approval", "customer_id", c.ID, "day", today.String(), "kind", string(kind))
		return nil
	}
	return s.deliverClaimed(ctx, now, today, c, pol, rc, snd, work, sum)
}

// deliverClaimed re-checks, sends and records a claimed send.
func (s *Sweeper) deliverClaimed(ctx context.Context, now time.Time, today civil.Date, c *billing.Customer, pol *dunning.Policy, rc *runCache, snd *dunning.Send, work []due, sum *Summary) error {
	kind := snd.Kind
	// Re-check right before sending: a payment, dispute, void or pause that
	// committed since the queue was read stops the email.
	fresh, err := s.store.GetCustomer(ctx, c.ID)
	if err != nil {
		return s.abandon(ctx, snd, err)
	}
	var live []due
	for _, w := range work {
		inv, err := s.store.GetInvoice(ctx, w.inv.ID)
		if err != nil {
			return s.abandon(ctx, snd, err)
		}
		if inv.State == billing.StateOpen && !inv.Disputed && inv.PromiseID == "" && inv.Balance > 0 && inv.DunningStep == w.inv.DunningStep {
			live = append(live, due{inv, w.step})
		}
	}
	if fresh.PausedOn(today) || len(live) == 0 || kind == dunning.ToCustomer && fresh.EmailInvalid {
		sum.skip("changed_before_send", len(work))
		return s.store.ReleaseSend(ctx, snd)
	}
	// The email speaks only for the invoices still due: its steps and its
	// tone are those of the invoices left after the re-check.
	snd.Steps, snd.Tone, snd.Escalated = snd.Steps[:0], "", false
	for _, w := range live {
		st := pol.Steps[w.step]
		snd.Escalated = snd.Escalated || (kind == dunning.Internal && st.Escalate)
		snd.Steps = append(snd.Steps, dunning.SentStep{InvoiceID: w.inv.ID, Step: w.step, StepName: st.Name})
		if st.Tone.Severity() > snd.Tone.Severity() {
			snd.Tone = st.Tone
		}
	}

	live = withFees(pol, today, live)
	msg, err := s.compose(ctx, rc, fresh, kind, snd.Tone, live, now, today)
	if err != nil {
		return s.abandon(ctx, snd, err)
	}
	snd.To, snd.Subject = append(msg.To, msg.CC...), msg.Subject
	id, err := s.deliver(ctx, msg)
	switch {
	case errors.Is(err, mailer.ErrThrottled):
		sum.skip("ses_throttled", len(live))
		return s.store.ReleaseSend(ctx, snd) // nothing went: the next run tries again
	case errors.Is(err, mailer.ErrRejected):
		sum.Failed++
		snd.Status, snd.Error = dunning.Failed, err.Error()
		s.log.WarnContext(ctx, "email rejected", "customer_id", c.ID, "error", err.Error())
		if err := s.store.UpdateSend(ctx, snd, dunning.Claimed); err != nil {
			return err
		}
		// Record it on the customer too, where the firm will look, with an
		// alert the first time; the next run tries again (the fault may be
		// the firm's sender, not the address).
		if s.settings.Books != nil {
			return s.settings.Books.NoteBadAddress(ctx, fresh, snd.Error)
		}
		marked := *fresh
		at := now.UTC()
		marked.EmailError, marked.EmailErrorAt, marked.Version = snd.Error, &at, fresh.Version+1
		if err := s.store.UpdateCustomer(ctx, &marked, fresh.ExternalID); err != nil && !apperr.Is(err, apperr.Conflict) {
			return err
		}
		return nil
	case err != nil:
		// Unknown: it may have gone. Leave the claim; a later run reports it.
		sum.InDoubt++
		s.log.WarnContext(ctx, "email outcome unknown", "customer_id", c.ID, "error", err.Error())
		return nil
	}
	sum.Sent++
	sum.sentAs(furthestStep(pol, live), snd.Tone)
	sentAt := now.UTC()
	snd.Status, snd.MessageID, snd.SentAt = dunning.Sent, id, &sentAt
	var advanced []*billing.Invoice
	var hold *billing.Customer
	newly := map[string]bool{}
	var sent []*outbound.Event
	if kind == dunning.ToCustomer {
		sent = append(sent, emailSentEvent(fresh, snd, live, pol, sentAt))
	}
	for _, w := range live {
		newly[w.inv.ID] = newlyOverdue(w.inv, w.step, pol)
		advanced = append(advanced, advance(w.inv, w.inv, w.step, pol))
		if pol.Steps[w.step].CreditHold && !fresh.CreditHold && hold == nil {
			h := *fresh
			h.CreditHold, h.HoldReason, h.Version = true, "dunning step "+pol.Steps[w.step].Name, fresh.Version+1
			hold = &h
		}
	}
	if err := s.record(ctx, snd, advanced, hold, pol, func(advanced []*billing.Invoice) []*outbound.Event {
		return append(append([]*outbound.Event{}, sent...), overdueEvents(advanced, newly, today, sentAt)...)
	}); err != nil {
		s.log.ErrorContext(ctx, "record sent email", "customer_id", c.ID, "message_id", id, "error", err.Error())
	}
	if s.settings.Books != nil && kind == dunning.ToCustomer {
		// The first overdue reminder about an invoice: late for a customer
		// who is usually on time is worth a person's attention, once per email.
		var late []*billing.Invoice
		for _, w := range live {
			if pol.Steps[w.step].OffsetDays > 0 && w.inv.DunningOffset <= 0 {
				late = append(late, w.inv)
			}
		}
		if len(late) > 0 {
			if err := s.settings.Books.NoteLateness(ctx, c.ID, late, today); err != nil {
				s.log.WarnContext(ctx, "lateness alert", "customer_id", c.ID, "error", err.Error())
			}
		}
	}
	s.log.InfoContext(ctx, "email sent", "customer_id", c.ID, "kind", string(kind), "tone", string(snd.Tone), "invoices", len(live), "message_id", id)
	return nil
}

// advance returns a copy of base moved to step: its next action date, and
// the fee the step charged (taken from charged, the invoice as the email
// showed it) if base does not carry it yet. The copy's version is one more
// than base's, so writing it fails if base is stale.
func advance(base, charged *billing.Invoice, step int, pol *dunning.Policy) *billing.Invoice {
	cp := *base
	cp.DunningStep, cp.DunningOffset, cp.DunningFor = step, pol.Steps[step].OffsetDays, cp.DunningDueOn()
	cp.NextActionOn, _ = pol.NextActionDate(cp.DunningFor, step)
	if f, ok := charged.FeeFor(pol.Steps[step].Name); ok {
		if _, has := base.FeeFor(pol.Steps[step].Name); !has {
			cp.Fees = append(append([]billing.FeeCharge(nil), base.Fees...), *f)
			cp.Balance += f.Amount
		}
	}
	cp.Version = base.Version + 1
	return &cp
}

// record stores a sent email. When another writer changed an invoice or
// the customer after the re-check (a fee waived, a note logged, a payment),
// it re-reads them and applies the step again, so the step is recorded and
// never sent twice; an invoice paid, voided, disputed or already moved on
// meanwhile is left as it is.
//
// events returns the outbound events to record with the invoices actually
// advanced: an invoice left as it is raises none.
func (s *Sweeper) record(ctx context.Context, snd *dunning.Send, advanced []*billing.Invoice, hold *billing.Customer, pol *dunning.Policy, events func([]*billing.Invoice) []*outbound.Event) error {
	for attempt := 0; ; attempt++ {
		if snd.Kind == dunning.ToCustomer {
			for _, inv := range advanced {
				inv.BrokenPromise = nil // this email said so (an internal one does not count)
			}
		}
		err := s.store.RecordSend(ctx, snd, advanced, hold, events(advanced))
		var lost *dunning.RecordConflict
		if !errors.As(err, &lost) || lost.Claim || attempt >= maxRecordAttempts {
			return err
		}
		var next []*billing.Invoice
		for _, inv := range advanced {
			if !slices.Contains(lost.InvoiceIDs, inv.ID) {
				next = append(next, inv)
				continue
			}
			fresh, err := s.store.GetInvoice(ctx, inv.ID)
			if err != nil {
				return err
			}
			// Only for the same due date: if a payment finished the
			// installment meanwhile, the next one starts its own ladder.
			if fresh.State == billing.StateOpen && !fresh.Disputed && fresh.PromiseID == "" && fresh.DunningDueOn() == inv.DunningFor && pol.Done(fresh.Progress()) < inv.DunningStep {
				next = append(next, advance(fresh, inv, inv.DunningStep, pol))
			}
		}
		advanced = next
		if lost.Hold {
			fresh, err := s.store.GetCustomer(ctx, hold.ID)
			if err != nil {
				return err
			}
			hold = nil
			if !fresh.CreditHold {
				h := *fresh
				h.CreditHold, h.HoldReason, h.Version = true, "dunning: "+string(snd.Tone), fresh.Version+1
				hold = &h
			}
		}
	}
}

// maxRecordAttempts bounds record's re-reads; each lost race means another
// writer made progress, so a handful is plenty.
const maxRecordAttempts = 5

// withFees returns the work with each step's late fee added to a copy of
// its invoice (balance and fee list), once per step: a step whose fee is
// already on the invoice adds nothing. Nothing is written here; the fee is
// stored with the send record, in the same transaction.
func withFees(pol *dunning.Policy, today civil.Date, work []due) []due {
	out := make([]due, 0, len(work))
	for _, w := range work {
		st := pol.Steps[w.step]
		if _, charged := w.inv.FeeFor(st.Name); st.Fee == nil || charged {
			out = append(out, w)
			continue
		}
		// Fees accrue on what the customer owes for goods and services, not
		// on earlier fees.
		principal := w.inv.Balance - w.inv.FeesOutstanding()
		amount := st.Fee.Compute(dunning.FeeBasis{Currency: w.inv.Currency, Total: w.inv.Total, Balance: principal, DueOn: w.inv.DueOn, AsOf: today,
			History: w.inv.PrincipalHistory()})
		if amount <= 0 {
			out = append(out, w)
			continue
		}
		cp := *w.inv
		cp.Fees = append(append([]billing.FeeCharge(nil), w.inv.Fees...), billing.FeeCharge{
			Step: w.step, StepName: st.Name, Kind: string(st.Fee.Kind), Amount: amount, ChargedOn: today})
		cp.Balance += amount
		out = append(out, due{&cp, w.step})
	}
	return out
}

// abandon releases a claim after a failure before anything was sent.
func (s *Sweeper) abandon(ctx context.Context, snd *dunning.Send, cause error) error {
	if err := s.store.ReleaseSend(ctx, snd); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// deliver sends, retrying throttling with jittered backoff while the
// context allows.
func (s *Sweeper) deliver(ctx context.Context, msg mailer.Message) (string, error) {
	var err error
	for attempt := range 4 {
		var id string
		if id, err = s.mail.Send(ctx, msg); !errors.Is(err, mailer.ErrThrottled) {
			return id, err
		}
		d := time.Duration(rand.Int64N(int64(200*time.Millisecond) << attempt))
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return "", err
		}
	}
	return "", err
}

// emailLanguage is the language an email to c of kind is written in:
// the customer's, or English for the firm's own (internal) emails.
func emailLanguage(c *billing.Customer, kind dunning.SendKind) string {
	if kind == dunning.Internal {
		return "en"
	}
	return c.Language
}

// compose renders the email for a customer's due invoices.
func (s *Sweeper) compose(ctx context.Context, rc *runCache, c *billing.Customer, kind dunning.SendKind, tone dunning.Tone, work []due, now time.Time, today civil.Date) (mailer.Message, error) {
	lang := emailLanguage(c, kind)
	ov, err := s.wording(ctx, rc, lang)
	if err != nil {
		return mailer.Message{}, err
	}
	d := emails.Data{FirmName: s.settings.FirmName, CustomerName: c.Name, CustomerEmail: c.Email}
	if kind == dunning.ToCustomer && s.settings.Links != nil {
		// A link is a help, not a condition: without its secret the email
		// goes without it.
		if u, err := s.settings.Links.URL(ctx, c.ID, now); err != nil {
			s.log.WarnContext(ctx, "statement link", "customer_id", c.ID, "error", err.Error())
		} else {
			d.StatementURL = u
		}
	}
	totals := map[string]int64{}
	sort.Slice(work, func(i, j int) bool { return work[i].inv.DunningDueOn().Before(work[j].inv.DunningDueOn()) })
	for _, w := range work {
		if b := w.inv.BrokenPromise; b != nil && d.BrokenPromise == nil && kind == dunning.ToCustomer {
			d.BrokenPromise = &emails.Promise{Date: b.PromisedOn.String(), Amount: money.Format(b.Amount, b.Currency, lang)}
		}
		// On an installment plan the line asks for the current installment,
		// dated its own day, not for the whole balance.
		line := emails.Line{
			Number: w.inv.Number, IssuedOn: w.inv.IssuedOn.String(), DueOn: w.inv.DunningDueOn().String(),
			DaysOverdue: w.inv.DunningDaysOverdue(now), Balance: money.Format(w.inv.AmountDue(today), w.inv.Currency, lang), PaymentURL: w.inv.PaymentURL,
			Installment: w.inv.InstallmentLabel(today),
		}
		d.Lines = append(d.Lines, line)
		for _, f := range w.inv.Fees { // the fee this email's step adds, if any
			if f.ChargedOn == today && !f.Waived {
				d.Lines[len(d.Lines)-1].Fee = money.Format(f.Amount, w.inv.Currency, lang)
			}
		}
		totals[w.inv.Currency] += w.inv.AmountDue(today)
	}
	codes := make([]string, 0, len(totals))
	for code := range totals {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	for _, code := range codes {
		d.Totals = append(d.Totals, money.Format(totals[code], code, lang))
	}
	e, err := emails.RenderWith(lang, tone, d, ov)
	if err != nil {
		return mailer.Message{}, err
	}
	msg := mailer.Message{From: s.settings.From, Subject: e.Subject, HTML: e.HTML, Text: e.Text, CustomerID: c.ID}
	if s.settings.ReplyTo != "" {
		msg.ReplyTo = []string{s.settings.ReplyTo}
	}
	if kind == dunning.Internal {
		msg.To = []string{s.settings.CollectionsEmail}
	} else {
		msg.To, msg.CC = []string{c.Email}, c.CC
	}
	return msg, nil
}
