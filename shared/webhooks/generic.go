package webhooks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// GenericSignatureHeader carries the generic webhook's signature. Its
// scheme is Stripe's, so any Stripe signing library can produce it:
//
//	Dunlin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">
//
// More than one v1= may be given (one per secret, during a rotation).
const GenericSignatureHeader = "Dunlin-Signature"

// GenericEvent is the body of POST /v1/webhooks/generic: one event about
// one payment, from a provider or bank feed without its own adapter.
type GenericEvent struct {
	ID      string         `json:"id"`   // unique per event: a redelivery repeats it
	Type    string         `json:"type"` // payment.succeeded or payment.refunded
	Payment GenericPayment `json:"payment"`
}

// GenericPayment describes the payment an event is about.
type GenericPayment struct {
	ID string `json:"id"` // the sender's payment id: every event about it repeats it
	// Amount (and Refunded) are in the currency's minor unit as ISO 4217
	// and CLDR count it, the unit Dunlin keeps everywhere: cents for EUR,
	// whole yen for JPY, whole krónur for ISK, fils (thousandths) for KWD.
	// A provider that counts otherwise (Stripe writes ISK in hundredths)
	// converts before it sends.
	Amount     int64  `json:"amount"`
	Currency   string `json:"currency"`
	ReceivedOn string `json:"received_on"`
	Method     string `json:"method"`
	Reference  string `json:"reference"` // matched against invoice numbers when nothing else names one
	// Refunded is the total refunded so far (payment.refunded).
	Refunded int64 `json:"refunded"`
	// Who paid, strongest first; all optional.
	InvoiceID          string `json:"invoice_id"`
	InvoiceExternalID  string `json:"invoice_external_id"`
	InvoiceNumber      string `json:"invoice_number"`
	CustomerID         string `json:"customer_id"`
	CustomerExternalID string `json:"customer_external_id"`
}

// Generic event types.
const (
	GenericSucceeded = "payment.succeeded"
	GenericRefunded  = "payment.refunded"
)

// verifyGeneric checks the Dunlin-Signature header against each secret,
// with the same scheme and tolerance as Stripe's.
func verifyGeneric(body []byte, header string, secrets []string) error {
	if header == "" {
		return fmt.Errorf("%w: no %s header", errSignature, GenericSignatureHeader)
	}
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no webhook secret is configured", errSignature)
	}
	if err := notFromTheFuture(header, time.Now()); err != nil {
		return err
	}
	var last error
	for _, secret := range secrets {
		if last = webhook.ValidatePayloadWithTolerance(body, header, secret, Tolerance); last == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: %v", errSignature, last)
}

// fromGeneric parses and checks a verified generic event; known is false
// for a type Dunlin does not act on (acknowledged, like Stripe's).
// Errors: BadRequest or Invalid naming the field.
func fromGeneric(body []byte) (pe *billing.ProviderEvent, known bool, err error) {
	var ev GenericEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return nil, false, apperr.Field(apperr.BadRequest, "body", "invalid JSON: %v", err)
	}
	p := ev.Payment
	if ev.Type != GenericSucceeded && ev.Type != GenericRefunded {
		return nil, false, nil
	}
	switch {
	case strings.TrimSpace(ev.ID) == "":
		return nil, false, apperr.Invalidf("id", "id is required: a unique id per event")
	case strings.TrimSpace(p.ID) == "":
		return nil, false, apperr.Invalidf("payment.id", "payment.id is required: your id of the payment")
	case len(ev.ID) > 200 || len(p.ID) > 200:
		return nil, false, apperr.Invalidf("id", "ids are at most 200 characters")
	}
	pe = &billing.ProviderEvent{Provider: "generic", EventID: ev.ID, Type: ev.Type, PaymentRef: p.ID}
	switch ev.Type {
	case GenericSucceeded:
		if p.Amount <= 0 {
			return nil, false, apperr.Invalidf("payment.amount", "payment.amount must be a positive number of minor units")
		}
		if p.Currency == "" {
			return nil, false, apperr.Invalidf("payment.currency", "payment.currency is required")
		}
		day, err := civil.Parse(p.ReceivedOn)
		switch {
		case err != nil:
			return nil, false, apperr.Invalidf("payment.received_on", "payment.received_on must be a date, YYYY-MM-DD")
		case day.Year < 1900 || day.Year > 2999: // "in the future" is the books' check, on their clock
			return nil, false, apperr.Invalidf("payment.received_on", "payment.received_on %s is outside the years 1900-2999", day)
		}
		method := p.Method
		if method == "" {
			method = "bank_transfer"
		}
		number := p.InvoiceNumber
		if number == "" && p.InvoiceID == "" && p.InvoiceExternalID == "" {
			number = strings.TrimSpace(p.Reference) // bank transfers quote the invoice number
		}
		pe.Success = &billing.ProviderSuccess{
			Amount: p.Amount, Currency: strings.ToUpper(p.Currency), ReceivedOn: day, Method: method, Reference: p.Reference,
			Match: billing.Match{InvoiceID: p.InvoiceID, InvoiceExternalID: p.InvoiceExternalID, InvoiceNumber: number,
				CustomerID: p.CustomerID, CustomerExternalID: p.CustomerExternalID},
		}
	case GenericRefunded:
		if p.Refunded <= 0 {
			return nil, false, apperr.Invalidf("payment.refunded", "payment.refunded must be the positive total refunded so far")
		}
		pe.Refunded = p.Refunded
	}
	return pe, true, nil
}
