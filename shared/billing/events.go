package billing

import (
	"time"

	"dunlin/shared/civil"
	"dunlin/shared/outbound"
)

// The data of outbound events (package outbound): the facts a receiver
// needs to act without calling back, as they stood when the change
// committed. Amounts are minor units with their currency; dates are civil
// dates (YYYY-MM-DD); ids are Dunlin's, with the firm's external ids
// beside them where the record has one.

// InvoiceFacts describes an invoice in an event.
type InvoiceFacts struct {
	ID         string `json:"id"`
	Number     string `json:"number"`
	ExternalID string `json:"external_id,omitempty"`
	CustomerID string `json:"customer_id"`
	Currency   string `json:"currency"`
	Total      int64  `json:"total"`
	Balance    int64  `json:"balance"`
	IssuedOn   string `json:"issued_on"`
	DueOn      string `json:"due_on"` // the installment's due date on a plan
}

// FactsOf returns an invoice's facts.
func FactsOf(inv *Invoice) InvoiceFacts {
	return InvoiceFacts{ID: inv.ID, Number: inv.Number, ExternalID: inv.ExternalID, CustomerID: inv.CustomerID, Currency: inv.Currency,
		Total: inv.Total, Balance: inv.Balance, IssuedOn: inv.IssuedOn.String(), DueOn: inv.DunningDueOn().String()}
}

// InvoiceOverdueData is the data of invoice.overdue.
type InvoiceOverdueData struct {
	Invoice     InvoiceFacts `json:"invoice"`
	DaysOverdue int          `json:"days_overdue"`
}

// InvoiceOverdueEvent is raised once per invoice and due date, when the
// sweep first takes an overdue step on it.
func InvoiceOverdueEvent(inv *Invoice, today civil.Date, at time.Time) *outbound.Event {
	return outbound.NewEvent(outbound.InvoiceOverdue, at, InvoiceOverdueData{Invoice: FactsOf(inv), DaysOverdue: today.DaysSince(inv.DunningDueOn())})
}

// PaymentAppliedData is the data of payment.applied.
type PaymentAppliedData struct {
	Payment struct {
		ID         string `json:"id"`
		ExternalID string `json:"external_id,omitempty"`
		CustomerID string `json:"customer_id"`
		Amount     int64  `json:"amount"`
		Currency   string `json:"currency"`
		ReceivedOn string `json:"received_on"`
		Method     string `json:"method,omitempty"`
		Reference  string `json:"reference,omitempty"`
		Unapplied  int64  `json:"unapplied"`
	} `json:"payment"`
	// Applied is this change's money, invoice by invoice.
	Applied []AppliedFacts `json:"applied"`
}

// AppliedFacts is money put on one invoice.
type AppliedFacts struct {
	InvoiceID         string `json:"invoice_id"`
	InvoiceNumber     string `json:"invoice_number"`
	InvoiceExternalID string `json:"invoice_external_id,omitempty"`
	Amount            int64  `json:"amount"`
	Discount          int64  `json:"discount,omitempty"` // early-payment discount taken
	BalanceAfter      int64  `json:"balance_after"`
	Paid              bool   `json:"paid"` // the invoice is settled
}

// paymentAppliedEvent is raised when a payment's money is put on invoices
// (recorded, allocated, matched from a provider, or credit on account used
// up); nil when the applies hold no payment money (credit notes only).
func paymentAppliedEvent(p *Payment, applies []Apply, at time.Time) *outbound.Event {
	var d PaymentAppliedData
	for _, a := range applies {
		if a.Credited {
			continue
		}
		after := a.Invoice.Balance - a.Amount - a.Discount
		d.Applied = append(d.Applied, AppliedFacts{InvoiceID: a.Invoice.ID, InvoiceNumber: a.Invoice.Number, InvoiceExternalID: a.Invoice.ExternalID,
			Amount: a.Amount, Discount: a.Discount, BalanceAfter: after, Paid: after == 0})
	}
	if len(d.Applied) == 0 {
		return nil
	}
	d.Payment.ID, d.Payment.ExternalID, d.Payment.CustomerID = p.ID, p.ExternalID, p.CustomerID
	d.Payment.Amount, d.Payment.Currency, d.Payment.ReceivedOn = p.Amount, p.Currency, p.ReceivedOn.String()
	d.Payment.Method, d.Payment.Reference, d.Payment.Unapplied = p.Method, p.Reference, p.Unapplied
	return outbound.NewEvent(outbound.PaymentApplied, at, d)
}

// raisePaymentApplied adds payment.applied to a posting that puts the
// payment's money on invoices. Call it once the payment holds its new
// unapplied rest.
func (pt *Posting) raisePaymentApplied(p *Payment, applies []Apply, at time.Time) {
	if ev := paymentAppliedEvent(p, applies, at); ev != nil {
		pt.Events = append(pt.Events, ev)
	}
}

// PromiseBrokenData is the data of promise.broken.
type PromiseBrokenData struct {
	Promise struct {
		ID         string   `json:"id"`
		CustomerID string   `json:"customer_id"`
		Amount     int64    `json:"amount"`
		Currency   string   `json:"currency"`
		MadeOn     string   `json:"made_on"`
		PromisedOn string   `json:"promised_on"`
		GraceDays  int      `json:"grace_days"`
		InvoiceIDs []string `json:"invoice_ids"`
	} `json:"promise"`
	Received int64 `json:"received"` // what the customer paid towards it, in its currency
}

func promiseBrokenEvent(p *Promise, received int64, at time.Time) *outbound.Event {
	var d PromiseBrokenData
	d.Promise.ID, d.Promise.CustomerID, d.Promise.Amount, d.Promise.Currency = p.ID, p.CustomerID, p.Amount, p.Currency
	d.Promise.MadeOn, d.Promise.PromisedOn, d.Promise.GraceDays = p.MadeOn.String(), p.PromisedOn.String(), p.GraceDays
	d.Promise.InvoiceIDs = append([]string{}, p.InvoiceIDs...)
	d.Received = received
	return outbound.NewEvent(outbound.PromiseBroken, at, d)
}

// GradeChangedData is the data of customer.grade_changed.
type GradeChangedData struct {
	Customer struct {
		ID         string `json:"id"`
		ExternalID string `json:"external_id,omitempty"`
		Name       string `json:"name"`
	} `json:"customer"`
	PreviousGrade string `json:"previous_grade"`
	Grade         string `json:"grade"`
	PreviousScore int    `json:"previous_score"`
	Score         int    `json:"score"`
	AsOf          string `json:"as_of"`
}

func gradeChangedEvent(c *Customer, before, after Score, asOf civil.Date, at time.Time) *outbound.Event {
	var d GradeChangedData
	d.Customer.ID, d.Customer.ExternalID, d.Customer.Name = c.ID, c.ExternalID, c.Name
	d.PreviousGrade, d.Grade, d.PreviousScore, d.Score, d.AsOf = before.Grade, after.Grade, before.Score, after.Score, asOf.String()
	return outbound.NewEvent(outbound.CustomerGradeChanged, at, d)
}
