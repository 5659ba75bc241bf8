package billing

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"dunlin/shared/civil"
	"dunlin/shared/ids"
)

// PaymentHistory is what a customer's credit score is worked out from:
// its own record, nothing else.
type PaymentHistory struct {
	AsOf civil.Date
	// Settled are the invoices paid off in the 365 days to AsOf.
	Settled []SettledInvoice
	// Open and Overdue are what it owes now, in its own currency; Limit
	// its credit limit (nil: none).
	Open, Overdue  int64
	Limit          *int64
	BrokenPromises int // in the 365 days to AsOf
}

// SettledInvoice is one paid-off invoice: how much, when due, when paid.
type SettledInvoice struct {
	Total  int64
	DueOn  civil.Date
	PaidOn civil.Date
}

// DaysLate is how many days after the due date it was paid (0 if on time).
func (s SettledInvoice) DaysLate() int { return max(0, s.PaidOn.DaysSince(s.DueOn)) }

// Score is a credit score, 0-100, its grade A-D, and the factors behind it.
type Score struct {
	Score   int
	Grade   string
	Factors []ScoreFactor
}

// ScoreFactor is one factor's contribution: Points is what it added to
// (or, mostly, took from) the starting 100.
type ScoreFactor struct {
	Name    string
	Value   string
	Points  int
	Explain string
}

// Grade thresholds: A from 85, B from 70, C from 50, D below.
func gradeOf(score int) string {
	switch {
	case score >= 85:
		return "A"
	case score >= 70:
		return "B"
	case score >= 50:
		return "C"
	}
	return "D"
}

// ScoreOf works out a customer's score from its history. The formula (the
// README gives it too) starts from 100 and adds each factor's points:
//
//	thin file      -10 when fewer than 3 invoices were settled in 12 months
//	on time        -30 × the share of settled invoices paid after their due date
//	days late      -(amount-weighted average days late ÷ 2), at most -25
//	trend          the last 90 days' weighted days late against the 275
//	               before: worse by Δ days costs Δ÷2 (at most 10), better
//	               earns Δ÷4 (at most 5); needs settled invoices in both
//	broken         -8 per promise broken in 12 months, at most -16
//	overdue now    -15 × the overdue share of what is owed now
//	limit          -10 when owing more than the credit limit, -5 above 90% of it
//
// Points are rounded half away from zero; the score is clamped to 0-100.
// It is deterministic: the same history always gives the same score.
func ScoreOf(h PaymentHistory) Score {
	var fs []ScoreFactor
	add := func(name, value string, points float64, explain string) {
		fs = append(fs, ScoreFactor{Name: name, Value: value, Points: int(math.Round(points)), Explain: explain})
	}
	n := len(h.Settled)
	if n < 3 {
		add("thin_file", fmt.Sprint(n), -10, "fewer than 3 invoices settled in the last 12 months: too little history to trust")
	} else {
		add("thin_file", fmt.Sprint(n), 0, "enough history")
	}
	late := 0
	for _, s := range h.Settled {
		if s.DaysLate() > 0 {
			late++
		}
	}
	if n > 0 {
		add("on_time", fmt.Sprintf("%d of %d", n-late, n), -30*float64(late)/float64(n), "invoices settled by their due date in the last 12 months")
	} else {
		add("on_time", "no invoices", 0, "nothing settled in the last 12 months")
	}
	avg := weightedDaysLate(h.Settled)
	add("days_late", fmt.Sprintf("%.1f", avg), -math.Min(25, avg/2), "amount-weighted average days late in the last 12 months")
	var recent, prior []SettledInvoice
	for _, s := range h.Settled {
		if h.AsOf.DaysSince(s.PaidOn) < 90 {
			recent = append(recent, s)
		} else {
			prior = append(prior, s)
		}
	}
	switch {
	case len(recent) == 0 || len(prior) == 0:
		add("trend", "n/a", 0, "needs settled invoices both in the last 90 days and before")
	default:
		d := weightedDaysLate(recent) - weightedDaysLate(prior)
		pts := -math.Min(10, d/2)
		if d < 0 {
			pts = math.Min(5, -d/4)
		}
		add("trend", fmt.Sprintf("%+.1f", d), pts, "weighted days late in the last 90 days against the 9 months before")
	}
	add("broken_promises", fmt.Sprint(h.BrokenPromises), -math.Min(16, 8*float64(h.BrokenPromises)), "promises to pay broken in the last 12 months")
	overdueShare := 0.0
	if h.Open > 0 {
		overdueShare = float64(h.Overdue) / float64(h.Open)
	}
	add("overdue_now", fmt.Sprintf("%.0f%%", 100*overdueShare), -15*overdueShare, "share of what is owed now that is overdue")
	switch {
	case h.Limit == nil:
		add("limit", "no limit", 0, "no credit limit set")
	case h.Open > *h.Limit:
		add("limit", fmt.Sprintf("%d of %d", h.Open, *h.Limit), -10, "owes more than its credit limit")
	case h.Open*10 > *h.Limit*9:
		add("limit", fmt.Sprintf("%d of %d", h.Open, *h.Limit), -5, "owes more than 90% of its credit limit")
	default:
		add("limit", fmt.Sprintf("%d of %d", h.Open, *h.Limit), 0, "within its credit limit")
	}
	score := 100
	for _, f := range fs {
		score += f.Points
	}
	score = min(100, max(0, score))
	return Score{Score: score, Grade: gradeOf(score), Factors: fs}
}

