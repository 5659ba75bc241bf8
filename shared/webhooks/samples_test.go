package webhooks

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stripe/stripe-go/v85"

	"dunlin/shared/billing"
)

// The sample events in events/ are what the README tells developers to
// replay; each must read as the payment fact it claims to be.
func TestSampleEventsReadAsTheirPaymentFacts(t *testing.T) {
	for file, want := range map[string]string{
		"stripe-payment-intent-succeeded.json":     "pi_3SampleA [ch_3SampleA] succeeded 30000 EUR on 2025-11-24 match {InvoiceID:inv_01KAX3Y0Z7K4B8W2N5Q9R6T1VM InvoiceExternalID: InvoiceNumber: CustomerID: CustomerExternalID:cus_SampleStripe}",
		"stripe-invoice-paid.json":                 "pi_3SampleB [in_1SampleB] succeeded 20000 EUR on 2025-11-24 match {InvoiceID: InvoiceExternalID:in_1SampleB InvoiceNumber: CustomerID: CustomerExternalID:cus_SampleStripe}",
		"stripe-invoice-payment-paid.json":         "pi_3SampleB [in_1SampleB] succeeded 20000 EUR on 2025-11-24 match {InvoiceID: InvoiceExternalID:in_1SampleB InvoiceNumber: CustomerID: CustomerExternalID:}",
		"stripe-invoice-paid-no-payments.json":     "in_1SampleC succeeded 20000 EUR on 2025-11-24 match {InvoiceID:inv_01KAX3Y0Z7K4B8W2N5Q9R6T1VN InvoiceExternalID:in_1SampleC InvoiceNumber: CustomerID: CustomerExternalID:cus_SampleStripe}",
		"stripe-invoice-paid-2024-06-20.json":      "pi_3SampleD [in_1SampleD ch_3SampleD] succeeded 20000 EUR on 2025-11-24 match {InvoiceID: InvoiceExternalID:in_1SampleD InvoiceNumber: CustomerID: CustomerExternalID:cus_SampleStripe}",
		"stripe-payment-intent-succeeded-isk.json": "pi_3SampleE [ch_3SampleE] succeeded 10000 ISK on 2025-11-24 match {InvoiceID: InvoiceExternalID: InvoiceNumber: CustomerID: CustomerExternalID:cus_SampleStripeIS}",
		"stripe-charge-refunded.json":              "pi_3SampleA refunded 5000",
		"stripe-charge-dispute-created.json":       "pi_3SampleB dispute du_1SampleB open 20000",
		"stripe-charge-dispute-closed.json":        "pi_3SampleB dispute du_1SampleB lost 20000",
		"generic-payment-succeeded.json":           "bank-txn-778812 succeeded 125000 EUR on 2026-11-20 match {InvoiceID: InvoiceExternalID: InvoiceNumber:INV-000123 CustomerID: CustomerExternalID:ACME-001}",
		"generic-payment-refunded.json":            "bank-txn-778812 refunded 25000",
	} {
		t.Run(file, func(t *testing.T) {
			body, err := os.ReadFile("../../events/" + file)
			if err != nil {
				t.Fatal(err)
			}
			var ev stripe.Event
			if err := json.Unmarshal(body, &ev); err != nil {
				t.Fatal(err)
			}
			var got string
			if ev.Object == "event" {
				pe, ok, err := fromStripe(ev)
				if err != nil || !ok {
					t.Fatalf("fromStripe: %v %v", ok, err)
				}
				got = describe(pe)
			} else {
				pe, ok, err := fromGeneric(body)
				if err != nil || !ok {
					t.Fatalf("fromGeneric: %v %v", ok, err)
				}
				got = describe(pe)
			}
			if got != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
		})
	}
}

func describe(pe *billing.ProviderEvent) string {
	switch {
	case pe.Success != nil:
		v := pe.Success
		ref := pe.PaymentRef
		if len(pe.AltRefs) > 0 {
			ref += fmt.Sprint(" ", pe.AltRefs)
		}
		return fmt.Sprintf("%s succeeded %d %s on %s match %+v", ref, v.Amount, v.Currency, v.ReceivedOn, v.Match)
	case pe.Refunded > 0:
		return fmt.Sprintf("%s refunded %d", pe.PaymentRef, pe.Refunded)
	case pe.Dispute != nil:
		return fmt.Sprintf("%s dispute %s %s %d", pe.PaymentRef, pe.Dispute.ID, pe.Dispute.Status, pe.Dispute.Amount)
	}
	return pe.PaymentRef + " says nothing"
}
