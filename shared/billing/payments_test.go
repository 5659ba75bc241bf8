package billing

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

func openInvoice(id string, total int64, issued string) *Invoice {
	return &Invoice{ID: id, Total: total, Balance: total, State: StateOpen, IssuedOn: civil.MustParse(issued)}
}

func TestEarlyPaymentDiscountIsExactAndOnlyInsideTheWindow(t *testing.T) {
	inv := openInvoice("inv", 12345, "2026-11-01")
	inv.Discount = &DiscountTerms{RateBP: 200, Days: 10}
	for _, c := range []struct {
		day  string
		want int64
	}{
		{"2026-11-01", 247}, // 2% of 123.45 is 2.469: half up to 2.47
		{"2026-11-11", 247}, // the tenth day is inside
		{"2026-11-12", 0},
	} {
		if got := inv.DiscountOn(civil.MustParse(c.day)); got != c.want {
			t.Errorf("on %s: %d, want %d", c.day, got, c.want)
		}
	}
	half := openInvoice("inv", 25, "2026-11-01") // 2% of 0.25 is 0.005: half up to 0.01
	half.Discount = &DiscountTerms{RateBP: 200, Days: 10}
	if got := half.DiscountOn(civil.MustParse("2026-11-02")); got != 1 {
		t.Errorf("half a minor unit rounds to %d, want 1", got)
	}
	inv.DiscountTaken = 247
	if got := inv.DiscountOn(civil.MustParse("2026-11-02")); got != 0 {
		t.Errorf("a discount taken once is offered again: %d", got)
	}
	credited := openInvoice("inv", 10000, "2026-11-01")
	credited.Discount, credited.Credited, credited.Balance = &DiscountTerms{RateBP: 200, Days: 10}, 9900, 100
	if got := credited.DiscountOn(civil.MustParse("2026-11-02")); got != 2 {
		t.Errorf("after a 99.00 credit note the discount is %d, want 2 (2%% of 1.00)", got)
	}
	// A discount that would swallow the whole balance is no payment: one
	// minor unit pays one minor unit.
	if a, ok := applyTo(credited, 1, civil.MustParse("2026-11-02")); !ok || a.Amount != 1 || a.Discount != 0 || a.Settles() {
		t.Errorf("a 1-unit payment: %+v", a)
	}
	huge := openInvoice("inv", 9_000_000_000_000_000_000, "2026-11-01")
	huge.Discount = &DiscountTerms{RateBP: 5000, Days: 10}
	if got := huge.DiscountOn(civil.MustParse("2026-11-02")); got != 4_500_000_000_000_000_000 {
		t.Errorf("no overflow on large totals: %d", got)
	}
}

