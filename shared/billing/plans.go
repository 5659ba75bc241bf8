package billing

import (
	"context"
	"fmt"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
)

// Plan is an installment plan: what an invoice owed when the plan was
// agreed, split into dated parts. Each part is dunned from its own date;
// money received is applied to the parts in order.
type Plan struct {
	Installments []Installment
	// Base is what had been settled on the invoice (paid, credited,
	// discount) when the plan was made: only money after it pays parts.
	Base      int64
	CreatedAt time.Time
}

// Installment is one dated part of a plan.
type Installment struct {
	DueOn  civil.Date
	Amount int64
}

// maxInstallments keeps a plan readable in one email and one item.
const maxInstallments = 36

// PlanInput is a request to split an invoice's balance.
type PlanInput struct {
	Installments []InstallmentInput `json:"installments"`
}

// InstallmentInput is one part as the API takes it.
type InstallmentInput struct {
	DueOn  string `json:"due_on"`
	Amount *int64 `json:"amount"`
}

// Settled is what has been paid, credited and discounted on the invoice.
func (inv *Invoice) Settled() int64 { return inv.Paid + inv.Credited + inv.DiscountTaken }

// InstallmentState is one installment as it stands.
type InstallmentState struct {
	Installment
	Paid int64 // of Amount
}

// Installments reports each installment with what has been paid of it,
// money after the plan's base filling them in order. Nil without a plan.
func (inv *Invoice) Installments() []InstallmentState {
	if inv.Plan == nil {
		return nil
	}
	left := max(0, inv.Settled()-inv.Plan.Base)
	out := make([]InstallmentState, 0, len(inv.Plan.Installments))
	for _, in := range inv.Plan.Installments {
		p := min(left, in.Amount)
		left -= p
		out = append(out, InstallmentState{Installment: in, Paid: p})
	}
	return out
}

// CurrentInstallment is the first installment not fully paid: its index
// and what remains of it; ok is false without a plan or when every
// installment is paid.
func (inv *Invoice) CurrentInstallment() (i int, left int64, ok bool) {
	for i, st := range inv.Installments() {
		if st.Paid < st.Amount {
			return i, st.Amount - st.Paid, true
		}
	}
	return 0, 0, false
}

// DunningDueOn is the date the dunning ladder counts from: the due date,
// or on a plan the current installment's date (the last one's once all
// are paid and fees remain).
func (inv *Invoice) DunningDueOn() civil.Date {
	if inv.Plan == nil || len(inv.Plan.Installments) == 0 {
		return inv.DueOn
	}
	if i, _, ok := inv.CurrentInstallment(); ok {
		return inv.Plan.Installments[i].DueOn
	}
	return inv.Plan.Installments[len(inv.Plan.Installments)-1].DueOn
}

// Progress is the last ladder step taken and its offset, counted for the
// date dunning now runs from: when an installment is paid and the next
// one's date takes over, the ladder starts again for it.
func (inv *Invoice) Progress() (step, offset int) {
	if inv.Plan != nil && inv.DunningFor != inv.DunningDueOn() {
		return -1, 0
	}
	return inv.DunningStep, inv.DunningOffset
}

// AmountDue is what dunning asks for on day: the balance, or on a plan
// what remains of every installment dated on or before day, or of the
// current one when none is due yet (the balance once all are paid).
func (inv *Invoice) AmountDue(day civil.Date) int64 {
	if inv.Plan == nil {
		return inv.Balance
	}
	var due int64
	first := true
	for _, st := range inv.Installments() {
		if st.Paid >= st.Amount {
			continue
		}
		if first || !st.DueOn.After(day) {
			due += st.Amount - st.Paid
		}
		first = false
	}
	if first { // all paid: fees remain
		return inv.Balance
	}
	return min(due, inv.Balance)
}

