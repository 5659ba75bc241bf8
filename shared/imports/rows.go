package imports

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/xuri/excelize/v2"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/money"
)

// planCustomer checks a customers row and readies its write: a new
// customer when none has the row's external_id, else an update of the
// fields whose cells are not blank.
func (im *Importer) planCustomer(ctx context.Context, t *Table, m *Mapping, r Row, p *planned) error {
	cell := func(field string) string { return m.Cell(r, field) }
	ext := cell("external_id")
	if ext == "" {
		return apperr.Invalidf("external_id", "external_id is required on every row: rows are matched with customers by it")
	}
	page, err := im.Billing.FindCustomerByExternalID(ctx, ext)
	if err != nil {
		return err
	}
	var cur *billing.Customer
	if len(page.Items) > 0 {
		cur = page.Items[0]
	}
	currency := cell("currency")
	if currency == "" && cur != nil {
		currency = cur.Currency
	}
	if currency == "" {
		currency = im.Billing.Firm().DefaultCurrency
	}
	limit, err := optionalAmount(t.Format, "credit_limit", cell("credit_limit"), currency)
	if err != nil {
		return err
	}
	terms, err := optionalInt("payment_terms_days", cell("payment_terms_days"))
	if err != nil {
		return err
	}
	cc := splitAddresses(cell("cc"))

	if cur == nil {
		in := billing.CustomerCreate{
			ExternalID: ext, Name: cell("name"), Email: cell("email"), CC: cc,
			Language: cell("language"), Timezone: cell("timezone"), Currency: cell("currency"),
			CreditLimit: limit, PaymentTermsDays: terms, Owner: cell("owner"), Policy: cell("policy"),
		}
		if _, err := im.Billing.NewCustomer(ctx, in); err != nil {
			return err
		}
		im.creates(t, m, r, p, im.planCustomer, func(ctx context.Context) (string, error) {
			c, err := im.Billing.CreateCustomer(ctx, in)
			if err != nil {
				return "", err
			}
			return c.ID, nil
		})
		return nil
	}

	var patch billing.CustomerPatch
	set := func(dst **string, field string) {
		if v := cell(field); v != "" {
			*dst = &v
		}
	}
	set(&patch.Name, "name")
	set(&patch.Email, "email")
	set(&patch.Language, "language")
	set(&patch.Timezone, "timezone")
	set(&patch.Currency, "currency")
	set(&patch.Owner, "owner")
	set(&patch.Policy, "policy")
	if cc != nil {
		// Addresses that bounced for good stay off, whatever the books
		// still list: putting them back would bounce again.
		cc = slices.DeleteFunc(cc, func(a string) bool {
			return slices.ContainsFunc(cur.BouncedCC, func(b string) bool { return strings.EqualFold(a, b) })
		})
		patch.CC = &cc
	}
	patch.CreditLimit, patch.PaymentTermsDays = limit, terms
	changes, err := im.Billing.PlanCustomerUpdate(ctx, cur, patch)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		p.result = p.result.done(Unchanged, cur.ID, nil)
		return nil
	}
	p.result = p.result.done(Updated, cur.ID, changes)
	p.write = func(ctx context.Context) (Result, error) {
		if _, err := im.Billing.UpdateCustomer(ctx, cur.ID, patch); err != nil {
			return Result{}, err
		}
		return p.result, nil
	}
	return nil
}

