package api

import (
	"strings"
	"time"

	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/dunning"
)

// Response types are written for the API, not copied from storage items, so
// internal fields never leak and read-only fields are clearly the server's.

type customerJSON struct {
	ID               string     `json:"id"`
	ExternalID       *string    `json:"external_id"`
	Name             string     `json:"name"`
	Email            string     `json:"email"`
	CC               []string   `json:"cc"`
	Language         string     `json:"language"`
	Timezone         *string    `json:"timezone"` // null: the firm's zone applies
	Currency         string     `json:"currency"`
	CreditLimit      *int64     `json:"credit_limit"`
	PaymentTermsDays int        `json:"payment_terms_days"`
	Policy           string     `json:"policy"`
	Paused           bool       `json:"paused"`
	PauseReason      *string    `json:"pause_reason"`
	PausedUntil      *string    `json:"paused_until"`
	Owner            *string    `json:"owner"`
	FollowUpOn       *string    `json:"follow_up_on"`
	CreditHold       bool       `json:"credit_hold"`
	HoldReason       *string    `json:"hold_reason"`
	HandedOffTo      *string    `json:"handed_off_to"`
	HandedOffAt      *time.Time `json:"handed_off_at"`
	Grade            *string    `json:"grade"`
	Score            *int       `json:"score"`
	EmailError       *string    `json:"email_error"`
	EmailErrorAt     *time.Time `json:"email_error_at"`
	EmailInvalid     bool       `json:"email_invalid"`
	BouncedCC        []string   `json:"bounced_cc"`
	LastResponseAt   *time.Time `json:"last_response_at"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	Version          int64      `json:"version"`
}

func (c customerJSON) location() string { return "/v1/customers/" + c.ID }

// nonNil is list, or an empty list for nil: a JSON array, never null.
func nonNil(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toCustomerJSON(c *billing.Customer) customerJSON {
	cc := c.CC
	if cc == nil {
		cc = []string{}
	}
	return customerJSON{
		ID: c.ID, ExternalID: nullable(c.ExternalID), Name: c.Name, Email: c.Email, CC: cc,
		Language: c.Language, Timezone: nullable(c.Timezone), Currency: c.Currency, CreditLimit: c.CreditLimit,
		PaymentTermsDays: c.PaymentTermsDays, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version,
		Policy: policyName(c.Policy), Paused: c.Paused || len(c.DisputeHolds) > 0, PauseReason: nullable(pauseReason(c)), PausedUntil: nullable(c.PausedUntil.String()),
		Owner: nullable(c.Owner), FollowUpOn: nullable(c.FollowUpOn.String()),
		CreditHold: c.CreditHold, HoldReason: nullable(c.HoldReason), Grade: nullable(c.Grade), Score: c.Score, HandedOffTo: nullable(c.HandedOffTo), HandedOffAt: c.HandedOffAt, EmailError: nullable(c.EmailError), EmailErrorAt: c.EmailErrorAt, EmailInvalid: c.EmailInvalid, BouncedCC: nonNil(c.BouncedCC), LastResponseAt: c.LastResponseAt,
	}
}

// pauseReason says why dunning is paused: the firm's reason, and any open
// card disputes.
func pauseReason(c *billing.Customer) string {
	r := c.PauseReason
	if !c.Paused {
		r = ""
	}
	if len(c.DisputeHolds) > 0 {
		if r != "" {
			r += "; "
		}
		r += "card dispute open on " + strings.Join(c.DisputeHolds, ", ")
	}
	return r
}

func policyName(p string) string {
	if p == "" {
		return dunning.DefaultPolicyName
	}
	return p
}

type invoiceJSON struct {
	ID          string  `json:"id"`
	CustomerID  string  `json:"customer_id"`
	Number      string  `json:"number"`
	ExternalID  *string `json:"external_id"`
	Currency    string  `json:"currency"`
	Total       int64   `json:"total"`
	Balance     int64   `json:"balance"`
	IssuedOn    string  `json:"issued_on"`
	DueOn       string  `json:"due_on"`
	Timezone    string  `json:"timezone"`
	Status      string  `json:"status"`
	DaysOverdue int     `json:"days_overdue"`
	// Dunning: the index of the last ladder step taken (-1: none yet) and
	// when the sweep next looks at the invoice (null: nothing pending).
	DunningStep   int     `json:"dunning_step"`
	NextActionOn  *string `json:"next_action_on"`
	Disputed      bool    `json:"disputed"`
	DisputeReason *string `json:"dispute_reason"`
	// Late fees added by dunning steps; balance includes those not waived.
	Fees            []feeJSON `json:"fees"`
	FeesOutstanding int64     `json:"fees_outstanding"`
	// Money applied: payments, credit notes, early-payment discount taken.
	Paid                 int64         `json:"paid"`
	Credited             int64         `json:"credited"`
	DiscountTaken        int64         `json:"discount_taken"`
	EarlyPaymentDiscount *discountJSON `json:"early_payment_discount"`
	PaymentURL           *string       `json:"payment_url"`
	Description          *string       `json:"description"`
	VoidedAt             *time.Time    `json:"voided_at"`
	VoidReason           *string       `json:"void_reason"`
	Plan                 *planJSON     `json:"plan"`
	CreatedAt            time.Time     `json:"created_at"`
	UpdatedAt            time.Time     `json:"updated_at"`
	Version              int64         `json:"version"`
}

func (i invoiceJSON) location() string { return "/v1/invoices/" + i.ID }

// toInvoiceJSON derives status and days overdue at now, in the invoice's zone.
func toInvoiceJSON(inv *billing.Invoice, now time.Time) invoiceJSON {
	return invoiceJSON{
		ID: inv.ID, CustomerID: inv.CustomerID, Number: inv.Number, ExternalID: nullable(inv.ExternalID),
		Currency: inv.Currency, Total: inv.Total, Balance: inv.Balance,
		IssuedOn: inv.IssuedOn.String(), DueOn: inv.DueOn.String(), Timezone: inv.Timezone,
		Status: string(inv.Status(now)), DaysOverdue: inv.DaysOverdue(now),
		DunningStep: inv.DunningStep, NextActionOn: nullable(inv.NextActionOn.String()), Disputed: inv.Disputed, DisputeReason: nullable(inv.DisputeReason),
		Fees: toFeesJSON(inv.Fees), FeesOutstanding: inv.FeesOutstanding(),
		Paid: inv.Paid, Credited: inv.Credited, DiscountTaken: inv.DiscountTaken, EarlyPaymentDiscount: toDiscountJSON(inv.Discount),
		PaymentURL: nullable(inv.PaymentURL), Description: nullable(inv.Description),
		VoidedAt: inv.VoidedAt, VoidReason: nullable(inv.VoidReason), Plan: toPlanJSON(inv, now),
		CreatedAt: inv.CreatedAt, UpdatedAt: inv.UpdatedAt, Version: inv.Version,
	}
}

// planJSON is an installment plan with each installment's state at now.
type planJSON struct {
	Installments []installmentJSON `json:"installments"`
	AmountDue    int64             `json:"amount_due"` // what dunning asks for now
	CreatedAt    time.Time         `json:"created_at"`
}

type installmentJSON struct {
	DueOn  string `json:"due_on"`
	Amount int64  `json:"amount"`
	Paid   int64  `json:"paid"`
	Status string `json:"status"` // paid, overdue, due (on or before its date)
}

func toPlanJSON(inv *billing.Invoice, now time.Time) *planJSON {
	if inv.Plan == nil {
		return nil
	}
	today := civil.Today(now, billing.Location(inv.Timezone))
	out := &planJSON{Installments: []installmentJSON{}, AmountDue: inv.AmountDue(today), CreatedAt: inv.Plan.CreatedAt}
	for _, st := range inv.Installments() {
		status := "due"
		switch {
		case st.Paid >= st.Amount:
			status = "paid"
		case today.After(st.DueOn):
			status = "overdue"
		}
		out.Installments = append(out.Installments, installmentJSON{DueOn: st.DueOn.String(), Amount: st.Amount, Paid: st.Paid, Status: status})
	}
	return out
}

type keyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      auth.Role  `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
	// LastUsedAt is to within an hour: it is written at most hourly.
	LastUsedAt *time.Time `json:"last_used_at"`
	// Key is the secret token, present only in the response that creates it.
	Key string `json:"key,omitempty"`
}

