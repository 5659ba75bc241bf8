package billing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/civil"
	"dunlin/shared/ids"
)

// Alert kinds raised by scoring and by sending.
const (
	AlertGradeDropped   = "grade_dropped"
	AlertAddressBounced = "address_bounced"
)

// CreditScore is a customer's stored score: what the last rescoring found
// and when time alone will next change it.
//
// A score is recomputed after anything that can change it (an invoice
// created, changed or paid, a promise made or settled, a dunning fee): those
// writes mark the customer for rescoring in their own transaction, and each
// sweep rescores the customers marked. Time changes a score too (an invoice
// falls overdue, a paid invoice leaves the 90-day or 12-month window, a
// broken promise ages out), so each rescoring also sets RescoreOn, the
// first such day: the sweep's pass reads only customers marked or due,
// never the whole table.
type CreditScore struct {
	CustomerID string
	Score      Score
	AsOf       civil.Date
	ScoredAt   time.Time
	RescoreOn  civil.Date // zero: only an event will change the score
	Version    int64      // optimistic locking; a mark bumps it too
	// Marked: a change asked for a rescore, at MarkedAt (wall clock).
	Marked   bool
	MarkedAt time.Time
	// Before, on a score being written, is the one it replaces (nil: none).
	Before *Score
}

// markSettle is how long after a mark the rescoring pass waits before it
// reads: a score reads the customer's invoices through an index, which
// trails the write that marked it by a moment (usually well under a
// second). The pass waits at most once, for its youngest mark.
const markSettle = time.Second

// Scored reports whether the record holds a score (a customer marked for
// rescoring before it was ever scored has a record without one).
func (cs *CreditScore) Scored() bool { return cs != nil && cs.Score.Grade != "" }

// gradeRank orders grades: A is 0, D is 3.
func gradeRank(g string) int { return strings.Index("ABCD", g) }

// creditFacts is what a score is worked out from, read once.
type creditFacts struct {
	History  PaymentHistory
	Open     []*Invoice
	Promises []*Promise
}

