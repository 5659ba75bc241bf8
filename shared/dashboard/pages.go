package dashboard

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/charts"
	"dunlin/shared/civil"
	"dunlin/shared/money"
)

// dsoWindows is how many 30-day periods the overview's DSO trend shows.
const dsoWindows = 6

type amountRow struct {
	Currency        string
	Total, Overdue  string
	OverdueNonZero  bool
	Chart           any
	TotalMinor      int64
	OverdueMinor    int64
	CustomersBehind int
}

type overdueRow struct {
	ID, Name, Currency, Overdue, Total string
	minor                              int64
}

func (db *Dashboard) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	a, err := db.Billing.AgingReport(ctx, civil.Date{}, billing.DefaultAgingEdges)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	m := func(v int64, cur string) string { return money.Format(v, cur, s.Lang) }
	var rows []amountRow
	for _, cur := range slices.Sorted(maps.Keys(a.Totals)) {
		amounts := a.Totals[cur]
		total := sum(amounts)
		overdue := total - amounts[0]
		var bars []charts.Datum
		for i, label := range a.Buckets {
			bars = append(bars, charts.Datum{Label: bucketLabel(s.Lang, label), Value: float64(amounts[i]), Text: m(amounts[i], cur)})
		}
		behind := 0
		for _, c := range a.Customers {
			if c.Amounts[cur] != nil && sum(c.Amounts[cur][1:]) > 0 {
				behind++
			}
		}
		rows = append(rows, amountRow{Currency: cur, Total: m(total, cur), Overdue: m(overdue, cur), OverdueNonZero: overdue > 0,
			Chart: charts.Bars(fmt.Sprintf("%s (%s)", words[s.Lang]["aging"], cur), bars), TotalMinor: total, OverdueMinor: overdue, CustomersBehind: behind})
	}
	main := mainCurrency(a, db.Billing.Firm().DefaultCurrency)
	var top []overdueRow
	for _, c := range a.Customers {
		for cur, amounts := range c.Amounts {
			if o := sum(amounts[1:]); o > 0 {
				top = append(top, overdueRow{ID: c.CustomerID, Name: c.Name, Currency: cur, Overdue: m(o, cur), Total: m(sum(amounts), cur), minor: o})
			}
		}
	}
	// Largest first within a currency, the main currency first: amounts in
	// different currencies do not compare.
	slices.SortFunc(top, func(x, y overdueRow) int {
		rank := func(r overdueRow) int {
			if r.Currency == main {
				return 0
			}
			return 1
		}
		return cmp.Or(cmp.Compare(rank(x), rank(y)), cmp.Compare(x.Currency, y.Currency), cmp.Compare(y.minor, x.minor), cmp.Compare(x.Name, y.Name))
	})
	top = top[:min(len(top), 10)]

	trend, err := db.dsoTrend(r, main)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	db.render(w, r, s, http.StatusOK, "overview", view{Data: map[string]any{
		"AsOf": a.AsOf.String(), "Rows": rows, "Top": top, "DSO": trend.chart, "DSOKnown": trend.known, "DSOCurrency": main,
	}})
}

type dsoTrend struct {
	chart any
	known bool
}

// dsoTrend is DSO over the last dsoWindows 30-day periods in currency; a
// period without its receivables snapshots is a gap.
func (db *Dashboard) dsoTrend(r *http.Request, currency string) (dsoTrend, error) {
	today := civil.Today(db.Now(), billing.Location(db.Billing.Firm().Timezone))
	var pts []charts.Datum
	known := false
	for i := dsoWindows - 1; i >= 0; i-- {
		to := today.AddDays(-30 * i)
		from := to.AddDays(-29)
		d := charts.Datum{Label: to.String()[5:], Missing: true}
		rep, err := db.Billing.DSO(r.Context(), from, to)
		if e, ok := apperr.As(err); ok && e.Code == apperr.Invalid {
			pts = append(pts, d) // no snapshot that far back
			continue
		} else if err != nil {
			return dsoTrend{}, err
		}
		for _, f := range rep.Figures {
			if f.Currency == currency && f.DSO != nil {
				d.Value, d.Text, d.Missing = *f.DSO, fmt.Sprintf("%.1f", *f.DSO), false
				known = true
			}
		}
		pts = append(pts, d)
	}
	return dsoTrend{chart: charts.Line("DSO ("+currency+")", pts), known: known}, nil
}

// mainCurrency is the currency the overview's trend follows: the firm's own
// when it is owed any, else the one the most customers owe in (amounts in
// different currencies do not compare).
func mainCurrency(a *billing.Aging, firm string) string {
	if _, owed := a.Totals[firm]; owed || len(a.Totals) == 0 {
		return firm
	}
	count := map[string]int{}
	for _, c := range a.Customers {
		for cur := range c.Amounts {
			count[cur]++
		}
	}
	best := ""
	for _, cur := range slices.Sorted(maps.Keys(count)) {
		if best == "" || count[cur] > count[best] {
			best = cur
		}
	}
	return best
}

