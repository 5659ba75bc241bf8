package billing

import (
	"context"
	"slices"
	"time"

	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

// CaseFile is what a firm hands a lawyer or a collection agency with a
// customer's debt: the statement of account, every open invoice with its
// dunning history, fees and the principal interest ran on, the promises
// made and broken, and the contact log.
type CaseFile struct {
	Customer    *Customer
	Statement   *Statement // from the oldest open invoice's issue to today
	Invoices    []CaseInvoice
	Promises    []*Promise
	Contacts    []Contact // newest first, at most caseContacts
	GeneratedAt time.Time
}

// CaseInvoice is an open invoice in a case file.
type CaseInvoice struct {
	Invoice *Invoice
	Emails  []CaseEmail
	// Principal is what was owed for goods and services from the due
	// date on, day by day as it changed: what statutory interest runs on.
	Principal []dunning.Segment
}

// CaseEmail is one dunning email that spoke for an invoice.
type CaseEmail struct {
	Day       civil.Date
	Kind      string // customer or internal
	Tone      string
	Step      string
	Status    string // sent, failed, in_doubt...
	Subject   string
	MessageID string
}

const caseContacts = 100

// CustomerCaseFile assembles a customer's case file. Its reads follow the
// customer's own records. Errors: NotFound.
func (s *Service) CustomerCaseFile(ctx context.Context, id string) (*CaseFile, error) {
	c, err := s.GetCustomer(ctx, id)
	if err != nil {
		return nil, err
	}
	cf := &CaseFile{Customer: c, GeneratedAt: s.now().UTC()}
	today := civil.Today(s.now(), Location(s.CustomerZone(c)))
	from := today
	err = s.store.ListInvoices(ctx, InvoiceRange{CustomerID: c.ID, State: StateOpen, PageSize: 1000}, func(inv *Invoice, _ string) bool {
		principal := inv.PrincipalHistory()
		if len(principal) == 0 { // nothing paid or credited: what it was due for, from its due date
			principal = []dunning.Segment{{From: inv.DueOn, Balance: inv.Balance - inv.FeesOutstanding()}}
		}
		cf.Invoices = append(cf.Invoices, CaseInvoice{Invoice: inv, Principal: principal})
		if inv.IssuedOn.Before(from) {
			from = inv.IssuedOn
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if cf.Statement, err = s.CustomerStatement(ctx, c.ID, from, today, ""); err != nil {
		return nil, err
	}
	sends, err := s.store.SendsSince(ctx, c.ID, from)
	if err != nil {
		return nil, err
	}
	for i := range cf.Invoices {
		ci := &cf.Invoices[i]
		for _, snd := range sends {
			for _, st := range snd.Steps {
				if st.InvoiceID == ci.Invoice.ID {
					ci.Emails = append(ci.Emails, CaseEmail{Day: snd.Day, Kind: string(snd.Kind), Tone: string(snd.Tone), Step: st.StepName,
						Status: string(snd.Status), Subject: snd.Subject, MessageID: snd.MessageID})
				}
			}
		}
	}
	slices.SortFunc(cf.Invoices, func(a, b CaseInvoice) int { return a.Invoice.DueOn.Compare(b.Invoice.DueOn) })
	if cf.Promises, err = s.store.ListPromises(ctx, c.ID); err != nil {
		return nil, err
	}
	if cf.Contacts, err = s.store.ListContacts(ctx, c.ID, caseContacts); err != nil {
		return nil, err
	}
	return cf, nil
}