// facts reads a customer's last year: invoices settled, open invoices and
// promises. Its reads follow the customer's own records, never the table.
func (s *Service) facts(ctx context.Context, c *Customer, today civil.Date) (*creditFacts, error) {
	f := &creditFacts{History: PaymentHistory{AsOf: today, Limit: c.CreditLimit}}
	var err error
	if f.History.Settled, err = s.settledIn(ctx, c.ID, today); err != nil {
		return nil, err
	}
	err = s.store.ListInvoices(ctx, InvoiceRange{CustomerID: c.ID, State: StateOpen, PageSize: 100}, func(inv *Invoice, _ string) bool {
		f.Open = append(f.Open, inv)
		if inv.Currency == c.Currency {
			f.History.Open += inv.Balance
			if civil.Today(s.now(), Location(inv.Timezone)).After(inv.DueOn) {
				f.History.Overdue += inv.Balance
			}
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("open invoices of %s: %w", c.ID, err)
	}
	// As stored: only broken promises count, and "broken" is always stored.
	if f.Promises, err = s.store.ListPromises(ctx, c.ID); err != nil {
		return nil, err
	}
	now := s.now()
	for _, p := range f.Promises {
		if p.State == PromiseBroken && p.ResolvedAt != nil && now.Sub(*p.ResolvedAt) < 365*24*time.Hour {
			f.History.BrokenPromises++
		}
	}
	return f, nil
}

// nextRescore is the first day after today on which time alone changes
// the score: an open invoice in the customer's currency falls overdue, a
// settled invoice moves out of the last 90 days or the last 12 months, a
// broken promise turns a year old. Zero when there is none.
func nextRescore(f *creditFacts, currency string, today civil.Date) civil.Date {
	var next civil.Date
	consider := func(d civil.Date) {
		if d.After(today) && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	for _, inv := range f.Open {
		if inv.Currency == currency {
			consider(inv.DueOn.AddDays(1))
		}
	}
	for _, st := range f.History.Settled {
		consider(st.PaidOn.AddDays(90))
		consider(st.PaidOn.AddDays(365))
	}
	for _, p := range f.Promises {
		if p.State == PromiseBroken && p.ResolvedAt != nil {
			consider(civil.Today(*p.ResolvedAt, time.UTC).AddDays(366))
		}
	}
	return next
}

// Rescore recomputes a customer's score from its history, stores it with
// the day it is next due, and sets the customer's grade and score. A grade
// lower than the stored one raises a grade_dropped alert in the same
// transaction. Errors: NotFound; Conflict beyond retries.
func (s *Service) Rescore(ctx context.Context, customerID string) (*CreditScore, error) {
	cs, _, err := s.rescore(ctx, customerID, true)
	return cs, err
}

// rescore is Rescore; unless always, a customer neither marked nor due in
// its own zone (the queue is read up to the latest date anywhere) is left
// as it is, and wrote is false.
func (s *Service) rescore(ctx context.Context, customerID string, always bool) (cs *CreditScore, wrote bool, err error) {
	cs, err = retryRaces(ctx, func() (*CreditScore, error) {
		c, err := s.store.GetCustomer(ctx, customerID)
		if err != nil {
			return nil, err
		}
		prev, err := s.store.GetScore(ctx, customerID)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC()
		today := civil.Today(now, Location(s.CustomerZone(c)))
		if !always && prev.Scored() && !prev.Marked && prev.RescoreOn.After(today) {
			wrote = false
			return prev, nil
		}
		f, err := s.facts(ctx, c, today)
		if err != nil {
			return nil, err
		}
		cs := &CreditScore{CustomerID: c.ID, Score: ScoreOf(f.History), AsOf: today, ScoredAt: now,
			RescoreOn: nextRescore(f, c.Currency, today), Version: prev.Version + 1}
		if prev.Scored() {
			cs.Before = &prev.Score
		}
		pt := &Posting{Score: cs, CustomerID: c.ID}
		if prev.Scored() && gradeRank(cs.Score.Grade) > gradeRank(prev.Score.Grade) {
			pt.Alerts = []*Alert{{ID: ids.New("alr_", now), CustomerID: c.ID, Kind: AlertGradeDropped, State: AlertOpen,
				Ref: cs.AsOf.String(), CreatedAt: now, UpdatedAt: now, Message: gradeDropMessage(prev.Score, cs.Score)}}
		}
		if prev.Scored() && cs.Score.Grade != prev.Score.Grade {
			// Up or down: a receiver (a CRM, credit insurance) keeps its own copy of the grade.
			pt.Events = append(pt.Events, gradeChangedEvent(c, prev.Score, cs.Score, cs.AsOf, now))
		}
		if err := s.store.Post(ctx, pt); err != nil {
			return nil, err
		}
		wrote = true
		return cs, nil
	})
	return cs, wrote, err
}

// gradeDropMessage says how far the grade fell and which factors moved most.
func gradeDropMessage(before, after Score) string {
	type move struct {
		name  string
		delta int
	}
	old := map[string]int{}
	for _, f := range before.Factors {
		old[f.Name] = f.Points
	}
	var moves []move
	for _, f := range after.Factors {
		if d := f.Points - old[f.Name]; d < 0 {
			moves = append(moves, move{f.Name + " (" + f.Value + ")", d})
		}
	}
	slices.SortStableFunc(moves, func(a, b move) int { return a.delta - b.delta })
	var why []string
	for _, m := range moves[:min(3, len(moves))] {
		why = append(why, fmt.Sprintf("%s %+d", m.name, m.delta))
	}
	msg := fmt.Sprintf("credit grade fell from %s (%d) to %s (%d)", before.Grade, before.Score, after.Grade, after.Score)
	if len(why) > 0 {
		msg += ": " + strings.Join(why, ", ")
	}
	return msg
}

// RescoreDue rescores the customers marked for rescoring or due by now
// (the latest today anywhere), until ctx ends. It returns how many it scored;
// one customer's failure does not stop the others (the first error is
// returned after the pass, and the customer stays marked).
func (s *Service) RescoreDue(ctx context.Context, now time.Time) (int, error) {
	var (
		due      []string
		youngest time.Time
	)
	err := s.store.DueRescores(ctx, civil.Today(now, latestZone), func(id string, markedAt time.Time) bool {
		due = append(due, id)
		if markedAt.After(youngest) {
			youngest = markedAt
		}
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("read the rescoring queue: %w", err)
	}
	if wait := s.indexLag - time.Since(youngest); wait > 0 && len(due) > 0 {
		select { // let the indexes catch up with the latest marked change
		case <-time.After(wait):
		case <-ctx.Done():
			return 0, nil
		}
	}
	n := 0
	var first error
	for _, id := range due {
		if ctx.Err() != nil {
			break
		}
		_, wrote, err := s.rescore(audit.Fork(ctx), id, false)
		switch {
		case err == nil && wrote:
			n++
		case err == nil:
		case apperr.Is(err, apperr.NotFound):
		case first == nil:
			first = fmt.Errorf("rescore %s: %w", id, err)
		}
	}
	return n, first // customers left when ctx ended stay marked for the next run
}