func sum(xs []int64) (t int64) {
	for _, x := range xs {
		t += x
	}
	return t
}

func bucketLabel(lang, b string) string {
	if b == "current" {
		return words[lang]["current"]
	}
	return b
}

type customerRow struct {
	*billing.Customer
	Overdue []string
}

func (db *Dashboard) customers(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	cursor := r.URL.Query().Get("cursor")
	onHold := r.URL.Query().Get("on_hold") == "true"
	var page billing.Page[billing.Customer]
	var err error
	if onHold {
		page, err = db.Billing.ListCustomersOnHold(ctx, cursor, 50)
	} else {
		page, err = db.Billing.ListCustomers(ctx, cursor, 50)
	}
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	a, err := db.Billing.AgingReport(ctx, civil.Date{}, billing.DefaultAgingEdges)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	overdue := map[string][]string{}
	for _, c := range a.Customers {
		for _, cur := range slices.Sorted(maps.Keys(c.Amounts)) {
			if o := sum(c.Amounts[cur][1:]); o > 0 {
				overdue[c.CustomerID] = append(overdue[c.CustomerID], money.Format(o, cur, s.Lang))
			}
		}
	}
	var rows []customerRow
	for _, c := range page.Items {
		rows = append(rows, customerRow{Customer: c, Overdue: overdue[c.ID]})
	}
	db.render(w, r, s, http.StatusOK, "customers", view{Data: map[string]any{"Rows": rows, "Next": page.NextCursor, "OnHold": onHold}})
}

// event is one line of a customer's activity timeline.
type event struct {
	At     time.Time
	Day    string
	Kind   string // a word key
	Text   string
	Amount string
}

type customerData struct {
	File     *billing.CreditFile
	C        *billing.Customer
	Invoices []invoiceRow
	Payments []paymentRow
	Promises []promiseRow
	Contacts []contactRow
	Timeline []event
	Exposure []string
	Overdue  []string
	Credit   []string // credit on account
	// Currencies are those the customer has open invoices in, for its
	// statements.
	Currencies []string
	Limit      string
	Form       promiseForm
	Nonce      string
}

type contactRow struct {
	billing.Contact
	When string // in the firm's zone
}

// when writes an instant as the firm's local time, which the page says.
func (db *Dashboard) when(t time.Time) string {
	return t.In(billing.Location(db.Billing.Firm().Timezone)).Format("2006-01-02 15:04")
}

type invoiceRow struct {
	*billing.Invoice
	Total, Balance, Status string
}

type paymentRow struct {
	*billing.Payment
	Amount   string
	Returned string // refunded or charged back, when any
}

// shownPayments is how many of a customer's payments its page lists.
const shownPayments = 50

// recentPayments reads a customer's booked payments of the last year,
// newest first, at most shownPayments.
func (db *Dashboard) recentPayments(r *http.Request, customerID string) ([]*billing.Payment, error) {
	from := civil.Today(db.Now(), time.UTC).AddDays(-366)
	q := billing.PaymentRange{CustomerID: customerID, ReceivedFrom: from, PageSize: 100}
	var out []*billing.Payment
	for range 20 { // 2,000 payments in a year is more than a page should read
		page, err := db.Billing.ListPayments(r.Context(), q, 100)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Items {
			if p.Applied {
				out = append(out, p)
			}
		}
		if q.Cursor = page.NextCursor; q.Cursor == "" {
			break
		}
	}
	slices.Reverse(out) // the index keeps them oldest first
	return out[:min(len(out), shownPayments)], nil
}

type promiseRow struct {
	*billing.Promise
	Amount string
}

// promiseForm is the "record a promise" form as it was sent, to show it
// again with the error.
type promiseForm struct {
	Amount, Currency, PromisedOn, Note string
	Nonce                              string // the form's Idempotency-Key, kept when it is shown again
}

func (db *Dashboard) customer(w http.ResponseWriter, r *http.Request, s *session) {
	db.customerPage(w, r, s, http.StatusOK, view{Message: doneWord(r.URL.Query().Get("done"))}, promiseForm{})
}

func doneWord(done string) string {
	switch done {
	case "promise":
		return "done_promise"
	}
	return ""
}

