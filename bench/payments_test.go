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
		n := meter.Snapshot()
		got[name] = fmt.Sprint(n.Calls)
		t.Logf("%-55s %-50s %5.1f read units %5.1f write units", name, got[name], n.ReadUnits, n.WriteUnits)
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
	// Stripe Invoicing's three events for one payment, in the order that
	// used to book it twice: the PaymentIntent names only the customer, so
	// its money goes oldest-first; invoice.paid names the invoice, so the
	// money moves there; invoice_payment.paid links the two ids.
	var newer *billing.Invoice
	measure("an invoice for the provider payment", func() (err error) {
		newer, err = bill.CreateInvoice(ctx, billing.InvoiceCreate{CustomerID: c.ID, Number: "C-3", Total: amount(12000), IssuedOn: "2026-11-01", DueOn: "2026-12-01"})
		return err
	})
	succeeded := &billing.ProviderSuccess{Amount: 12000, Currency: "EUR", ReceivedOn: civil.Of(now), Reference: "pi_1"}
	measure("a provider payment naming only the customer", func() error {
		ev := *succeeded
		ev.Match = billing.Match{CustomerExternalID: "cus_calls"}
		_, err := bill.ApplyProviderEvent(ctx, &billing.ProviderEvent{Provider: "stripe", EventID: "evt_pi", PaymentRef: "pi_1", Success: &ev})
		return err
	})
	measure("the provider's invoice event moves it to its invoice", func() error {
		ev := *succeeded
		ev.Match = billing.Match{InvoiceID: newer.ID, InvoiceExternalID: "in_1", CustomerExternalID: "cus_calls"}
		_, err := bill.ApplyProviderEvent(ctx, &billing.ProviderEvent{Provider: "stripe", EventID: "evt_in", PaymentRef: "in_1", Success: &ev})
		return err
	})
	measure("the provider's link event makes the two one", func() error {
		ev := *succeeded
		ev.Match = billing.Match{InvoiceExternalID: "in_1"}
		_, err := bill.ApplyProviderEvent(ctx, &billing.ProviderEvent{Provider: "stripe", EventID: "evt_ip", PaymentRef: "pi_1", AltRefs: []string{"in_1"}, Success: &ev})
		return err
	})
	if got, err := bill.GetInvoice(ctx, newer.ID); err != nil || got.Balance != 0 {
		t.Fatalf("C-3 after the provider's events: %+v, %v", got, err)
	}
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
		// customer, account (no credit), one transaction
		"an invoice for the provider payment": "map[GetItem:4 TransactWriteItems:1]",
		// event id, provider id, the customer by its external id, its
		// open invoices, one transaction
		"a provider payment naming only the customer": "map[GetItem:4 Query:1 TransactWriteItems:1]",
		// event id, provider id, the invoice, its customer, one transaction
		"the provider's invoice event moves it to its invoice": "map[GetItem:4 TransactWriteItems:1]",
		// event id, both provider ids, the invoices either payment is on
		// and the one the merged facts name, the customer, one transaction
		// that reopens, re-applies and deletes the twin
		"the provider's link event makes the two one": "map[GetItem:9 TransactWriteItems:1]",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %s, want %s", name, got[name], w)
		}
	}
}
