package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html/template"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/money"
)

// download is a response that is not JSON: a CSV file or a printable page.
type download struct {
	contentType string
	filename    string // set: offered as a file to save
	body        []byte
}

// format picks the response format from ?format= (json, csv, html when
// allowed), else from the Accept header; JSON by default.
func format(r *http.Request, allowed ...string) (string, error) {
	f := strings.ToLower(r.URL.Query().Get("format"))
	if f == "" {
		accept := r.Header.Get("Accept")
		switch {
		case strings.Contains(accept, "text/csv") && slices.Contains(allowed, "csv"):
			f = "csv"
		case strings.Contains(accept, "text/html") && slices.Contains(allowed, "html"):
			f = "html"
		default:
			f = "json"
		}
	}
	if f != "json" && !slices.Contains(allowed, f) {
		return "", apperr.Field(apperr.BadRequest, "format", "format must be json or %s", strings.Join(allowed, " or "))
	}
	return f, nil
}

func dateParam(r *http.Request, name string) (civil.Date, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return civil.Date{}, nil
	}
	d, err := civil.Parse(v)
	if err != nil {
		return civil.Date{}, apperr.Field(apperr.BadRequest, name, "%s must be a date, YYYY-MM-DD", name)
	}
	return d, nil
}

// periodParams reads ?from= and ?to= (zero when absent).
func periodParams(r *http.Request) (from, to civil.Date, err error) {
	if from, err = dateParam(r, "from"); err != nil {
		return from, to, err
	}
	to, err = dateParam(r, "to")
	return from, to, err
}

// agingJSON is GET /v1/reports/aging.
type agingJSON struct {
	AsOf      string            `json:"as_of"`
	Buckets   []string          `json:"buckets"`
	Customers []agingRowJSON    `json:"customers"`
	Totals    []agingAmountJSON `json:"totals"`
	Invoices  int               `json:"invoices"`
}

type agingRowJSON struct {
	CustomerID string  `json:"customer_id"`
	Name       string  `json:"name"`
	Currency   string  `json:"currency"`
	Amounts    []int64 `json:"amounts"`
	Total      int64   `json:"total"`
}

type agingAmountJSON struct {
	Currency string  `json:"currency"`
	Amounts  []int64 `json:"amounts"`
	Total    int64   `json:"total"`
}

func sum(xs []int64) (t int64) {
	for _, x := range xs {
		t += x
	}
	return t
}

func (s *Server) agingReport(r *http.Request, _ []byte) (int, any, error) {
	f, err := format(r, "csv")
	if err != nil {
		return 0, nil, err
	}
	asOf, err := dateParam(r, "as_of")
	if err != nil {
		return 0, nil, err
	}
	edges := billing.DefaultAgingEdges
	if v := r.URL.Query().Get("buckets"); v != "" {
		edges = nil
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return 0, nil, apperr.Field(apperr.BadRequest, "buckets", "buckets are increasing numbers of days, e.g. 30,60,90")
			}
			edges = append(edges, n)
		}
	}
	a, err := s.billing.AgingReport(r.Context(), asOf, edges)
	if err != nil {
		return 0, nil, err
	}
	out := agingJSON{AsOf: a.AsOf.String(), Buckets: a.Buckets, Customers: []agingRowJSON{}, Totals: []agingAmountJSON{}, Invoices: a.Invoices}
	for _, c := range a.Customers {
		for _, cur := range slices.Sorted(maps.Keys(c.Amounts)) {
			out.Customers = append(out.Customers, agingRowJSON{CustomerID: c.CustomerID, Name: c.Name, Currency: cur, Amounts: c.Amounts[cur], Total: sum(c.Amounts[cur])})
		}
	}
	for _, cur := range slices.Sorted(maps.Keys(a.Totals)) {
		out.Totals = append(out.Totals, agingAmountJSON{Currency: cur, Amounts: a.Totals[cur], Total: sum(a.Totals[cur])})
	}
	if f == "json" {
		return http.StatusOK, out, nil
	}
	// CSV: amounts in major units, one row per customer and currency, then
	// a TOTAL row per currency.
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(append(append([]string{"customer_id", "name", "currency"}, a.Buckets...), "total"))
	row := func(id, name, cur string, amounts []int64) {
		rec := []string{id, csvSafe(name), cur}
		for _, v := range amounts {
			rec = append(rec, money.Decimal(v, cur))
		}
		_ = w.Write(append(rec, money.Decimal(sum(amounts), cur)))
	}
	for _, c := range out.Customers {
		row(c.CustomerID, c.Name, c.Currency, c.Amounts)
	}
	for _, t := range out.Totals {
		row("TOTAL", "", t.Currency, t.Amounts)
	}
	w.Flush()
	return http.StatusOK, download{contentType: "text/csv; charset=utf-8", filename: "aging-" + a.AsOf.String() + ".csv", body: buf.Bytes()}, nil
}

