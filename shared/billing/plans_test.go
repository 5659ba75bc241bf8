package billing

import (
	"testing"

	"dunlin/shared/civil"
)

// Installments fill in date order; what dunning asks for is every
// installment already dated, or the next one before any is.
func TestInstallmentsFillInOrder(t *testing.T) {
	d := civil.MustParse
	inv := &Invoice{Total: 130000, Balance: 100000, Paid: 30000, Plan: &Plan{Base: 30000, Installments: []Installment{
		{DueOn: d("2027-01-01"), Amount: 40000}, {DueOn: d("2027-02-01"), Amount: 40000}, {DueOn: d("2027-03-01"), Amount: 20000}}}}
	for _, tc := range []struct {
		paid  int64 // since the plan
		day   string
		due   int64
		label string
		on    string
	}{
		{0, "2026-12-20", 40000, "1/3", "2027-01-01"},       // nothing dated yet: the first
		{0, "2027-02-15", 80000, "1-2/3", "2027-01-01"},     // two dated, none paid: both
		{25000, "2027-02-15", 55000, "1-2/3", "2027-01-01"}, // part of the first
		{40000, "2027-02-15", 40000, "2/3", "2027-02-01"},   // the first paid off
		{90000, "2027-02-15", 10000, "3/3", "2027-03-01"},   // into the last, before its date
		{100000, "2027-04-01", 0, "", "2027-03-01"},         // all paid
	} {
		cp := *inv
		cp.Paid += tc.paid
		cp.Balance -= tc.paid
		day := d(tc.day)
		if got := cp.AmountDue(day); got != tc.due {
			t.Errorf("paid %d, on %s: amount due %d, want %d", tc.paid, tc.day, got, tc.due)
		}
		if got := cp.InstallmentLabel(day); got != tc.label {
			t.Errorf("paid %d, on %s: label %q, want %q", tc.paid, tc.day, got, tc.label)
		}
		if got := cp.DunningDueOn().String(); got != tc.on {
			t.Errorf("paid %d: dunning counts from %s, want %s", tc.paid, got, tc.on)
		}
	}
	if !inv.InstallmentChangedBy(40000) || inv.InstallmentChangedBy(39999) || (&Invoice{Balance: 5}).InstallmentChangedBy(5) {
		t.Error("InstallmentChangedBy: only paying off the current installment changes it")
	}
}
