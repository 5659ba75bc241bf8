package imports

import (
	"fmt"
	"slices"
	"strings"

	"dunlin/shared/apperr"
)

// Kind is what a file holds.
type Kind string

const (
	Customers Kind = "customers"
	Invoices  Kind = "invoices"
)

// ParseKind accepts "customers" or "invoices".
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.ToLower(strings.TrimSpace(s))); k {
	case Customers, Invoices:
		return k, nil
	}
	return "", apperr.Field(apperr.Invalid, "kind", "kind must be customers or invoices, not %q", s)
}

// Column is one field a file can set, and the headings that mean it.
type Column struct {
	Field    string
	Required bool     // on every row; otherwise a blank cell leaves the field as it is
	Aliases  []string // other headings, compared as normalised by headingKey
	Doc      string
}

// Columns lists each kind's columns: the documented mapping (README,
// "Importing from your books"). Headings match case-insensitively, with
// spaces, hyphens and underscores alike: "Credit Limit" is credit_limit.
var Columns = map[Kind][]Column{
	Customers: {
		{"external_id", true, []string{"customer_id", "customer_number", "customer_no", "account_number", "account_no"}, "the customer's id in your books; rows are matched on it"},
		{"name", false, []string{"customer_name", "company", "company_name"}, "required for a new customer"},
		{"email", false, []string{"email_address", "e_mail"}, "required for a new customer; where dunning emails go"},
		{"cc", false, []string{"cc_emails", "cc_email"}, "more addresses, separated by ; or ,"},
		{"language", false, nil, "en or zh-CN; en when new and blank"},
		{"timezone", false, []string{"time_zone"}, "IANA zone such as Europe/Berlin; the firm's when blank"},
		{"currency", false, nil, "ISO 4217 code; the firm's default when new and blank"},
		{"credit_limit", false, nil, "an amount in the customer's currency, e.g. 5000.00"},
		{"payment_terms_days", false, []string{"payment_terms", "terms", "terms_days", "net_days"}, "days from issue to due date"},
		{"owner", false, []string{"collector"}, "who looks after the customer"},
		{"policy", false, []string{"dunning_policy"}, "the dunning policy's name; standard is the default"},
	},
	Invoices: {
		{"external_id", true, []string{"invoice_id", "invoice_external_id"}, "the invoice's id in your books; rows are matched on it"},
		{"customer_external_id", true, []string{"customer_id", "customer_number", "customer_no", "account_number", "account_no"}, "the customer's external_id; import customers first"},
		{"number", false, []string{"invoice_number", "invoice_no", "invoice_#"}, "the number printed on the invoice; assigned when blank"},
		{"currency", false, nil, "ISO 4217 code; the customer's when blank"},
		{"total", true, []string{"amount", "invoice_total", "total_amount", "invoice_amount"}, "the amount invoiced, e.g. 1250.00 or 1,250.00"},
		{"issued_on", false, []string{"issue_date", "invoice_date", "date", "issued"}, "YYYY-MM-DD (or an Excel date); today when blank"},
		{"due_on", false, []string{"due_date", "due"}, "YYYY-MM-DD (or an Excel date); issued_on plus the customer's terms when blank"},
		{"payment_url", false, []string{"payment_link", "pay_url"}, "an https link the emails offer for paying"},
		{"description", false, []string{"memo"}, "what the invoice is for"},
	},
}

// headingKey normalises a heading: "Credit Limit", "credit-limit" and
// "CREDIT_LIMIT" are one key.
func headingKey(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.NewReplacer(" ", "_", "-", "_", ".", "").Replace(h)
	for strings.Contains(h, "__") {
		h = strings.ReplaceAll(h, "__", "_")
	}
	return h
}

// Mapping says which column of a file holds which field.
type Mapping struct {
	Kind    Kind
	index   map[string]int // field -> column index
	Used    []ColumnUse
	Ignored []string // headings that name no field: reported, not refused
}

// ColumnUse is one heading and the field it was read as.
type ColumnUse struct {
	Column string `json:"column"`
	Field  string `json:"field"`
}

// MapHeader matches a header row to kind's fields. overrides maps a
// heading (as written in the file) to a field, for headings no alias
// covers. Errors name the columns: a required field missing, two columns
// for one field, an override to a field that does not exist.
func MapHeader(kind Kind, header []string, overrides map[string]string) (*Mapping, error) {
	cols := Columns[kind]
	byKey := map[string]string{}
	for _, c := range cols {
		byKey[c.Field] = c.Field
		for _, a := range c.Aliases {
			byKey[a] = c.Field
		}
	}
	forced := map[string]string{}
	for h, field := range overrides {
		if !slices.ContainsFunc(cols, func(c Column) bool { return c.Field == field }) {
			return nil, apperr.Field(apperr.Invalid, "map", "%q is not a %s field; the fields are %s", field, kind, fieldList(cols))
		}
		forced[headingKey(h)] = field
	}
	m := &Mapping{Kind: kind, index: map[string]int{}}
	for i, h := range header {
		field, ok := forced[headingKey(h)]
		if !ok {
			field, ok = byKey[headingKey(h)]
		}
		if !ok {
			m.Ignored = append(m.Ignored, h)
			continue
		}
		if j, dup := m.index[field]; dup {
			return nil, apperr.Field(apperr.Invalid, "columns", "columns %q and %q both give %s; keep one, or map one elsewhere", header[j], h, field)
		}
		m.index[field] = i
		m.Used = append(m.Used, ColumnUse{Column: h, Field: field})
	}
	for _, c := range cols {
		if _, ok := m.index[c.Field]; c.Required && !ok {
			return nil, apperr.Field(apperr.Invalid, "columns", "no column for %s (%s); the header row has %s", c.Field, c.Doc, strings.Join(quoted(header), ", "))
		}
	}
	return m, nil
}

// Has reports whether the file has a column for field.
func (m *Mapping) Has(field string) bool {
	_, ok := m.index[field]
	return ok
}

// Cell is a row's value for field: "" when the file has no such column or
// the row is short.
func (m *Mapping) Cell(r Row, field string) string {
	i, ok := m.index[field]
	if !ok || i >= len(r.Cells) {
		return ""
	}
	return r.Cells[i]
}

func fieldList(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Field
	}
	return strings.Join(names, ", ")
}

func quoted(list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// ParseOverrides reads "Heading=field" pairs, as the API's map parameter
// and the CLI's --map flag give them. The last "=" splits, since a
// heading may hold one and a field never does.
func ParseOverrides(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		i := strings.LastIndex(p, "=")
		if i <= 0 || i == len(p)-1 {
			return nil, apperr.Field(apperr.Invalid, "map", "%q: write the file's heading, =, and a field, e.g. \"Client Ref=external_id\"", p)
		}
		out[strings.TrimSpace(p[:i])] = strings.TrimSpace(p[i+1:])
	}
	return out, nil
}