func TestOldestFirstSettlesWithDiscountAndSkipsDisputes(t *testing.T) {
	a := openInvoice("a", 10000, "2026-11-01")
	a.Discount = &DiscountTerms{RateBP: 300, Days: 30}
	b := openInvoice("b", 5000, "2026-11-02")
	b.Disputed = true
	c := openInvoice("c", 4000, "2026-11-03")
	applies, rest := allocateOldestFirst(12000, civil.MustParse("2026-11-20"), []*Invoice{a, b, c})
	got := fmt.Sprint(rest)
	for _, ap := range applies {
		got += fmt.Sprintf(" %s:%d+%d settles=%v", ap.Invoice.ID, ap.Amount, ap.Discount, ap.Settles())
	}
	// a: 97.00 settles 100.00 (3% off); b is disputed; c gets the 23.00 left.
	if want := "0 a:9700+300 settles=true c:2300+0 settles=false"; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestReversalTakesCreditFirstThenNewestAllocationsAndForfeitsDiscounts(t *testing.T) {
	p := &Payment{Amount: 10000, Unapplied: 1000, Allocations: []Allocation{
		{InvoiceID: "a", Amount: 4850, Discount: 150},
		{InvoiceID: "b", Amount: 4150},
	}}
	fromCredit, reopens := p.reverse(6000)
	if fromCredit != 1000 || fmt.Sprint(reopens) != "[{b 4150 0} {a 850 150}]" {
		t.Fatalf("from credit %d, reopens %v", fromCredit, reopens)
	}
	if fmt.Sprint(p.Allocations) != "[{a 4000 0}]" || p.Unapplied != 0 {
		t.Errorf("left: %v, unapplied %d", p.Allocations, p.Unapplied)
	}
	inv := &Invoice{ID: "a", Total: 5000, Balance: 0, Paid: 4850, DiscountTaken: 150, State: StatePaid}
	reopen(inv, reopens[1], civil.MustParse("2026-12-01"), time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	if inv.Balance != 1000 || inv.Paid != 4000 || inv.DiscountTaken != 0 || inv.State != StateOpen || inv.NextActionOn != civil.MustParse("2026-12-01") {
		t.Errorf("reopened: %+v", inv)
	}
	if inv.Balance != inv.Total-inv.Paid-inv.Credited-inv.DiscountTaken {
		t.Errorf("balance %d is not total - paid - credited - discount", inv.Balance)
	}
}

// Merging provider facts gives the same payment whatever the order and
// however often each fact arrives.
func TestProviderFactsMergeTheSameInAnyOrder(t *testing.T) {
	day := civil.MustParse("2026-11-20")
	facts := []*ProviderEvent{
		{Success: &ProviderSuccess{Amount: 5000, Currency: "EUR", ReceivedOn: day}},
		{Refunded: 1000},
		{Refunded: 2500},
		{Dispute: &Dispute{ID: "dp1", Status: DisputeOpen, Amount: 2500}},
		{Dispute: &Dispute{ID: "dp1", Status: DisputeLost, Amount: 2500}},
		{Dispute: &Dispute{ID: "dp2", Status: DisputeOpen, Amount: 100}},
	}
	merged := func(order []int) string {
		p := &Payment{}
		for _, i := range order {
			p.mergeFacts(facts[i])
			p.mergeFacts(facts[i]) // again: nothing changes
		}
		// Disputes are kept in the order first seen; compare them by id.
		slices.SortFunc(p.Disputes, func(a, b Dispute) int { return strings.Compare(a.ID, b.ID) })
		return fmt.Sprintf("%d %s %d %v", p.Amount, p.ReceivedOn, p.ProviderRefunded, p.Disputes)
	}
	want := merged([]int{0, 1, 2, 3, 4, 5})
	if want != "5000 2026-11-20 2500 [{dp1 lost 2500 } {dp2 open 100 }]" {
		t.Fatalf("in order: %s", want)
	}
	var perm func(prefix, rest []int)
	n := 0
	perm = func(prefix, rest []int) {
		if len(rest) == 0 {
			n++
			if got := merged(prefix); got != want {
				t.Errorf("order %v: %s, want %s", prefix, got, want)
			}
			return
		}
		for i := range rest {
			next := append(append([]int{}, rest[:i]...), rest[i+1:]...)
			perm(append(append([]int{}, prefix...), rest[i]), next)
		}
	}
	perm(nil, []int{0, 1, 2, 3, 4, 5})
	if n != 720 {
		t.Fatalf("%d orders", n)
	}
}

func TestPrincipalHistoryFollowsPaymentsFromTheDueDate(t *testing.T) {
	d := civil.MustParse
	inv := &Invoice{Total: 10000, Balance: 7500, DueOn: d("2026-10-31"), Movements: []Movement{
		{On: d("2026-11-20"), Amount: -3000}, // a part payment
		{On: d("2026-10-15"), Amount: -1000}, // paid before the due date
		{On: d("2026-12-01"), Amount: 2000},  // a refund reopened part of it
		{On: d("2026-11-20"), Amount: -500},  // a credit note the same day
	}}
	got := fmt.Sprint(inv.PrincipalHistory())
	if want := "[{2026-10-31 9000} {2026-11-20 5500} {2026-12-01 7500}]"; got != want {
		t.Errorf("history %s, want %s", got, want)
	}
	// Statutory interest at 8% a year, from the day after the due date: on
	// 90.00 for 19 days (1-19 Nov), 55.00 for 11 (20-30 Nov) and 75.00 for 5
	// (1-5 Dec): (9000×19 + 5500×11 + 7500×5) × 800 / (10,000 × 365) =
	// 58.96, so 59 minor units.
	fee := dunning.Fee{Kind: dunning.FeeStatutory, ReferenceBP: 300, MarginBP: 500}
	b := dunning.FeeBasis{Currency: "EUR", Total: 10000, Balance: 7500, DueOn: inv.DueOn, AsOf: d("2026-12-05"), History: inv.PrincipalHistory()}
	if got := fee.Compute(b); got != 59 {
		t.Errorf("statutory interest %d, want 59", got)
	}
	if (&Invoice{Total: 5, Balance: 5}).PrincipalHistory() != nil {
		t.Error("no movements: no history (the balance stood since the due date)")
	}
	inv.Balance = 3000 // movements that do not explain the balance (older data): no history
	if inv.PrincipalHistory() != nil {
		t.Error("a history that does not add up to the balance was used")
	}
}
