package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/testenv"
)

// TestBooksCallsPerOperation pins how many DynamoDB round trips each
// change to the books makes, counted by the SDK middleware, so a change
// that adds a read or splits a transaction shows up here. Counts, not time.
func TestBooksCallsPerOperation(t *testing.T) {
	t.Parallel()
	st, meter := testenv.NewMeteredStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	bill, err := billing.NewService(st, billing.Firm{Timezone: "UTC", DefaultCurrency: "EUR", DefaultTermsDays: 30}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	c, err := bill.CreateCustomer(ctx, billing.CustomerCreate{Name: "Calls", Email: "ap@calls.example", ExternalID: "cus_calls"})
	if err != nil {
		t.Fatal(err)
	}
	amount := func(n int64) *int64 { return &n }
	var inv, inv2 *billing.Invoice
	var pay *billing.Payment
	got := map[string]string{}
	measure := func(name string, op func() error) {
		meter.Reset()
		if err := op(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got[name] = fmt.Sprint(meter.Snapshot().Calls)
	}
	measure("create an invoice with a number", func() (err error) {
		inv, err = bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: "C-1", Total: amount(10000), IssuedOn: "2026-10-01", DueOn: "2026-10-31"})
		return err
	})
	measure("record a payment, oldest due first", func() (err error) {
		pay, err = bill.RecordPayment(ctx, billing.PaymentInput{CustomerID: c.ID, Amount: amount(12000)})
		return err
	})
	measure("create an invoice that credit on account pays", func() (err error) {
		inv2, err = bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: "C-2", Total: amount(1500)})
		return err
	})
	measure("refund part of a payment", func() error {
		_, err := bill.Reverse(ctx, pay.ID, billing.ReversalInput{Amount: amount(1000)})
		return err
	})
	measure("a credit note", func() error {
		_, err := bill.CreateCreditNote(ctx, billing.CreditNoteInput{InvoiceID: inv2.ID, Amount: amount(100), Reason: "calls"})
		return err
	})
	measure("a provider payment matched by invoice", func() error {
		_, err := bill.ApplyProviderEvent(ctx, &billing.ProviderEvent{Provider: "generic", EventID: "e1", PaymentRef: "p1",
			Success: &billing.ProviderSuccess{Amount: 100, Currency: "EUR", ReceivedOn: civil.Of(now), Match: billing.Match{InvoiceID: inv.ID}}})
		return err
	})
	measure("the same event again", func() error {
		_, err := bill.ApplyProviderEvent(ctx, &billing.ProviderEvent{Provider: "generic", EventID: "e1", PaymentRef: "p1"})
		return err
	})
	want := map[string]string{
		// customer, account (no credit), one transaction
		"create an invoice with a number": "map[GetItem:2 TransactWriteItems:1]",
		// customer, its open invoices, one transaction
		"record a payment, oldest due first": "map[GetItem:1 Query:1 TransactWriteItems:1]",
		// customer, account, account again and the payment holding the credit, one transaction
		"create an invoice that credit on account pays": "map[GetItem:4 TransactWriteItems:1]",
		// the payment, the invoice it reopens (500 comes off the credit,
		// 500 off C-2, the newest allocation), one transaction
		"refund part of a payment": "map[GetItem:2 TransactWriteItems:1]",
		// the invoice, one transaction
		"a credit note": "map[GetItem:1 TransactWriteItems:1]",
		// event id, provider id, the invoice, its customer, one transaction
		"a provider payment matched by invoice": "map[GetItem:4 TransactWriteItems:1]",
		// the event id is known: one read, nothing written
		"the same event again": "map[GetItem:1]",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %s, want %s", name, got[name], w)
		}
	}
}
