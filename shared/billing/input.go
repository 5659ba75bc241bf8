package billing

import (
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"dunlin/shared/apperr"
	"dunlin/shared/civil"
	"dunlin/shared/money"
)

// CustomerCreate is the body of POST /v1/customers. Fields the server owns
// (id, version, timestamps) are absent, so a client cannot set them.
type CustomerCreate struct {
	ExternalID       string   `json:"external_id"`
	Name             string   `json:"name"`
	Email            string   `json:"email"`
	CC               []string `json:"cc"`
	Language         string   `json:"language"`
	Timezone         string   `json:"timezone"`
	Currency         string   `json:"currency"`
	CreditLimit      *int64   `json:"credit_limit"`
	PaymentTermsDays *int     `json:"payment_terms_days"`
	// Policy names the dunning policy; empty or "standard" is the default.
	Policy string `json:"policy"`
	// Owner names the collector who looks after the customer.
	Owner string `json:"owner"`
}

// CustomerPatch is the body of PATCH /v1/customers/{id}: every field is
// optional and only the fields present change. An empty string clears
// external_id and timezone; credit_limit can be cleared with clear_credit_limit.
type CustomerPatch struct {
	ExternalID       *string   `json:"external_id"`
	Name             *string   `json:"name"`
	Email            *string   `json:"email"`
	CC               *[]string `json:"cc"`
	Language         *string   `json:"language"`
	Timezone         *string   `json:"timezone"`
	Currency         *string   `json:"currency"`
	CreditLimit      *int64    `json:"credit_limit"`
	ClearCreditLimit bool      `json:"clear_credit_limit"`
	PaymentTermsDays *int      `json:"payment_terms_days"`
	// Policy assigns a dunning policy by name; "" returns to the default.
	Policy *string `json:"policy"`
	// Owner names the collector who looks after the customer; "" clears it.
	Owner *string `json:"owner"`
}

// InvoiceCreate is the body of POST /v1/invoices.
type InvoiceCreate struct {
	CustomerID string `json:"customer_id"`
	// CustomerExternalID may name the customer by the firm's id instead.
	CustomerExternalID string `json:"customer_external_id"`
	Number             string `json:"number"` // assigned from a counter when empty
	ExternalID         string `json:"external_id"`
	Currency           string `json:"currency"` // the customer's currency when empty
	Total              *int64 `json:"total"`
	IssuedOn           string `json:"issued_on"` // today in the customer's zone when empty
	DueOn              string `json:"due_on"`    // issued_on + the customer's terms when empty
	PaymentURL         string `json:"payment_url"`
	Description        string `json:"description"`
	// EarlyPaymentDiscount: rate_bp basis points off the total when paid
	// within days of issued_on ("2/10 net 30" is {"rate_bp": 200, "days": 10}).
	EarlyPaymentDiscount *DiscountInput `json:"early_payment_discount"`
}

// DiscountInput is an invoice's early-payment discount terms.
type DiscountInput struct {
	RateBP int64 `json:"rate_bp"`
	Days   int   `json:"days"`
}

// Limits on free text, so one record cannot grow without bound.
const (
	maxName        = 200
	maxExternalID  = 128
	maxNumber      = 64
	maxDescription = 2000
	maxURL         = 2048
	maxCC          = 10
	maxTermsDays   = 365
)

// Languages Dunlin writes emails in.
var languages = map[string]bool{"en": true, "zh-CN": true}

func checkText(field, s string, max int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return apperr.Invalidf(field, "%s is required", field)
	}
	if !utf8.ValidString(s) {
		return apperr.Invalidf(field, "%s must be valid UTF-8", field)
	}
	if utf8.RuneCountInString(s) > max {
		return apperr.Invalidf(field, "%s must be at most %d characters", field, max)
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return apperr.Invalidf(field, "%s must not contain control characters", field)
		}
	}
	return nil
}

// checkEmail accepts a bare address (no display name) and returns it trimmed.
func checkEmail(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.Invalidf(field, "%s is required", field)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > 254 {
		return "", apperr.Invalidf(field, "%q is not a valid email address", s)
	}
	return s, nil
}

