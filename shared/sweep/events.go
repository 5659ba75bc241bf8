package sweep

import (
	"time"

	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
	"dunlin/shared/outbound"
)

// EmailSentData is the data of dunning.email_sent: a dunning email that
// went to a customer, and the invoices it was about.
type EmailSentData struct {
	Customer struct {
		ID         string `json:"id"`
		ExternalID string `json:"external_id,omitempty"`
		Name       string `json:"name"`
	} `json:"customer"`
	Email struct {
		MessageID string    `json:"message_id"`
		Day       string    `json:"day"` // the customer's local date
		SentAt    time.Time `json:"sent_at"`
		Tone      string    `json:"tone"`
		Subject   string    `json:"subject"`
		To        []string  `json:"to"`
		Language  string    `json:"language,omitempty"`
	} `json:"email"`
	Invoices []EmailedInvoice `json:"invoices"`
}

// EmailedInvoice is one invoice in the email, at the step it was chased for.
type EmailedInvoice struct {
	billing.InvoiceFacts
	Step string `json:"step"`
}

// emailSentEvent describes a sent customer email; live are the invoices
// as the email showed them (fees included).
func emailSentEvent(c *billing.Customer, snd *dunning.Send, live []due, pol *dunning.Policy, at time.Time) *outbound.Event {
	var d EmailSentData
	d.Customer.ID, d.Customer.ExternalID, d.Customer.Name = c.ID, c.ExternalID, c.Name
	d.Email.MessageID, d.Email.Day, d.Email.SentAt, d.Email.Tone = snd.MessageID, snd.Day.String(), at.UTC(), string(snd.Tone)
	d.Email.Subject, d.Email.To, d.Email.Language = snd.Subject, append([]string{}, snd.To...), snd.Language
	for _, w := range live {
		d.Invoices = append(d.Invoices, EmailedInvoice{InvoiceFacts: billing.FactsOf(w.inv), Step: pol.Steps[w.step].Name})
	}
	return outbound.NewEvent(outbound.DunningEmailSent, at, d)
}

// newlyOverdue reports whether taking step on inv is the first overdue
// step for its current due date: the moment invoice.overdue is raised.
// The invoice written with the step remembers it (DunningOffset > 0 for
// DunningFor), in the same transaction, so the event is raised once per
// invoice and due date however many runs see it.
func newlyOverdue(inv *billing.Invoice, step int, pol *dunning.Policy) bool {
	if pol.Steps[step].OffsetDays <= 0 {
		return false
	}
	return inv.DunningOffset <= 0 || inv.DunningFor != inv.DunningDueOn()
}

// overdueEvents are invoice.overdue for the advanced invoices that are
// newly overdue.
func overdueEvents(advanced []*billing.Invoice, newly map[string]bool, today civil.Date, at time.Time) []*outbound.Event {
	var out []*outbound.Event
	for _, inv := range advanced {
		if newly[inv.ID] {
			out = append(out, billing.InvoiceOverdueEvent(inv, today, at))
		}
	}
	return out
}
