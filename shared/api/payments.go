package api

import (
	"net/http"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/ids"
)

func (s *Server) recordPayment(r *http.Request, body []byte) (int, any, error) {
	var in billing.PaymentInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	p, err := s.billing.RecordPayment(r.Context(), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toPaymentJSON(p), nil
}

func (s *Server) getPayment(r *http.Request, _ []byte) (int, any, error) {
	p, err := s.billing.GetPayment(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toPaymentJSON(p), nil
}

func (s *Server) listPayments(r *http.Request, _ []byte) (int, any, error) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	q := billing.PaymentRange{CustomerID: r.URL.Query().Get("customer_id"), Cursor: cursor}
	switch r.URL.Query().Get("unmatched") {
	case "", "false":
	case "true":
		q.Unmatched = true
	default:
		return 0, nil, apperr.Field(apperr.BadRequest, "unmatched", "unmatched must be true or false")
	}
	if q.CustomerID != "" && !ids.Valid("cus_", q.CustomerID) {
		return 0, nil, apperr.Field(apperr.BadRequest, "customer_id", "customer_id %q is not a customer id", q.CustomerID)
	}
	if q.CustomerID != "" && q.Unmatched {
		return 0, nil, apperr.Field(apperr.BadRequest, "unmatched", "unmatched payments have no customer; drop customer_id")
	}
	page, err := s.billing.ListPayments(r.Context(), q, limit)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(page.Items, page.NextCursor, toPaymentJSON), nil
}

func (s *Server) allocatePayment(r *http.Request, body []byte) (int, any, error) {
	var in billing.AllocateInput
	if len(body) > 0 { // oldest due first when there is no body
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
	}
	p, err := s.billing.Allocate(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toPaymentJSON(p), nil
}

func (s *Server) reversePayment(r *http.Request, body []byte) (int, any, error) {
	var in billing.ReversalInput
	if len(body) > 0 { // a full refund when there is no body
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
	}
	p, err := s.billing.Reverse(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toPaymentJSON(p), nil
}

func (s *Server) createCreditNote(r *http.Request, body []byte) (int, any, error) {
	var in billing.CreditNoteInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	cn, err := s.billing.CreateCreditNote(r.Context(), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toCreditNoteJSON(cn), nil
}

func (s *Server) getCreditNote(r *http.Request, _ []byte) (int, any, error) {
	cn, err := s.billing.GetCreditNote(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCreditNoteJSON(cn), nil
}

func (s *Server) customerBalance(r *http.Request, _ []byte) (int, any, error) {
	b, err := s.billing.CustomerBalance(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, balanceJSON{CustomerID: b.CustomerID, Exposure: b.Exposure, Overdue: b.Overdue, Credit: b.Credit, OpenInvoices: b.OpenInvoices}, nil
}

type paymentJSON struct {
	ID          string           `json:"id"`
	CustomerID  *string          `json:"customer_id"` // null while unmatched
	ExternalID  *string          `json:"external_id"`
	Provider    *string          `json:"provider"` // null for payments booked through the API
	ProviderRef *string          `json:"provider_ref"`
	Status      string           `json:"status"`
	Amount      int64            `json:"amount"`
	Currency    *string          `json:"currency"`
	ReceivedOn  *string          `json:"received_on"`
	Method      string           `json:"method"`
	Reference   *string          `json:"reference"`
	Allocations []allocationJSON `json:"allocations"`
	Unapplied   int64            `json:"unapplied"`
	Refunded    int64            `json:"refunded"`
	ChargedBack int64            `json:"charged_back"`
	Reversals   []reversalJSON   `json:"reversals"`
	Disputes    []disputeJSON    `json:"disputes"`
	CreatedAt   time.Time        `json:"created_at"`
	UpdatedAt   time.Time        `json:"updated_at"`
	Version     int64            `json:"version"`
}

func (p paymentJSON) location() string { return "/v1/payments/" + p.ID }

type allocationJSON struct {
	InvoiceID string `json:"invoice_id"`
	Amount    int64  `json:"amount"`
	Discount  int64  `json:"discount"`
}

type reversalJSON struct {
	Kind      string    `json:"kind"`
	Amount    int64     `json:"amount"`
	Reason    *string   `json:"reason"`
	Reference *string   `json:"reference"`
	At        time.Time `json:"at"`
}

type disputeJSON struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Amount int64  `json:"amount"`
}

func toPaymentJSON(p *billing.Payment) paymentJSON {
	out := paymentJSON{
		ID: p.ID, CustomerID: nullable(p.CustomerID), ExternalID: nullable(p.ExternalID), Provider: nullable(p.Provider),
		ProviderRef: nullable(p.ProviderRef), Status: string(p.Status()), Amount: p.Amount, Currency: nullable(p.Currency),
		ReceivedOn: nullable(p.ReceivedOn.String()), Method: p.Method, Reference: nullable(p.Reference),
		Allocations: []allocationJSON{}, Unapplied: p.Unapplied, Refunded: p.Refunded, ChargedBack: p.ChargedBack,
		Reversals: []reversalJSON{}, Disputes: []disputeJSON{}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version,
	}
	for _, a := range p.Allocations {
		out.Allocations = append(out.Allocations, allocationJSON(a))
	}
	for _, r := range p.Reversals {
		out.Reversals = append(out.Reversals, reversalJSON{Kind: r.Kind, Amount: r.Amount, Reason: nullable(r.Reason), Reference: nullable(r.Reference), At: r.At})
	}
	for _, d := range p.Disputes {
		out.Disputes = append(out.Disputes, disputeJSON{ID: d.ID, Status: d.Status, Amount: d.Amount})
	}
	return out
}

type creditNoteJSON struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer_id"`
	InvoiceID  string    `json:"invoice_id"`
	Number     *string   `json:"number"`
	Currency   string    `json:"currency"`
	Amount     int64     `json:"amount"`
	Reason     string    `json:"reason"`
	IssuedOn   string    `json:"issued_on"`
	CreatedAt  time.Time `json:"created_at"`
}

func (c creditNoteJSON) location() string { return "/v1/credit-notes/" + c.ID }

func toCreditNoteJSON(cn *billing.CreditNote) creditNoteJSON {
	return creditNoteJSON{ID: cn.ID, CustomerID: cn.CustomerID, InvoiceID: cn.InvoiceID, Number: nullable(cn.Number),
		Currency: cn.Currency, Amount: cn.Amount, Reason: cn.Reason, IssuedOn: cn.IssuedOn.String(), CreatedAt: cn.CreatedAt}
}

// balanceJSON is a customer's position per currency.
type balanceJSON struct {
	CustomerID   string           `json:"customer_id"`
	Exposure     map[string]int64 `json:"exposure"` // open invoice balances
	Overdue      map[string]int64 `json:"overdue"`
	Credit       map[string]int64 `json:"credit"` // credit on account, which new invoices consume
	OpenInvoices int              `json:"open_invoices"`
}