func checkEmails(field string, list []string) ([]string, error) {
	if len(list) > maxCC {
		return nil, apperr.Invalidf(field, "%s may hold at most %d addresses", field, maxCC)
	}
	out := make([]string, 0, len(list))
	for i, s := range list {
		e, err := checkEmail(field, s)
		if err != nil {
			return nil, apperr.Invalidf(field, "%s[%d]: %q is not a valid email address", field, i, s)
		}
		out = append(out, e)
	}
	return out, nil
}

func checkCurrency(field, code string) (string, error) {
	c, err := money.NormalizeCurrency(code)
	if err != nil {
		return "", apperr.Invalidf(field, "%v", err)
	}
	return c, nil
}

func checkDate(field, s string) (civil.Date, error) {
	d, err := civil.Parse(s)
	if err != nil {
		return civil.Date{}, apperr.Invalidf(field, "%v", err)
	}
	// Guard against typos like 0202 or 20266 that parse but mean nothing.
	if d.Year < 1900 || d.Year > 2999 {
		return civil.Date{}, apperr.Invalidf(field, "%s is outside the years 1900-2999", s)
	}
	return d, nil
}

func checkTerms(days int) error {
	if days < 0 || days > maxTermsDays {
		return apperr.Invalidf("payment_terms_days", "payment_terms_days must be between 0 and %d", maxTermsDays)
	}
	return nil
}

func checkCreditLimit(limit *int64) error {
	if limit == nil {
		return nil
	}
	if err := money.CheckAmount(*limit, 0); err != nil {
		return apperr.Invalidf("credit_limit", "credit_limit %v", err)
	}
	return nil
}

func checkPaymentURL(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxURL {
		return apperr.Invalidf("payment_url", "payment_url must be at most %d characters", maxURL)
	}
	u, err := url.Parse(s)
	// Only https links: this URL becomes a button in emails to customers.
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return apperr.Invalidf("payment_url", "payment_url must be an absolute https URL")
	}
	return nil
}

// applyCustomerFields validates c after fields were set on it and normalises
// what it can. It is shared by create and patch so both enforce one rule set.
func validateCustomer(c *Customer) error {
	if err := checkText("external_id", c.ExternalID, maxExternalID, false); err != nil {
		return err
	}
	if err := checkText("name", c.Name, maxName, true); err != nil {
		return err
	}
	c.Name = strings.TrimSpace(c.Name)
	email, err := checkEmail("email", c.Email)
	if err != nil {
		return err
	}
	c.Email = email
	if c.CC, err = checkEmails("cc", c.CC); err != nil {
		return err
	}
	if !languages[c.Language] {
		return apperr.Invalidf("language", "language must be \"en\" or \"zh-CN\"")
	}
	if c.Timezone != "" && !validZone(c.Timezone) {
		return apperr.Invalidf("timezone", "%q is not an IANA time zone such as Europe/Berlin", c.Timezone)
	}
	if c.Currency, err = checkCurrency("currency", c.Currency); err != nil {
		return err
	}
	if err := checkCreditLimit(c.CreditLimit); err != nil {
		return err
	}
	return checkTerms(c.PaymentTermsDays)
}

// checkChoice defaults *v to def when empty (def "" keeps it optional)
// and checks it is one of allowed.
func checkChoice(field string, v *string, def string, allowed []string) error {
	if *v == "" {
		if *v = def; def == "" {
			return nil
		}
	}
	if !slices.Contains(allowed, *v) {
		return apperr.Invalidf(field, "%s must be one of %s", field, strings.Join(allowed, ", "))
	}
	return nil
}

// requiredAmount checks a required amount field: present, and a positive
// number of minor units within range.
func requiredAmount(field string, v *int64) (int64, error) {
	if v == nil {
		return 0, apperr.Invalidf(field, "%s is required, in minor units of the currency", field)
	}
	if err := money.CheckAmount(*v, 1); err != nil {
		return 0, apperr.Invalidf(field, "%s %v", field, err)
	}
	return *v, nil
}