// planInvoice checks an invoices row and readies its write: a new invoice
// when none has the row's external_id. An invoice already there may get a
// new description or payment link, but never a new customer, amount or
// dates: those change what is owed, which takes a void or a credit note.
func (im *Importer) planInvoice(ctx context.Context, t *Table, m *Mapping, r Row, p *planned) error {
	cell := func(field string) string { return m.Cell(r, field) }
	ext := cell("external_id")
	if ext == "" {
		return apperr.Invalidf("external_id", "external_id is required on every row: rows are matched with invoices by it")
	}
	custExt := cell("customer_external_id")
	if custExt == "" {
		return apperr.Invalidf("customer_external_id", "customer_external_id is required: whose invoice is it?")
	}
	custs, err := im.Billing.FindCustomerByExternalID(ctx, custExt)
	if err != nil {
		return err
	}
	if len(custs.Items) == 0 {
		return apperr.Invalidf("customer_external_id", "no customer has external_id %q; import customers first", custExt)
	}
	cust := custs.Items[0]
	invs, err := im.Billing.FindInvoiceByExternalID(ctx, ext)
	if err != nil {
		return err
	}
	currency := cell("currency")
	switch {
	case currency != "":
	case len(invs.Items) > 0:
		currency = invs.Items[0].Currency // the invoice's, whatever the customer's is now
	default:
		currency = cust.Currency
	}
	total, err := optionalAmount(t.Format, "total", cell("total"), currency)
	if err != nil {
		return err
	}
	if total == nil {
		return apperr.Invalidf("total", "total is required: the amount invoiced, e.g. 1250.00")
	}
	issued, err := dateCell(t, "issued_on", cell("issued_on"))
	if err != nil {
		return err
	}
	due, err := dateCell(t, "due_on", cell("due_on"))
	if err != nil {
		return err
	}

	if len(invs.Items) == 0 {
		in := billing.InvoiceCreate{
			CustomerID: cust.ID, ExternalID: ext, Number: cell("number"), Currency: cell("currency"),
			Total: total, IssuedOn: issued, DueOn: due, PaymentURL: cell("payment_url"), Description: cell("description"),
		}
		if _, err := im.Billing.NewInvoice(ctx, in); err != nil {
			return err
		}
		im.creates(t, m, r, p, im.planInvoice, func(ctx context.Context) (string, error) {
			inv, err := im.Billing.CreateInvoice(ctx, in)
			if err != nil {
				return "", err
			}
			return inv.ID, nil
		})
		return nil
	}

	inv := invs.Items[0]
	fixed := func(field string, differ bool, has string) error {
		if differ {
			return apperr.Invalidf(field, "invoice %q already has %s %s; an import does not change an issued invoice's customer, amount or dates (void it, or record a credit note)", ext, field, has)
		}
		return nil
	}
	for _, err := range []error{
		fixed("customer_external_id", inv.CustomerID != cust.ID, "another customer"),
		fixed("currency", cell("currency") != "" && !strings.EqualFold(cell("currency"), inv.Currency), inv.Currency),
		fixed("total", *total != inv.Total, money.Decimal(inv.Total, inv.Currency)),
		fixed("issued_on", issued != "" && !sameDate(issued, inv.IssuedOn), inv.IssuedOn.String()),
		fixed("due_on", due != "" && !sameDate(due, inv.DueOn), inv.DueOn.String()),
		fixed("number", cell("number") != "" && cell("number") != inv.Number, inv.Number),
	} {
		if err != nil {
			return err
		}
	}
	var d billing.InvoiceDetails
	var changes []string
	if v := cell("description"); v != "" && v != inv.Description {
		d.Description, changes = &v, append(changes, "description")
	}
	if v := cell("payment_url"); v != "" && v != inv.PaymentURL {
		d.PaymentURL, changes = &v, append(changes, "payment_url")
	}
	if len(changes) == 0 {
		p.result = p.result.done(Unchanged, inv.ID, nil)
		return nil
	}
	p.result = p.result.done(Updated, inv.ID, changes)
	p.write = func(ctx context.Context) (Result, error) {
		if _, err := im.Billing.UpdateInvoiceDetails(ctx, inv.ID, d); err != nil {
			return Result{}, err
		}
		return p.result, nil
	}
	return nil
}

func sameDate(s string, d civil.Date) bool {
	v, err := civil.Parse(s)
	return err == nil && v == d
}

// rowPlan checks a row and readies its write (planCustomer, planInvoice).
type rowPlan func(context.Context, *Table, *Mapping, Row, *planned) error

// creates readies p to create its record with create, which returns the
// new record's id. A create that loses the race for the external_id is
// checked again by plan, as the update it now is.
func (im *Importer) creates(t *Table, m *Mapping, r Row, p *planned, plan rowPlan, create func(context.Context) (string, error)) {
	p.result.Action = Created
	p.write = func(ctx context.Context) (Result, error) {
		id, err := create(ctx)
		if createdMeanwhile(err) {
			return im.replan(ctx, t, m, r, p, plan)
		}
		if err != nil {
			return Result{}, err
		}
		return p.result.done(Created, id, nil), nil
	}
}