// customerPage renders a customer's credit file, what it owes and has
// paid, its promises, contacts and timeline.
func (db *Dashboard) customerPage(w http.ResponseWriter, r *http.Request, s *session, status int, v view, form promiseForm) {
	ctx := r.Context()
	id := r.PathValue("id")
	f, err := db.Billing.CustomerCreditFile(ctx, id)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	c := f.Customer
	m := func(v int64, cur string) string { return money.Format(v, cur, s.Lang) }
	d := customerData{File: f, C: c, Form: form, Nonce: form.Nonce}
	if d.Nonce == "" {
		d.Nonce = nonce()
	}
	if d.Form.Currency == "" {
		d.Form.Currency = c.Currency
	}
	for _, cur := range slices.Sorted(maps.Keys(f.Balance.Exposure)) {
		d.Exposure = append(d.Exposure, m(f.Balance.Exposure[cur], cur))
		d.Currencies = append(d.Currencies, cur)
	}
	if len(d.Currencies) == 0 {
		d.Currencies = []string{c.Currency}
	}
	for _, cur := range slices.Sorted(maps.Keys(f.Balance.Credit)) {
		if f.Balance.Credit[cur] > 0 {
			d.Credit = append(d.Credit, m(f.Balance.Credit[cur], cur))
		}
	}
	for _, cur := range slices.Sorted(maps.Keys(f.Balance.Overdue)) {
		if f.Balance.Overdue[cur] > 0 {
			d.Overdue = append(d.Overdue, m(f.Balance.Overdue[cur], cur))
		}
	}
	if c.CreditLimit != nil {
		d.Limit = m(*c.CreditLimit, c.Currency)
	}
	invs, err := db.Billing.ListInvoices(ctx, billing.InvoiceQuery{CustomerID: id, Limit: 50})
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	now := db.Now()
	for _, inv := range invs.Items {
		d.Invoices = append(d.Invoices, invoiceRow{Invoice: inv, Total: m(inv.Total, inv.Currency), Balance: m(inv.Balance, inv.Currency), Status: string(inv.Status(now))})
		d.Timeline = append(d.Timeline, event{At: dayTime(inv.IssuedOn), Day: inv.IssuedOn.String(), Kind: "ev_invoice", Text: inv.Number, Amount: m(inv.Total, inv.Currency)})
	}
	pays, err := db.recentPayments(r, id)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	for _, p := range pays {
		row := paymentRow{Payment: p, Amount: m(p.Amount, p.Currency)}
		if p.Refunded+p.ChargedBack > 0 {
			row.Returned = m(p.Refunded+p.ChargedBack, p.Currency)
		}
		d.Payments = append(d.Payments, row)
		d.Timeline = append(d.Timeline, event{At: dayTime(p.ReceivedOn), Day: p.ReceivedOn.String(), Kind: "ev_payment", Text: p.Reference, Amount: m(p.Amount, p.Currency)})
	}
	proms, err := db.Billing.ListPromises(ctx, id)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	for _, p := range proms {
		d.Promises = append(d.Promises, promiseRow{Promise: p, Amount: m(p.Amount, p.Currency)})
		text := fmt.Sprintf("%s %s", words[s.Lang]["by"], p.PromisedOn)
		if p.Note != "" {
			text += ": " + p.Note
		}
		d.Timeline = append(d.Timeline, event{At: p.CreatedAt, Day: p.CreatedAt.In(billing.Location(db.Billing.CustomerZone(c))).Format(time.DateOnly),
			Kind: "ev_promise_" + string(p.State), Text: text, Amount: m(p.Amount, p.Currency)})
	}
	contacts, err := db.Policies.ListContacts(ctx, id, 50)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	for _, ct := range contacts {
		d.Contacts = append(d.Contacts, contactRow{Contact: ct, When: db.when(ct.At)})
		d.Timeline = append(d.Timeline, event{At: ct.At, Day: ct.At.In(billing.Location(db.Billing.CustomerZone(c))).Format(time.DateOnly), Kind: "ev_contact_" + ct.Channel, Text: ct.Summary})
	}
	alerts, err := db.Billing.ListAlerts(ctx, "", id)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	for _, al := range alerts {
		d.Timeline = append(d.Timeline, event{At: al.CreatedAt, Day: al.CreatedAt.In(billing.Location(db.Billing.CustomerZone(c))).Format(time.DateOnly), Kind: "ev_alert", Text: al.Message})
	}
	// Newest first; on the same day, what happened later first.
	slices.SortStableFunc(d.Timeline, func(x, y event) int { return cmp.Or(cmp.Compare(y.Day, x.Day), y.At.Compare(x.At)) })
	d.Timeline = d.Timeline[:min(len(d.Timeline), 100)]
	v.Title, v.Data = c.Name, d
	db.render(w, r, s, status, "customer", v)
}

func dayTime(d civil.Date) time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

func (db *Dashboard) alerts(w http.ResponseWriter, r *http.Request, s *session) {
	state := r.URL.Query().Get("state")
	if state == "" {
		state = billing.AlertOpen
	}
	list, err := db.Billing.ListAlerts(r.Context(), state, "")
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	names := map[string]string{}
	var rows []alertRow
	for _, a := range list[:min(len(list), 200)] {
		if _, known := names[a.CustomerID]; a.CustomerID != "" && !known {
			if c, err := db.Billing.GetCustomer(r.Context(), a.CustomerID); err == nil {
				names[a.CustomerID] = c.Name
			} else if !apperr.Is(err, apperr.NotFound) {
				db.fail(w, r, s, err)
				return
			}
		}
		rows = append(rows, alertRow{Alert: a, When: db.when(a.CreatedAt), Customer: names[a.CustomerID]})
	}
	db.render(w, r, s, http.StatusOK, "alerts", view{Data: map[string]any{"Alerts": rows, "State": state}})
}

type alertRow struct {
	*billing.Alert
	When, Customer string
}
