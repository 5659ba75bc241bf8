package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/imports"
	"dunlin/shared/testenv"
)

// BenchmarkImport imports a file of 500 customers (the most one request
// takes) and then 500 invoices for them, and imports each file a second
// time, with shared/dbmeter on the client. It reports DynamoDB calls and
// capacity units per row, and the time of a whole file as a ratio to one
// CreateCustomer through the same service in the same run: what decides
// whether a request fits in API Gateway's 30 seconds.
//
//	go run ./cmd/dunlin with-servers -- go test ./bench -run '^$' -bench Import -benchtime 1x
func BenchmarkImport(b *testing.B) {
	const rows = imports.MaxRows
	st, meter := testenv.NewMeteredStore(b)
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		b.Fatal(err)
	}
	im := &imports.Importer{Billing: bill}
	ctx := context.Background()
	var customers, invoices strings.Builder
	customers.WriteString("external_id,name,email,credit_limit,payment_terms_days\n")
	invoices.WriteString("external_id,customer_external_id,total,issued_on,due_on,description\n")
	for i := range rows {
		fmt.Fprintf(&customers, "C-%d,Customer %d,ap%d@example.com,5000.00,30\n", i, i, i)
		fmt.Fprintf(&invoices, "I-%d,C-%d,1250.00,2026-11-01,2026-12-01,Services\n", i, i)
	}
	start := time.Now()
	one := 50
	for i := range one {
		if _, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Single", Email: fmt.Sprintf("single%d@example.com", i)}); err != nil {
			b.Fatal(err)
		}
	}
	single := time.Since(start) / time.Duration(one)

	b.ResetTimer()
	for range b.N {
		for _, f := range []struct {
			name string
			kind imports.Kind
			file string
		}{
			{"customers", imports.Customers, customers.String()},
			{"invoices", imports.Invoices, invoices.String()},
			{"customers-again", imports.Customers, customers.String()},
			{"invoices-again", imports.Invoices, invoices.String()},
		} {
			meter.Reset()
			start := time.Now()
			rep, err := im.Import(ctx, f.kind, []byte(f.file), imports.Options{})
			took := time.Since(start)
			if err != nil || rep.Failed != 0 {
				b.Fatalf("%s: %v failed=%d", f.name, err, rep.Failed)
			}
			c := meter.Snapshot()
			b.ReportMetric(float64(c.Total())/rows, f.name+"-calls/row")
			b.ReportMetric(c.ReadUnits/rows, f.name+"-RCU/row")
			b.ReportMetric(c.WriteUnits/rows, f.name+"-WCU/row")
			b.ReportMetric(float64(took)/float64(single), f.name+"-file/one-create")
		}
	}
}