// weightedDaysLate is the amount-weighted average of days late.
func weightedDaysLate(ss []SettledInvoice) float64 {
	var sum, weight float64
	for _, s := range ss {
		sum += float64(s.Total) * float64(s.DaysLate())
		weight += float64(s.Total)
	}
	if weight == 0 {
		return 0
	}
	return sum / weight
}

// settledIn reads the invoices the customer paid off in the 365 days to today.
func (s *Service) settledIn(ctx context.Context, customerID string, today civil.Date) ([]SettledInvoice, error) {
	var out []SettledInvoice
	// Paid invoices are keyed by due date; one paid within the year was
	// due at most a couple of years before (terms are at most 365 days).
	from := today.AddDays(-365 - 2*maxTermsDays)
	err := s.store.ListInvoices(ctx, InvoiceRange{CustomerID: customerID, State: StatePaid, DueFrom: from, PageSize: 100}, func(inv *Invoice, _ string) bool {
		if !inv.PaidOn.IsZero() && today.DaysSince(inv.PaidOn) < 365 {
			out = append(out, SettledInvoice{Total: inv.Total, DueOn: inv.DueOn, PaidOn: inv.PaidOn})
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("settled invoices of %s: %w", customerID, err)
	}
	return out, nil
}

// UsuallyOnTime is the test for "a customer who is usually on time": at
// least 3 invoices settled in the last 12 months, and at least 90% of them
// by their due date.
func UsuallyOnTime(settled []SettledInvoice) bool {
	onTime := 0
	for _, s := range settled {
		if s.DaysLate() == 0 {
			onTime++
		}
	}
	return len(settled) >= 3 && onTime*10 >= len(settled)*9
}

// NoteLateness raises a usually_on_time_late alert when a customer that
// is usually on time (UsuallyOnTime) has inv overdue: late against its
// own history, not only against the due date. Errors: internal only.
func (s *Service) NoteLateness(ctx context.Context, customerID string, invoices []*Invoice, today civil.Date) error {
	if len(invoices) == 0 {
		return nil
	}
	settled, err := s.settledIn(ctx, customerID, today)
	if err != nil || !UsuallyOnTime(settled) {
		return err
	}
	onTime := 0
	for _, x := range settled {
		if x.DaysLate() == 0 {
			onTime++
		}
	}
	now := s.now().UTC()
	return s.store.Post(ctx, &Posting{Alerts: []*Alert{{ID: ids.New("alr_", now), CustomerID: customerID, Kind: AlertUsuallyOnTimeLate,
		State: AlertOpen, Ref: invoices[0].ID, CreatedAt: now, UpdatedAt: now,
		Message: fmt.Sprintf("%s overdue, from a customer that paid %d of its %d invoices of the last 12 months on time", numbers(invoices), onTime, len(settled))}}})
}

// numbers lists invoice numbers for people: "invoice A-1" or "invoices A-1, A-2".
func numbers(invs []*Invoice) string {
	var ns []string
	for _, inv := range invs {
		ns = append(ns, inv.Number)
	}
	if len(ns) == 1 {
		return "invoice " + ns[0] + " is"
	}
	return "invoices " + strings.Join(ns, ", ") + " are"
}

// CreditFile is everything about a customer's credit in one read.
type CreditFile struct {
	Customer      *Customer
	Balance       *Balance
	Headroom      *int64 // credit limit less exposure in the customer's currency; nil without a limit
	Score         Score
	OnTimeStreak  int // invoices settled on time in a row, most recent first
	AvgDaysLate   float64
	WorstDaysLate int
	Settled12m    int
	OpenPromises  []*Promise
	OpenPlans     []*Invoice // open invoices on an installment plan
	OpenDisputes  int        // open invoices the customer disputes
	LastContacts  []Contact
	Suggested     Suggestion
}

// Suggestion is the credit limit and terms a grade suggests.
type Suggestion struct {
	CreditLimit *int64 // nil: no history to base one on
	TermsDays   int
	Explain     string
}

// Suggest works out a suggested credit limit and payment terms from a
// grade, the customer's monthly volume (what it was invoiced over the last
// 12 months, settled and open, divided by 12, in its currency) and its
// current terms:
//
//	grade  limit               terms
//	A      3 × monthly volume  current terms
//	B      2 × monthly volume  current, at most 30 days
//	C      1 × monthly volume  current, at most 14 days
//	D      0                   0: payment in advance
//
// Limits are rounded up to a multiple of 10,000 minor units (100.00 in
// most currencies). Without any volume there is no limit to suggest.
func Suggest(grade string, monthly int64, termsDays int) Suggestion {
	mult := map[string]int64{"A": 3, "B": 2, "C": 1, "D": 0}[grade]
	terms := map[string]int{"A": termsDays, "B": min(termsDays, 30), "C": min(termsDays, 14), "D": 0}[grade]
	if grade == "D" {
		zero := int64(0)
		return Suggestion{CreditLimit: &zero, TermsDays: 0, Explain: "grade D: no credit; ask for payment in advance"}
	}
	if monthly <= 0 {
		return Suggestion{TermsDays: terms, Explain: fmt.Sprintf("grade %s; no invoices in the last 12 months to base a limit on", grade)}
	}
	limit := (mult*monthly + 9999) / 10000 * 10000
	return Suggestion{CreditLimit: &limit, TermsDays: terms,
		Explain: fmt.Sprintf("grade %s: %d × the monthly volume of %d, rounded up; terms of at most %d days", grade, mult, monthly, terms)}
}

// CustomerCreditFile reads a customer's credit file: terms, limit,
// exposure and headroom, hold, score with its factors, punctuality, open
// promises and disputes, and the last contacts. Its reads are bounded by
// the customer's own last year, never the table. Errors: NotFound.
func (s *Service) CustomerCreditFile(ctx context.Context, id string) (*CreditFile, error) {
	bal, err := s.CustomerBalance(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetCustomer(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	today := civil.Today(now, Location(s.CustomerZone(c)))
	f := &CreditFile{Customer: c, Balance: bal}
	if c.CreditLimit != nil {
		h := *c.CreditLimit - bal.Exposure[c.Currency]
		f.Headroom = &h
	}
	h := PaymentHistory{AsOf: today, Open: bal.Exposure[c.Currency], Overdue: bal.Overdue[c.Currency], Limit: c.CreditLimit}
	if h.Settled, err = s.settledIn(ctx, c.ID, today); err != nil {
		return nil, err
	}
	promises, err := s.ListPromises(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	for _, p := range promises {
		switch {
		case p.State == PromiseOpen:
			f.OpenPromises = append(f.OpenPromises, p)
		case p.State == PromiseBroken && p.ResolvedAt != nil && now.Sub(*p.ResolvedAt).Hours() < 365*24:
			h.BrokenPromises++
		}
	}
	var volume int64 // invoiced in the last 12 months: settled and open
	for _, st := range h.Settled {
		volume += st.Total
	}
	err = s.store.ListInvoices(ctx, InvoiceRange{CustomerID: c.ID, State: StateOpen, PageSize: 100}, func(inv *Invoice, _ string) bool {
		if inv.Disputed {
			f.OpenDisputes++
		}
		if inv.Plan != nil {
			f.OpenPlans = append(f.OpenPlans, inv)
		}
		if inv.Currency == c.Currency && today.DaysSince(inv.IssuedOn) < 365 {
			volume += inv.Total
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if f.LastContacts, err = s.store.ListContacts(ctx, c.ID, 5); err != nil {
		return nil, err
	}
	f.Score = ScoreOf(h)
	f.Suggested = Suggest(f.Score.Grade, volume/12, c.PaymentTermsDays)
	f.Settled12m = len(h.Settled)
	f.AvgDaysLate = weightedDaysLate(h.Settled)
	recentFirst := slices.Clone(h.Settled)
	slices.SortStableFunc(recentFirst, func(a, b SettledInvoice) int { return b.PaidOn.Compare(a.PaidOn) })
	for _, s := range recentFirst {
		f.WorstDaysLate = max(f.WorstDaysLate, s.DaysLate())
	}
	for _, s := range recentFirst {
		if s.DaysLate() > 0 {
			break
		}
		f.OnTimeStreak++
	}
	return f, nil
}