// InstallmentLabel names the installments AmountDue(day) asks for, as
// "2/3" or "2-3/4"; "" without a plan or when all are paid.
func (inv *Invoice) InstallmentLabel(day civil.Date) string {
	i, _, ok := inv.CurrentInstallment()
	if !ok {
		return ""
	}
	last := i
	for j := i + 1; j < len(inv.Plan.Installments) && !inv.Plan.Installments[j].DueOn.After(day); j++ {
		last = j
	}
	if last == i {
		return fmt.Sprintf("%d/%d", i+1, len(inv.Plan.Installments))
	}
	return fmt.Sprintf("%d-%d/%d", i+1, last+1, len(inv.Plan.Installments))
}

// InstallmentChangedBy reports whether applying amount more to the invoice
// would finish its current installment: the ladder then starts again from
// the next one's date, so the invoice goes back in the sweep's queue.
func (inv *Invoice) InstallmentChangedBy(amount int64) bool {
	if inv.Plan == nil {
		return false
	}
	before, _, ok := inv.CurrentInstallment()
	if !ok {
		return false
	}
	cp := *inv
	cp.Paid += amount
	after, _, ok := cp.CurrentInstallment()
	return !ok || after != before
}

// DunningDaysOverdue is days past DunningDueOn at now, in the invoice's zone.
func (inv *Invoice) DunningDaysOverdue(now time.Time) int {
	return max(0, civil.Today(now, Location(inv.Timezone)).DaysSince(inv.DunningDueOn()))
}

// MakePlan splits an open invoice's balance into dated installments that
// add up to it exactly, in date order. A new plan replaces an earlier one.
// The sweep looks at the invoice today and duns each installment from
// its own date. Errors: NotFound; Invalid naming the field; Conflict when
// the invoice is not open or is disputed.
func (s *Service) MakePlan(ctx context.Context, id string, in PlanInput) (*Invoice, error) {
	if len(in.Installments) == 0 {
		return nil, apperr.Invalidf("installments", "installments are required: at least one {due_on, amount}")
	}
	if len(in.Installments) > maxInstallments {
		return nil, apperr.Invalidf("installments", "at most %d installments", maxInstallments)
	}
	parts := make([]Installment, 0, len(in.Installments))
	var sum int64
	for i, x := range in.Installments {
		field := fmt.Sprintf("installments[%d]", i)
		on, err := checkDate(field+".due_on", x.DueOn)
		if err != nil {
			return nil, err
		}
		amt, err := requiredAmount(field+".amount", x.Amount)
		if err != nil {
			return nil, err
		}
		if i > 0 && !on.After(parts[i-1].DueOn) {
			return nil, apperr.Invalidf(field+".due_on", "installments must be in date order, one per date: %s is not after %s", on, parts[i-1].DueOn)
		}
		parts = append(parts, Installment{DueOn: on, Amount: amt})
		sum += amt
	}
	return s.changeInvoice(ctx, id, func(inv *Invoice) error {
		switch {
		case inv.State != StateOpen:
			return apperr.New(apperr.Conflict, "invoice %s is %s; only open invoices can be put on a plan", inv.Number, inv.State)
		case inv.Disputed:
			return apperr.New(apperr.Conflict, "invoice %s is disputed; resolve the dispute first", inv.Number)
		case parts[0].DueOn.Before(inv.IssuedOn):
			return apperr.Invalidf("installments[0].due_on", "the first installment (%s) is before the invoice was issued (%s)", parts[0].DueOn, inv.IssuedOn)
		case sum != inv.Balance:
			return apperr.Invalidf("installments", "installments add up to %d; the balance is %d", sum, inv.Balance)
		}
		inv.Plan = &Plan{Installments: parts, Base: inv.Settled(), CreatedAt: s.now().UTC()}
		// The ladder starts again from the first installment's date.
		inv.DunningStep, inv.DunningOffset, inv.DunningFor = -1, 0, civil.Date{}
		inv.NextActionOn = civil.Today(s.now(), earliestZone)
		return nil
	})
}
