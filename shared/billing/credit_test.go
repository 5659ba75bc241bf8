package billing

import (
	"fmt"
	"testing"

	"dunlin/shared/civil"
)

func settled(total int64, due, paid string) SettledInvoice {
	return SettledInvoice{Total: total, DueOn: civil.MustParse(due), PaidOn: civil.MustParse(paid)}
}

// Hand-worked scores. Each case gives the factor points as worked out on
// paper from the formula in ScoreOf's comment.
func TestScoresForHandWorkedHistories(t *testing.T) {
	asOf := civil.MustParse("2026-11-23")
	limit := func(n int64) *int64 { return &n }
	for _, c := range []struct {
		name   string
		h      PaymentHistory
		points string // thin, on time, days late, trend, broken, overdue, limit
		score  int
		grade  string
	}{
		{
			// Four invoices, all on time, nothing owed: nothing to take off.
			name: "always on time",
			h: PaymentHistory{AsOf: asOf, Settled: []SettledInvoice{
				settled(1000, "2026-03-01", "2026-02-27"), settled(1000, "2026-05-01", "2026-05-01"),
				settled(1000, "2026-10-01", "2026-09-30"), settled(1000, "2026-11-01", "2026-11-01")}},
			points: "[0 0 0 0 0 0 0]", score: 100, grade: "A",
		},
		{
			// 3 of 4 late: -30×3/4 = -22.5 → -23. Weighted days late
			// (10000×20 + 30000×10 + 10000×30 + 10000×0) / 60000 = 13.33,
			// ÷2 → -6.67 → -7. Trend: last 90 days (C, D) 15.0 against
			// (A, B) 12.5, worse by 2.5 → -1.25 → -1. One broken promise
			// -8. 5000 of 20000 overdue: -15×0.25 = -3.75 → -4. 20000 owed
			// against a 21000 limit is above 90%: -5. 100 - 48 = 52: C.
			name: "a late payer getting later",
			h: PaymentHistory{AsOf: asOf, Open: 20000, Overdue: 5000, Limit: limit(21000), BrokenPromises: 1, Settled: []SettledInvoice{
				settled(10000, "2026-03-01", "2026-03-21"), settled(30000, "2026-06-01", "2026-06-11"),
				settled(10000, "2026-10-01", "2026-10-31"), settled(10000, "2026-11-01", "2026-11-01")}},
			points: "[0 -23 -7 -1 -8 -4 -5]", score: 52, grade: "C",
		},
		{
			// One invoice, 5 days late: thin file -10, on time -30, days
			// late 5÷2 = 2.5 → -3 (half away from zero). 100 - 43 = 57: C.
			name:   "one invoice, a little late",
			h:      PaymentHistory{AsOf: asOf, Settled: []SettledInvoice{settled(1000, "2026-09-01", "2026-09-06")}},
			points: "[-10 -30 -3 0 0 0 0]", score: 57, grade: "C",
		},
		{
			// Getting better: before, 40 days late; lately 0. On time
			// -30×2/4 = -15; weighted (2×1000×40)/4000 = 20 → -10; trend
			// better by 40 earns 40÷4 = 10, capped at +5. 100 - 20 = 80: B.
			name: "improving",
			h: PaymentHistory{AsOf: asOf, Settled: []SettledInvoice{
				settled(1000, "2026-02-01", "2026-03-13"), settled(1000, "2026-04-01", "2026-05-11"),
				settled(1000, "2026-10-01", "2026-10-01"), settled(1000, "2026-11-01", "2026-10-30")}},
			points: "[0 -15 -10 5 0 0 0]", score: 80, grade: "B",
		},
		{
			// Everything wrong: all 60 days late (-30, -25 capped), two
			// broken promises (-16), all owed is overdue (-15), over the
			// limit (-10); no recent invoices, so no trend. 100 - 96 = 4: D.
			name: "everything wrong",
			h: PaymentHistory{AsOf: asOf, Open: 50000, Overdue: 50000, Limit: limit(40000), BrokenPromises: 2, Settled: []SettledInvoice{
				settled(1000, "2026-01-01", "2026-03-02"), settled(1000, "2026-02-01", "2026-04-02"), settled(1000, "2026-03-01", "2026-04-30")}},
			points: "[0 -30 -25 0 -16 -15 -10]", score: 4, grade: "D",
		},
		{
			// A limit of 0 is a limit: owing anything is over it (-10).
			name:   "a zero limit",
			h:      PaymentHistory{AsOf: asOf, Open: 500, Limit: limit(0)},
			points: "[-10 0 0 0 0 0 -10]", score: 80, grade: "B",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := ScoreOf(c.h)
			var pts []int
			for _, f := range got.Factors {
				pts = append(pts, f.Points)
			}
			if fmt.Sprint(pts) != c.points || got.Score != c.score || got.Grade != c.grade {
				t.Errorf("points %v score %d %s; want %s %d %s\n%+v", pts, got.Score, got.Grade, c.points, c.score, c.grade, got.Factors)
			}
			if again := ScoreOf(c.h); fmt.Sprint(again) != fmt.Sprint(got) {
				t.Error("not deterministic")
			}
		})
	}
}

// Suggested limits and terms, worked by hand from the table in Suggest's
// comment.
func TestSuggestedLimitsFollowTheGrade(t *testing.T) {
	for _, tc := range []struct {
		grade   string
		monthly int64
		terms   int
		limit   string // "none" for nil
		days    int
	}{
		{"A", 123456, 45, "380000", 45}, // 3 × 1,234.56 = 3,703.68 → 3,800.00
		{"B", 123456, 45, "250000", 30}, // 2 × 1,234.56 = 2,469.12 → 2,500.00
		{"C", 123456, 10, "130000", 10}, // 1,234.56 → 1,300.00; terms already under 14
		{"C", 0, 30, "none", 14},        // nothing invoiced: no limit to suggest
		{"D", 999999, 30, "0", 0},       // no credit at all
	} {
		s := Suggest(tc.grade, tc.monthly, tc.terms)
		limit := "none"
		if s.CreditLimit != nil {
			limit = fmt.Sprint(*s.CreditLimit)
		}
		if limit != tc.limit || s.TermsDays != tc.days || s.Explain == "" {
			t.Errorf("%s, %d a month, %d days: limit %s, %d days (%s); want %s, %d", tc.grade, tc.monthly, tc.terms, limit, s.TermsDays, s.Explain, tc.limit, tc.days)
		}
	}
}
