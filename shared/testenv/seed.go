package testenv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"dunlin/shared/billing"
)

// SeedDue creates n customers in UTC, customer i at address email(i), each
// with one invoice issued a month before now that fell due the day before:
// a reminder is due for every one. Sixteen are created at a time.
func SeedDue(tb testing.TB, bill *billing.Service, n int, email func(i int) string, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	due, issued := now.AddDate(0, 0, -1).Format(time.DateOnly), now.AddDate(0, 0, -31).Format(time.DateOnly)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				c, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: fmt.Sprintf("Customer %05d", i), Email: email(i), Timezone: "UTC"})
				if err != nil {
					errs <- err
					return
				}
				total := int64(10000 + i)
				if _, err := bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Total: &total, IssuedOn: issued, DueOn: due}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("seed due customers: %v", err)
	}
}
