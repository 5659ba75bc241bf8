package api

import (
	"net/http"
	"slices"
	"strconv"

	"dunlin/shared/apperr"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/ids"
)

const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// pageParams reads ?limit= and ?cursor=.
func pageParams(r *http.Request) (limit int, cursor string, err error) {
	limit = defaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > maxPageSize {
			return 0, "", apperr.Field(apperr.BadRequest, "limit", "limit must be a whole number from 1 to %d", maxPageSize)
		}
		limit = n
	}
	return limit, r.URL.Query().Get("cursor"), nil
}

func (s *Server) createCustomer(r *http.Request, body []byte) (int, any, error) {
	var in billing.CustomerCreate
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.billing.CreateCustomer(r.Context(), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toCustomerJSON(c), nil
}

func (s *Server) getCustomer(r *http.Request, _ []byte) (int, any, error) {
	c, err := s.billing.GetCustomer(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

func (s *Server) updateCustomer(r *http.Request, body []byte) (int, any, error) {
	var p billing.CustomerPatch
	if err := decode(body, &p); err != nil {
		return 0, nil, err
	}
	c, err := s.billing.UpdateCustomer(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

func (s *Server) listCustomers(r *http.Request, _ []byte) (int, any, error) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	var page billing.Page[billing.Customer]
	switch onHold := r.URL.Query().Get("on_hold"); {
	case onHold != "" && onHold != "true" && onHold != "false":
		return 0, nil, apperr.Field(apperr.BadRequest, "on_hold", "on_hold must be true or false")
	case r.URL.Query().Get("external_id") != "":
		page, err = s.billing.FindCustomerByExternalID(r.Context(), r.URL.Query().Get("external_id"))
	case onHold == "true":
		page, err = s.billing.ListCustomersOnHold(r.Context(), cursor, limit)
	default:
		page, err = s.billing.ListCustomers(r.Context(), cursor, limit)
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(page.Items, page.NextCursor, toCustomerJSON), nil
}

func (s *Server) createInvoice(r *http.Request, body []byte) (int, any, error) {
	var in billing.InvoiceCreate
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	inv, err := s.billing.CreateInvoice(r.Context(), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, toInvoiceJSON(inv, s.billing.Now()), nil
}

func (s *Server) getInvoice(r *http.Request, _ []byte) (int, any, error) {
	inv, err := s.billing.GetInvoice(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toInvoiceJSON(inv, s.billing.Now()), nil
}

func (s *Server) listInvoices(r *http.Request, _ []byte) (int, any, error) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	q := billing.InvoiceQuery{CustomerID: r.URL.Query().Get("customer_id"), Cursor: cursor, Limit: limit}
	if q.CustomerID != "" && !ids.Valid("cus_", q.CustomerID) {
		return 0, nil, apperr.Field(apperr.BadRequest, "customer_id", "customer_id %q is not a customer id", q.CustomerID)
	}
	if v := r.URL.Query().Get("status"); v != "" {
		st, ok := billing.ParseStatus(v)
		if !ok {
			return 0, nil, apperr.Field(apperr.BadRequest, "status", "status must be open, overdue, paid or void")
		}
		q.Status = st
	}
	var page billing.Page[billing.Invoice]
	if ext := r.URL.Query().Get("external_id"); ext != "" {
		page, err = s.billing.FindInvoiceByExternalID(r.Context(), ext)
		page.Items = slices.DeleteFunc(page.Items, func(inv *billing.Invoice) bool {
			return q.CustomerID != "" && inv.CustomerID != q.CustomerID || q.Status != "" && inv.Status(s.billing.Now()) != q.Status
		})
	} else {
		page, err = s.billing.ListInvoices(r.Context(), q)
	}
	if err != nil {
		return 0, nil, err
	}
	now := s.billing.Now()
	return http.StatusOK, toList(page.Items, page.NextCursor, func(inv *billing.Invoice) invoiceJSON { return toInvoiceJSON(inv, now) }), nil
}

func (s *Server) voidInvoice(r *http.Request, body []byte) (int, any, error) {
	var in struct {
		Reason string `json:"reason"`
	}
	if len(body) > 0 { // the body is optional
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
	}
	inv, err := s.billing.VoidInvoice(r.Context(), r.PathValue("id"), in.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toInvoiceJSON(inv, s.billing.Now()), nil
}

func (s *Server) createKey(r *http.Request, body []byte) (int, any, error) {
	var in struct {
		Name string `json:"name"`
		Role string `json:"role"`
	}
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	token, k, err := s.keys.Create(r.Context(), in.Name, auth.Role(in.Role))
	if err != nil {
		return 0, nil, err
	}
	out := toKeyJSON(k)
	out.Key = token
	return http.StatusCreated, out, nil
}

func (s *Server) listKeys(r *http.Request, _ []byte) (int, any, error) {
	keys, err := s.keys.List(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(keys, "", toKeyJSON), nil
}

func (s *Server) revokeKey(r *http.Request, _ []byte) (int, any, error) {
	k, err := s.keys.Revoke(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toKeyJSON(k), nil
}