// csvSafe keeps a spreadsheet from running a customer's name as a formula
// (spreadsheets skip leading spaces before one).
func csvSafe(s string) string {
	if t := strings.TrimLeft(s, " "); t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
		return "'" + s
	}
	return s
}

// statementJSON is GET /v1/customers/{id}/statement.
type statementJSON struct {
	CustomerID string              `json:"customer_id"`
	Name       string              `json:"name"`
	Currency   string              `json:"currency"`
	From       string              `json:"from"`
	To         string              `json:"to"`
	Opening    int64               `json:"opening_balance"`
	Lines      []statementLineJSON `json:"lines"`
	Debits     int64               `json:"debits"`
	Credits    int64               `json:"credits"`
	Closing    int64               `json:"closing_balance"`
}

type statementLineJSON struct {
	On          string `json:"on"`
	Kind        string `json:"kind"`
	Reference   string `json:"reference"`
	Description string `json:"description"`
	Debit       int64  `json:"debit"`
	Credit      int64  `json:"credit"`
	Balance     int64  `json:"balance"`
}

func toStatementJSON(st *billing.Statement) statementJSON {
	out := statementJSON{CustomerID: st.Customer.ID, Name: st.Customer.Name, Currency: st.Currency, From: st.From.String(), To: st.To.String(),
		Opening: st.Opening, Lines: []statementLineJSON{}, Debits: st.Debits, Credits: st.Credits, Closing: st.Closing}
	for _, l := range st.Lines {
		out.Lines = append(out.Lines, statementLineJSON{On: l.On.String(), Kind: l.Kind, Reference: l.Reference, Description: l.Description, Debit: l.Debit, Credit: l.Credit, Balance: l.Balance})
	}
	return out
}

func (s *Server) customerStatement(r *http.Request, _ []byte) (int, any, error) {
	f, err := format(r, "csv", "html")
	if err != nil {
		return 0, nil, err
	}
	from, to, err := periodParams(r)
	if err != nil {
		return 0, nil, err
	}
	st, err := s.billing.CustomerStatement(r.Context(), r.PathValue("id"), from, to, r.URL.Query().Get("currency"))
	if err != nil {
		return 0, nil, err
	}
	out := toStatementJSON(st)
	name := fmt.Sprintf("statement-%s-%s-%s", st.Customer.ID, st.From, st.To)
	switch f {
	case "csv":
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		dec := func(v int64) string { return money.Decimal(v, st.Currency) }
		_ = w.Write([]string{"date", "kind", "reference", "description", "debit", "credit", "balance"})
		_ = w.Write([]string{out.From, "opening_balance", "", "", "", "", dec(st.Opening)})
		for _, l := range st.Lines {
			_ = w.Write([]string{l.On.String(), l.Kind, csvSafe(l.Reference), csvSafe(l.Description), dec(l.Debit), dec(l.Credit), dec(l.Balance)})
		}
		_ = w.Write([]string{out.To, "closing_balance", "", "", dec(st.Debits), dec(st.Credits), dec(st.Closing)})
		w.Flush()
		return http.StatusOK, download{contentType: "text/csv; charset=utf-8", filename: name + ".csv", body: buf.Bytes()}, nil
	case "html":
		var buf bytes.Buffer
		lang := st.Customer.Language
		if err := statementPage().Execute(&buf, map[string]any{"S": out, "Lang": lang, "Firm": s.firmName,
			"Money": func(v int64) string { return money.Format(v, st.Currency, lang) }}); err != nil {
			return 0, nil, fmt.Errorf("render statement: %w", err)
		}
		return http.StatusOK, download{contentType: "text/html; charset=utf-8", body: buf.Bytes()}, nil
	}
	return http.StatusOK, out, nil
}