// createdMeanwhile is a create refused because the external_id was taken
// after the row was checked: another import, or the API, won the race.
func createdMeanwhile(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Code == apperr.Conflict && e.Field == "external_id"
}

// replan checks a row again after losing a race to create it, and writes
// what it now calls for (an update, or nothing). Once: a second lost race
// is reported.
func (im *Importer) replan(ctx context.Context, t *Table, m *Mapping, r Row, p *planned, plan rowPlan) (Result, error) {
	again := &planned{row: r, result: Result{Row: r.Number, ExternalID: p.result.ExternalID}}
	if err := plan(ctx, t, m, r, again); err != nil {
		return Result{}, err
	}
	if again.result.Action == Created {
		return Result{}, apperr.New(apperr.Conflict, "another writer created and removed this record while it was imported; import the file again")
	}
	if again.write == nil {
		return again.result, nil
	}
	return again.write(ctx)
}

func (r Result) done(action, id string, changes []string) Result {
	r.Action, r.ID, r.Changes, r.Field, r.Error = action, id, changes, "", ""
	return r
}

// grouped is an amount with thousands separators: 1,250.00.
var grouped = regexp.MustCompile(`^[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$`)

// dotGrouped is an amount whose points could be thousands separators:
// 12.500, 1.250.000.
var dotGrouped = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{3})+$`)

// optionalAmount reads an amount in major units of currency as minor
// units; nil for a blank cell.
func optionalAmount(f Format, field, s, currency string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	code, err := money.NormalizeCurrency(currency)
	if err != nil {
		return nil, apperr.Invalidf("currency", "%v", err)
	}
	if f == XLSX {
		// A number cell holds a binary float: 1234.56 may be stored as
		// 1234.5599999999999. Round to the currency's minor units when
		// that is all the difference.
		if v, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(v, 0) {
			x := v * math.Pow10(money.Digits(code))
			if r := math.Round(x); math.Abs(x-r) <= 1e-6+1e-12*math.Abs(x) && r >= 0 && r < 1<<53 {
				minor := int64(r)
				return &minor, nil
			}
		}
	}
	if grouped.MatchString(s) {
		s = strings.ReplaceAll(s, ",", "")
	}
	// "12.500" is twelve and a half in English and twelve thousand five
	// hundred in much of Europe, whose files are otherwise read as well
	// as English ones: refused, never guessed, unless the currency has
	// three decimals.
	if dotGrouped.MatchString(s) && money.Digits(code) < 3 {
		return nil, apperr.Invalidf(field, "%s: %q could be read two ways: write %s or %s", field, s, strings.ReplaceAll(s, ".", ""), strings.TrimSuffix(strings.TrimRight(s, "0"), "."))
	}
	minor, err := money.Parse(s, code)
	if err != nil {
		return nil, apperr.Invalidf(field, "%s: %v", field, err)
	}
	return &minor, nil
}

func optionalInt(field, s string) (*int, error) {
	if s == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return nil, apperr.Invalidf(field, "%s must be a whole number, not %q", field, s)
	}
	return &n, nil
}

// dateCell returns a date as YYYY-MM-DD text for the billing rules to
// check. An Excel date is a serial number of days, which it converts.
func dateCell(tb *Table, field, s string) (string, error) {
	if s == "" || tb.Format != XLSX {
		return s, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s, nil // text in a date cell: checked as written
	}
	t, err := excelize.ExcelDateToTime(v, tb.Date1904)
	if err != nil {
		return "", apperr.Invalidf(field, "%s: %q is not a date", field, s)
	}
	return t.Format("2006-01-02"), nil
}

// splitAddresses splits a cell of addresses on semicolons, commas or
// spaces; nil for a blank cell.
func splitAddresses(s string) []string {
	if s == "" {
		return nil
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || unicode.IsSpace(r) })
}