func toKeyJSON(k *auth.Key) keyJSON {
	return keyJSON{ID: k.ID, Name: k.Name, Role: k.Role, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt, LastUsedAt: k.LastUsedAt}
}

// list is the envelope of every list response.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func toList[S any, T any](items []*S, next string, conv func(*S) T) list[T] {
	out := list[T]{Data: make([]T, 0, len(items)), NextCursor: nullable(next)}
	for _, it := range items {
		out.Data = append(out.Data, conv(it))
	}
	return out
}

type feeJSON struct {
	Step        string  `json:"step"`
	Kind        string  `json:"kind"`
	Amount      int64   `json:"amount"`
	ChargedOn   string  `json:"charged_on"`
	Waived      bool    `json:"waived"`
	WaiveReason *string `json:"waive_reason"`
}

func toFeesJSON(fs []billing.FeeCharge) []feeJSON {
	out := make([]feeJSON, 0, len(fs))
	for _, f := range fs {
		out = append(out, feeJSON{Step: f.StepName, Kind: f.Kind, Amount: f.Amount, ChargedOn: f.ChargedOn.String(), Waived: f.Waived, WaiveReason: nullable(f.WaiveReason)})
	}
	return out
}

type discountJSON struct {
	RateBP int64 `json:"rate_bp"`
	Days   int   `json:"days"`
}

func toDiscountJSON(d *billing.DiscountTerms) *discountJSON {
	if d == nil {
		return nil
	}
	return &discountJSON{RateBP: d.RateBP, Days: d.Days}
}