// statementPage is the printable statement of account. html/template
// escapes every value that comes from the books or the customer.
var statementPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("statement").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>Statement of account - {{.S.Name}}</title>
<style>body{font-family:system-ui,sans-serif;color:#1c1917;margin:2em}table{border-collapse:collapse;width:100%}th,td{padding:6px;border-bottom:1px solid #e7e5e4;text-align:left}td.n,th.n{text-align:right;white-space:nowrap}@media print{body{margin:0}}</style>
</head><body>
<h1>Statement of account</h1>
<p>{{if .Firm}}{{.Firm}} - {{end}}{{.S.Name}} ({{.S.CustomerID}})<br>{{.S.From}} to {{.S.To}}, {{.S.Currency}}</p>
<table>
<tr><th>Date</th><th>Item</th><th>Reference</th><th>Description</th><th class="n">Debit</th><th class="n">Credit</th><th class="n">Balance</th></tr>
<tr><td>{{.S.From}}</td><td>Opening balance</td><td></td><td></td><td></td><td></td><td class="n">{{call .Money .S.Opening}}</td></tr>
{{range .S.Lines}}<tr><td>{{.On}}</td><td>{{.Kind}}</td><td>{{.Reference}}</td><td>{{.Description}}</td><td class="n">{{if .Debit}}{{call $.Money .Debit}}{{end}}</td><td class="n">{{if .Credit}}{{call $.Money .Credit}}{{end}}</td><td class="n">{{call $.Money .Balance}}</td></tr>
{{end}}<tr><th>{{.S.To}}</th><th>Closing balance</th><th></th><th></th><th class="n">{{call .Money .S.Debits}}</th><th class="n">{{call .Money .S.Credits}}</th><th class="n">{{call .Money .S.Closing}}</th></tr>
</table>
</body></html>
`))
})

// effectivenessJSON is GET /v1/reports/dunning.
type effectivenessJSON struct {
	From  string             `json:"from"`
	To    string             `json:"to"`
	Steps []effectivenessRow `json:"steps"`
}

type effectivenessRow struct {
	Step        string           `json:"step"`
	Tone        string           `json:"tone"`
	Language    string           `json:"language"`
	Kind        string           `json:"kind"`
	Emails      int              `json:"emails"`
	Invoices    int              `json:"invoices"`
	Paid7       int              `json:"paid_within_7_days"`
	Paid14      int              `json:"paid_within_14_days"`
	Share7      float64          `json:"share_paid_within_7_days"`
	Share14     float64          `json:"share_paid_within_14_days"`
	Collected7  map[string]int64 `json:"collected_within_7_days"`
	Collected14 map[string]int64 `json:"collected_within_14_days"`
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return math.Round(float64(n)/float64(of)*1000) / 1000
}

func (s *Server) dunningEffectiveness(r *http.Request, _ []byte) (int, any, error) {
	from, to, err := periodParams(r)
	if err != nil {
		return 0, nil, err
	}
	rep, err := s.billing.DunningEffectiveness(r.Context(), from, to)
	if err != nil {
		return 0, nil, err
	}
	out := effectivenessJSON{From: rep.From.String(), To: rep.To.String(), Steps: []effectivenessRow{}}
	for _, e := range rep.Rows {
		out.Steps = append(out.Steps, effectivenessRow{Step: e.Step, Tone: e.Tone, Language: e.Language, Kind: e.Kind, Emails: e.Emails, Invoices: e.Invoices,
			Paid7: e.Paid7, Paid14: e.Paid14, Share7: share(e.Paid7, e.Invoices), Share14: share(e.Paid14, e.Invoices),
			Collected7: e.Collected7, Collected14: e.Collected14})
	}
	return http.StatusOK, out, nil
}

// promisesReportJSON is GET /v1/reports/promises.
type promisesReportJSON struct {
	From       string             `json:"from"`
	To         string             `json:"to"`
	Currencies []promiseTallyJSON `json:"currencies"`
}

type promiseTallyJSON struct {
	Currency     string  `json:"currency"`
	Made         int     `json:"made"`
	Kept         int     `json:"kept"`
	Broken       int     `json:"broken"`
	Open         int     `json:"open"`
	AmountMade   int64   `json:"amount_made"`
	AmountKept   int64   `json:"amount_kept"`
	AmountBroken int64   `json:"amount_broken"`
	KeptRate     float64 `json:"kept_rate"` // kept / (kept + broken)
}

func (s *Server) promisesReport(r *http.Request, _ []byte) (int, any, error) {
	from, to, err := periodParams(r)
	if err != nil {
		return 0, nil, err
	}
	rep, err := s.billing.Promises(r.Context(), from, to)
	if err != nil {
		return 0, nil, err
	}
	out := promisesReportJSON{From: rep.From.String(), To: rep.To.String(), Currencies: []promiseTallyJSON{}}
	for _, cur := range slices.Sorted(maps.Keys(rep.ByCurrency)) {
		t := rep.ByCurrency[cur]
		out.Currencies = append(out.Currencies, promiseTallyJSON{Currency: cur, Made: t.Made, Kept: t.Kept, Broken: t.Broken, Open: t.Open,
			AmountMade: t.AmountMade, AmountKept: t.AmountKept, AmountBroken: t.AmountBroken, KeptRate: share(t.Kept, t.Kept+t.Broken)})
	}
	return http.StatusOK, out, nil
}

type reasonRowJSON struct {
	Reason    string `json:"reason"`
	Currency  string `json:"currency"`
	Amount    int64  `json:"amount"`
	Customers int    `json:"customers"`
}

func (s *Server) overdueReasons(r *http.Request, _ []byte) (int, any, error) {
	rows, err := s.billing.OverdueByReason(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := []reasonRowJSON{}
	for _, row := range rows {
		out = append(out, reasonRowJSON(row))
	}
	return http.StatusOK, map[string]any{"data": out}, nil
}

// dsoJSON is GET /v1/reports/dso.
type dsoJSON struct {
	From       string         `json:"from"`
	To         string         `json:"to"`
	Days       int            `json:"days"`
	Currencies []dsoFigureRow `json:"currencies"`
}

type dsoFigureRow struct {
	Currency   string   `json:"currency"`
	Sales      int64    `json:"sales"`
	BeginOpen  int64    `json:"receivables_start"`
	EndOpen    int64    `json:"receivables_end"`
	EndCurrent int64    `json:"current_receivables_end"`
	DSO        *float64 `json:"dso"`
	CEI        *float64 `json:"cei"`
}

func (s *Server) dsoReport(r *http.Request, _ []byte) (int, any, error) {
	from, to, err := periodParams(r)
	if err != nil {
		return 0, nil, err
	}
	rep, err := s.billing.DSO(r.Context(), from, to)
	if err != nil {
		return 0, nil, err
	}
	out := dsoJSON{From: rep.From.String(), To: rep.To.String(), Days: rep.Days, Currencies: []dsoFigureRow{}}
	for _, f := range rep.Figures {
		out.Currencies = append(out.Currencies, dsoFigureRow{Currency: f.Currency, Sales: f.Sales, BeginOpen: f.BeginOpen, EndOpen: f.EndOpen, EndCurrent: f.EndCurrent, DSO: f.DSO, CEI: f.CEI})
	}
	return http.StatusOK, out, nil
}
