package billing

import (
	"context"
	"fmt"
	"strings"

	"dunlin/shared/apperr"
	"dunlin/shared/ids"
)

// AlertCustomerDispute is raised when a customer disputes an invoice on
// its statement page.
const AlertCustomerDispute = "customer_dispute"

// maxCustomerNote bounds what a customer can write on its page.
const maxCustomerNote = 1000

// CustomerSaysPaid records, from the customer's statement page, that it
// says it has paid an invoice: a contact-log entry (inbound, channel
// "portal") that counts as the customer responding. Dunning goes on until
// the money is booked. Errors: NotFound, Invalid (invoice_id, note).
func (s *Service) CustomerSaysPaid(ctx context.Context, customerID, invoiceID, note string) error {
	inv, err := s.customersOpenInvoice(ctx, customerID, invoiceID, note)
	if err != nil {
		return err
	}
	return s.portalContact(ctx, customerID, "says invoice "+inv.Number+" is paid", "says paid", note)
}

// CustomerDisputes records, from the customer's statement page, that it
// disputes an invoice: the invoice is disputed (its dunning pauses) and the
// firm gets a customer_dispute alert, in one transaction, so there is never
// a dispute nobody was told of; then the contact log says so. Errors:
// NotFound, Invalid (invoice_id, note), Conflict (already disputed).
func (s *Service) CustomerDisputes(ctx context.Context, customerID, invoiceID, note string) error {
	why := "disputed by the customer on its statement page"
	if n := strings.TrimSpace(note); n != "" {
		why += ": " + n
	}
	inv, err := retryRaces(ctx, func() (*Invoice, error) {
		inv, err := s.customersOpenInvoice(ctx, customerID, invoiceID, note)
		if err != nil {
			return nil, err
		}
		if inv.Disputed { // once is enough: a replayed form neither alerts again nor rewrites the reason
			return nil, apperr.New(apperr.Conflict, "invoice %s is already under dispute", inv.Number)
		}
		now := s.now().UTC()
		inv.Disputed, inv.DisputeReason, inv.UpdatedAt, inv.Version = true, why, now, inv.Version+1
		alert := &Alert{ID: ids.New("alr_", now), CustomerID: customerID, Kind: AlertCustomerDispute, State: AlertOpen, Ref: inv.ID,
			CreatedAt: now, UpdatedAt: now, Message: fmt.Sprintf("invoice %s disputed on the statement page: %s", inv.Number, strings.TrimSpace(note))}
		return inv, s.store.Post(ctx, &Posting{Rewritten: []*Invoice{inv}, Alerts: []*Alert{alert}, CustomerID: customerID, RespondedAt: &now})
	})
	if err != nil {
		return err
	}
	return s.portalContact(ctx, customerID, "disputes invoice "+inv.Number, "disputes", note)
}

func (s *Service) customersOpenInvoice(ctx context.Context, customerID, invoiceID, note string) (*Invoice, error) {
	if err := checkText("note", note, maxCustomerNote, false); err != nil {
		return nil, err
	}
	inv, err := s.store.GetInvoice(ctx, invoiceID)
	if apperr.Is(err, apperr.NotFound) || err == nil && (inv.CustomerID != customerID || inv.State != StateOpen) {
		return nil, apperr.Invalidf("invoice_id", "no open invoice of yours with that id")
	}
	return inv, err
}

// portalContact logs what the customer said on its page, as a response.
func (s *Service) portalContact(ctx context.Context, customerID, summary, outcome, note string) error {
	if n := strings.TrimSpace(note); n != "" {
		summary += ": " + n
	}
	_, err := retryRaces(ctx, func() (struct{}, error) {
		c, err := s.store.GetCustomer(ctx, customerID)
		if err != nil {
			return struct{}{}, err
		}
		now := s.now().UTC()
		cp := *c
		cp.LastResponseAt, cp.UpdatedAt, cp.Version = &now, now, c.Version+1
		return struct{}{}, s.store.AddContact(ctx, c.ID, Contact{At: now, Channel: "portal", Summary: summary, Direction: "inbound", Outcome: outcome}, &cp)
	})
	return err
}

// CustomerPage reads what a customer's statement page shows: the customer
// and its open invoices, oldest due first. Errors: NotFound.
func (s *Service) CustomerPage(ctx context.Context, customerID string) (*Customer, []*Invoice, error) {
	c, err := s.GetCustomer(ctx, customerID)
	if err != nil {
		return nil, nil, err
	}
	var open []*Invoice
	err = s.store.ListInvoices(ctx, InvoiceRange{CustomerID: c.ID, State: StateOpen, PageSize: 100}, func(inv *Invoice, _ string) bool {
		open = append(open, inv)
		return len(open) < 200
	})
	return c, open, err
}
