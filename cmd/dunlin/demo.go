package main

import (
	"context"
	"fmt"
	"time"

	"dunlin/shared/app"
	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// demoCustomer is a demo customer and the invoices to give it, each due a
// number of days from today (negative: already overdue).
type demoCustomer struct {
	in       billing.CustomerCreate
	invoices []struct {
		dueInDays int
		total     int64
	}
}

func dueIn(pairs ...int64) (out []struct {
	dueInDays int
	total     int64
}) {
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, struct {
			dueInDays int
			total     int64
		}{int(pairs[i]), pairs[i+1]})
	}
	return out
}

// One customer per stage of the standard ladder, in both languages and
// several zones, so the first sweep sends one email of every kind: a
// friendly note, a reminder, a firm letter, a final notice and an internal
// escalation.
var demoCustomers = []demoCustomer{
	{billing.CustomerCreate{ExternalID: "DEMO-ACME", Name: "Acme Tools GmbH", Email: "ap@acme-tools.example", Language: "en", Timezone: "Europe/Berlin", Currency: "EUR"}, dueIn(3, 120000, 20, 45050)},
	{billing.CustomerCreate{ExternalID: "DEMO-HUAXIN", Name: "华信贸易有限公司", Email: "finance@huaxin.example", Language: "zh-CN", Timezone: "Asia/Shanghai", Currency: "CNY"}, dueIn(-1, 880000)},
	{billing.CustomerCreate{ExternalID: "DEMO-BLUEBIRD", Name: "Bluebird Cafe LLC", Email: "owner@bluebird.example", Language: "en", Timezone: "America/New_York", Currency: "USD"}, dueIn(-7, 99900)},
	{billing.CustomerCreate{ExternalID: "DEMO-MINGDA", Name: "明达机械制造有限公司", Email: "ap@mingda.example", Language: "zh-CN", Timezone: "Asia/Shanghai", Currency: "CNY"}, dueIn(-14, 2350000)},
	{billing.CustomerCreate{ExternalID: "DEMO-NORTHWIND", Name: "Northwind Traders Ltd", Email: "accounts@northwind.example", Language: "en", Timezone: "Europe/London", Currency: "GBP"}, dueIn(-30, 310000)},
}

// loadDemo creates the demo data once; on later runs it finds the
// customers by external id and adds nothing. It returns the number of
// demo invoices present.
func loadDemo(ctx context.Context, a *app.App) (int, error) {
	n := 0
	for i, dc := range demoCustomers {
		c, err := a.Billing.CreateCustomer(ctx, dc.in)
		if apperr.Is(err, apperr.Conflict) {
			n += len(dc.invoices)
			continue // loaded by an earlier run
		}
		if err != nil {
			return n, err
		}
		today := civil.Today(time.Now(), billing.Location(a.Billing.CustomerZone(c)))
		for j, inv := range dc.invoices {
			total := inv.total
			due := today.AddDays(inv.dueInDays)
			_, err := a.Billing.CreateInvoice(ctx, billing.InvoiceCreate{
				CustomerID: c.ID,
				Number:     fmt.Sprintf("DEMO-%d%02d", i+1, j+1),
				Total:      &total,
				IssuedOn:   due.AddDays(-30).String(),
				DueOn:      due.String(),
				PaymentURL: "https://pay.example.com/demo/" + c.ID,
			})
			if err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
