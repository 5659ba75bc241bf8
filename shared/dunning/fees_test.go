package dunning

import (
	"testing"

	"dunlin/shared/civil"
)

func TestFeesAreComputedInMinorUnitsAndRounded(t *testing.T) {
	due := civil.MustParse("2026-01-31")
	basis := FeeBasis{Currency: "EUR", Total: 100000, Balance: 100000, DueOn: due, AsOf: due.AddDays(30)}
	cases := []struct {
		name string
		fee  Fee
		b    FeeBasis
		want int64
	}{
		{"fixed in the invoice's currency", Fee{Kind: FeeFixed, Amounts: map[string]int64{"EUR": 1500}}, basis, 1500},
		{"fixed in another currency", Fee{Kind: FeeFixed, Amounts: map[string]int64{"GBP": 1500}}, basis, 0},
		{"2.5% of the overdue balance", Fee{Kind: FeePercent, RateBP: 250}, basis, 2500},
		// 1000.00 × 8% × 30/365 = 6.5753… -> 6.58
		{"8% simple interest for 30 days", Fee{Kind: FeeInterest, RateBP: 800}, basis, 658},
		// ECB 2.15% + 8 points = 10.15% on 1000.00 for 30 days = 8.3424… -> 8.34
		{"EU statutory interest", Fee{Kind: FeeStatutory, ReferenceBP: 215, MarginBP: 800}, basis, 834},
		{"UK compensation, small invoice", Fee{Kind: FeeCompensation, Currency: "GBP", Tiers: []Tier{{99999, 4000}, {999999, 7000}, {0, 10000}}}, FeeBasis{Currency: "GBP", Total: 50000, Balance: 50000, DueOn: due, AsOf: due.AddDays(1)}, 4000},
		{"UK compensation, large invoice", Fee{Kind: FeeCompensation, Currency: "GBP", Tiers: []Tier{{99999, 4000}, {999999, 7000}, {0, 10000}}}, FeeBasis{Currency: "GBP", Total: 2500000, Balance: 10, DueOn: due, AsOf: due.AddDays(1)}, 10000},
		{"JPY has no minor unit", Fee{Kind: FeePercent, RateBP: 150}, FeeBasis{Currency: "JPY", Total: 12345, Balance: 12345, DueOn: due, AsOf: due.AddDays(1)}, 185},
		{"nothing outstanding", Fee{Kind: FeeFixed, Amounts: map[string]int64{"EUR": 1500}}, FeeBasis{Currency: "EUR", Balance: 0, DueOn: due, AsOf: due.AddDays(5)}, 0},
		{"not yet overdue", Fee{Kind: FeeFixed, Amounts: map[string]int64{"EUR": 1500}}, FeeBasis{Currency: "EUR", Balance: 100, DueOn: due, AsOf: due}, 0},
		// The largest balance, a year of 10.15%: 2^53 x 0.1015 = 914230724356210.69, exact, no 64-bit overflow.
		{"huge balance, statutory", Fee{Kind: FeeStatutory, ReferenceBP: 215, MarginBP: 800}, FeeBasis{Currency: "EUR", Total: 1 << 53, Balance: 1 << 53, DueOn: due, AsOf: due.AddDays(365)}, 914230724356211},
		{"huge balance, percent", Fee{Kind: FeePercent, RateBP: 10000}, FeeBasis{Currency: "EUR", Total: 1<<53 - 1, Balance: 1<<53 - 1, DueOn: due, AsOf: due.AddDays(1)}, 1<<53 - 1},
	}
	for _, c := range cases {
		if got := c.fee.Compute(c.b); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// Statutory interest accrues on what was actually outstanding each day:
// a part payment halfway stops interest on the part paid.
func TestStatutoryInterestFollowsTheBalanceBetweenPayments(t *testing.T) {
	due := civil.MustParse("2026-03-01")
	fee := Fee{Kind: FeeStatutory, ReferenceBP: 200, MarginBP: 800} // 10% a year
	b := FeeBasis{Currency: "EUR", Total: 365000, Balance: 182500, DueOn: due, AsOf: due.AddDays(20),
		History: []Segment{{From: civil.MustParse("2026-02-01"), Balance: 365000}, {From: due.AddDays(11), Balance: 182500}}}
	// 10 days on 3650.00 (1.00/day) + 10 days on 1825.00 (0.50/day) = 15.00
	if got := fee.Compute(b); got != 1500 {
		t.Errorf("statutory with a part payment = %d, want 1500", got)
	}
}

func TestFeeValidation(t *testing.T) {
	bad := []Fee{
		{Kind: "late"},
		{Kind: FeeFixed},
		{Kind: FeeFixed, Amounts: map[string]int64{"eur": 100}},
		{Kind: FeePercent, RateBP: 0},
		{Kind: FeeStatutory},
		{Kind: FeeCompensation, Currency: "GBP", Tiers: []Tier{{0, 4000}, {100, 7000}}},
	}
	for _, f := range bad {
		if err := f.Validate("steps[0].fee"); err == nil {
			t.Errorf("%+v accepted", f)
		}
	}
	good := Fee{Kind: FeeCompensation, Currency: "GBP", Tiers: []Tier{{99999, 4000}, {999999, 7000}, {0, 10000}}}
	if err := good.Validate("fee"); err != nil {
		t.Error(err)
	}
}
