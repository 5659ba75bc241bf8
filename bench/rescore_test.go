package bench

import (
	"context"
	"testing"

	"dunlin/shared/billing"
)

// TestRescoringReadsOnlyTheCustomersMarkedOrDue: the rescoring pass costs
// one Query when nothing changed, however many customers there are, and a
// fixed number of calls per customer a change marked. Counts, not time.
func TestRescoringReadsOnlyTheCustomersMarkedOrDue(t *testing.T) {
	t.Parallel()
	s := seed(t, 200, 5) // 5 customers with an invoice due, 20-odd with paid ones: all marked by their writes
	ctx := context.Background()
	if n, err := s.bill.RescoreDue(ctx, sweepAt); err != nil || n < 25 {
		t.Fatalf("first pass: %d rescored, %v", n, err)
	}
	s.meter.Reset()
	if n, err := s.bill.RescoreDue(ctx, sweepAt); err != nil || n != 0 {
		t.Fatalf("second pass: %d rescored, %v", n, err)
	}
	if c := s.meter.Snapshot(); c.Total() != 1 || c.Calls["Query"] != 1 {
		t.Errorf("a pass with nothing to do made %v, want one Query", c.Calls)
	}
	// A payment marks its customer, in its own transaction.
	total := int64(10000)
	for _, c := range s.due[:2] {
		if _, err := s.bill.RecordPayment(ctx, billingPayment(c.ID, total)); err != nil {
			t.Fatal(err)
		}
	}
	s.meter.Reset()
	if n, err := s.bill.RescoreDue(ctx, sweepAt); err != nil || n != 2 {
		t.Fatalf("after two payments: %d rescored, %v", n, err)
	}
	// The queue Query, then per customer: the customer, its stored score,
	// its paid invoices of the last year, its open invoices, its promises
	// (three Queries and two GetItems) and one transaction.
	if c := s.meter.Snapshot(); c.Total() != 1+2*6 {
		t.Errorf("rescoring two customers made %d calls: %v", c.Total(), c.Calls)
	}
}

func billingPayment(customerID string, amount int64) billing.PaymentInput {
	return billing.PaymentInput{CustomerID: customerID, Amount: &amount}
}
