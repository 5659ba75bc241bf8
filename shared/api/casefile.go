package api

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/money"
)

func (s *Server) handOff(r *http.Request, body []byte) (int, any, error) {
	var in billing.HandOffInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	c, err := s.billing.HandOff(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

func (s *Server) takeBack(r *http.Request, _ []byte) (int, any, error) {
	c, err := s.billing.TakeBack(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toCustomerJSON(c), nil
}

// caseFileJSON is GET /v1/customers/{id}/case-file.
type caseFileJSON struct {
	Customer    customerJSON      `json:"customer"`
	Statement   statementJSON     `json:"statement"`
	Invoices    []caseInvoiceJSON `json:"invoices"`
	Promises    []promiseJSON     `json:"promises"`
	Contacts    []contactJSON     `json:"contacts"`
	GeneratedAt time.Time         `json:"generated_at"`
}

type caseInvoiceJSON struct {
	Invoice   invoiceJSON     `json:"invoice"`
	Emails    []caseEmailJSON `json:"emails"`
	Principal []segmentJSON   `json:"principal"`
}

type caseEmailJSON struct {
	Day       string `json:"day"`
	Kind      string `json:"kind"`
	Tone      string `json:"tone"`
	Step      string `json:"step"`
	Status    string `json:"status"`
	Subject   string `json:"subject"`
	MessageID string `json:"message_id"`
}

type segmentJSON struct {
	From    string `json:"from"`
	Balance int64  `json:"balance"`
}

// caseLabels are the case file page's words, per language.
var caseLabels = map[string]map[string]string{
	"en": {"title": "Case file", "handed": "Handed off to", "generated": "Generated", "statement": "Statement of account",
		"date": "Date", "item": "Item", "ref": "Reference", "desc": "Description", "debit": "Debit", "credit": "Credit", "balance": "Balance",
		"opening": "Opening balance", "closing": "Closing balance", "invoices": "Open invoices and their dunning", "invoice": "Invoice",
		"issued": "Issued", "due": "Due", "total": "Total", "fees": "Late fees", "waived": "waived", "emails": "Emails", "none": "none",
		"principal": "Principal owed (interest base), from", "promises": "Promises to pay", "promised": "Promised", "amount": "Amount",
		"state": "State", "contacts": "Contact log", "channel": "Channel", "summary": "Summary", "reason": "Reason", "taken": "Taken by"},
	"zh-CN": {"title": "催收案卷", "handed": "已移交", "generated": "生成时间", "statement": "对账单",
		"date": "日期", "item": "项目", "ref": "编号", "desc": "说明", "debit": "借方", "credit": "贷方", "balance": "余额",
		"opening": "期初余额", "closing": "期末余额", "invoices": "未结发票及催款记录", "invoice": "发票",
		"issued": "开票日期", "due": "到期日", "total": "金额", "fees": "滞纳金", "waived": "已减免", "emails": "催款邮件", "none": "无",
		"principal": "欠款本金（计息基数），自", "promises": "付款承诺", "promised": "承诺日期", "amount": "金额",
		"state": "状态", "contacts": "联络记录", "channel": "方式", "summary": "摘要", "reason": "原因", "taken": "记录人"},
}

func (s *Server) caseFile(r *http.Request, _ []byte) (int, any, error) {
	f, err := format(r, "html")
	if err != nil {
		return 0, nil, err
	}
	lang := r.URL.Query().Get("lang")
	if lang == "" {
		lang = "en"
	}
	labels, ok := caseLabels[lang]
	if !ok {
		return 0, nil, apperr.Field(apperr.BadRequest, "lang", "lang must be en or zh-CN")
	}
	cf, err := s.billing.CustomerCaseFile(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	now := s.billing.Now()
	out := caseFileJSON{Customer: toCustomerJSON(cf.Customer), Statement: toStatementJSON(cf.Statement), Invoices: []caseInvoiceJSON{},
		Promises: []promiseJSON{}, Contacts: []contactJSON{}, GeneratedAt: cf.GeneratedAt}
	for _, ci := range cf.Invoices {
		j := caseInvoiceJSON{Invoice: toInvoiceJSON(ci.Invoice, now), Emails: []caseEmailJSON{}, Principal: []segmentJSON{}}
		for _, e := range ci.Emails {
			j.Emails = append(j.Emails, caseEmailJSON{Day: e.Day.String(), Kind: e.Kind, Tone: e.Tone, Step: e.Step, Status: e.Status, Subject: e.Subject, MessageID: e.MessageID})
		}
		for _, sg := range ci.Principal {
			j.Principal = append(j.Principal, segmentJSON{From: sg.From.String(), Balance: sg.Balance})
		}
		out.Invoices = append(out.Invoices, j)
	}
	for _, p := range cf.Promises {
		out.Promises = append(out.Promises, toPromiseJSON(p))
	}
	for i := range cf.Contacts {
		out.Contacts = append(out.Contacts, toContactJSON(&cf.Contacts[i]))
	}
	if f == "json" {
		return http.StatusOK, out, nil
	}
	var buf bytes.Buffer
	m := func(v int64, cur string) string { return money.Format(v, cur, lang) }
	if err := casePage().Execute(&buf, map[string]any{"F": out, "L": labels, "Lang": lang, "Firm": s.firmName, "Money": m}); err != nil {
		return 0, nil, fmt.Errorf("render case file: %w", err)
	}
	return http.StatusOK, download{contentType: "text/html; charset=utf-8", body: buf.Bytes()}, nil
}

// casePage is the printable case file. html/template escapes every value
// that comes from the books, the customer or the contact log. Like the
// API's other pages it is parsed on first use, not at package init, which
// every function's cold start would pay for.
var casePage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("case").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{.L.title}} - {{.F.Customer.Name}}</title>
<style>body{font-family:system-ui,sans-serif;color:#1c1917;margin:2em}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}th,td{padding:5px;border-bottom:1px solid #e7e5e4;text-align:left;vertical-align:top}.n{text-align:right;white-space:nowrap}h2{font-size:1.1em;margin-top:1.5em}@media print{body{margin:0}}</style>
</head><body>
<h1>{{.L.title}}: {{.F.Customer.Name}}</h1>
<p>{{if .Firm}}{{.Firm}} - {{end}}{{.F.Customer.ID}}, {{.F.Customer.Email}}{{with .F.Customer.HandedOffTo}}<br>{{$.L.handed}}: {{.}}{{end}}<br>{{.L.generated}}: {{.F.GeneratedAt.Format "2006-01-02 15:04 MST"}}</p>
{{$cur := .F.Statement.Currency}}
<h2>{{.L.statement}} ({{.F.Statement.From}} - {{.F.Statement.To}}, {{$cur}})</h2>
<table><tr><th>{{.L.date}}</th><th>{{.L.item}}</th><th>{{.L.ref}}</th><th>{{.L.desc}}</th><th class="n">{{.L.debit}}</th><th class="n">{{.L.credit}}</th><th class="n">{{.L.balance}}</th></tr>
<tr><td>{{.F.Statement.From}}</td><td>{{.L.opening}}</td><td></td><td></td><td></td><td></td><td class="n">{{call .Money .F.Statement.Opening $cur}}</td></tr>
{{range .F.Statement.Lines}}<tr><td>{{.On}}</td><td>{{.Kind}}</td><td>{{.Reference}}</td><td>{{.Description}}</td><td class="n">{{if .Debit}}{{call $.Money .Debit $cur}}{{end}}</td><td class="n">{{if .Credit}}{{call $.Money .Credit $cur}}{{end}}</td><td class="n">{{call $.Money .Balance $cur}}</td></tr>
{{end}}<tr><th>{{.F.Statement.To}}</th><th>{{.L.closing}}</th><th></th><th></th><th></th><th></th><th class="n">{{call .Money .F.Statement.Closing $cur}}</th></tr></table>
<h2>{{.L.invoices}}</h2>
{{range .F.Invoices}}{{$c := .Invoice.Currency}}
<h3>{{$.L.invoice}} {{.Invoice.Number}}: {{call $.Money .Invoice.Balance $c}} ({{$.L.issued}} {{.Invoice.IssuedOn}}, {{$.L.due}} {{.Invoice.DueOn}}, {{$.L.total}} {{call $.Money .Invoice.Total $c}})</h3>
<p>{{$.L.fees}}: {{range .Invoice.Fees}}{{.Step}} {{.Kind}} {{call $.Money .Amount $c}} ({{.ChargedOn}}{{if .Waived}}, {{$.L.waived}}{{end}}); {{else}}{{$.L.none}}{{end}}</p>
<p>{{$.L.principal}}: {{range .Principal}}{{.From}} {{call $.Money .Balance $c}}; {{else}}{{$.L.none}}{{end}}</p>
<table><tr><th>{{$.L.date}}</th><th>{{$.L.emails}}</th><th>{{$.L.state}}</th><th>{{$.L.summary}}</th></tr>
{{range .Emails}}<tr><td>{{.Day}}</td><td>{{.Step}} ({{.Tone}}, {{.Kind}})</td><td>{{.Status}}</td><td>{{.Subject}}</td></tr>
{{else}}<tr><td colspan="4">{{$.L.none}}</td></tr>{{end}}</table>
{{end}}
<h2>{{.L.promises}}</h2>
<table><tr><th>{{.L.promised}}</th><th class="n">{{.L.amount}}</th><th>{{.L.state}}</th><th>{{.L.taken}}</th><th>{{.L.channel}}</th></tr>
{{range .F.Promises}}<tr><td>{{.PromisedOn}}</td><td class="n">{{call $.Money .Amount .Currency}}</td><td>{{.State}}</td><td>{{with .TakenBy}}{{.}}{{end}}</td><td>{{.Channel}}</td></tr>
{{else}}<tr><td colspan="5">{{.L.none}}</td></tr>{{end}}</table>
<h2>{{.L.contacts}}</h2>
<table><tr><th>{{.L.date}}</th><th>{{.L.channel}}</th><th>{{.L.summary}}</th><th>{{.L.reason}}</th></tr>
{{range .F.Contacts}}<tr><td>{{.At.Format "2006-01-02 15:04"}}</td><td>{{.Channel}}</td><td>{{.Summary}}</td><td>{{with .Reason}}{{.}}{{end}}</td></tr>
{{else}}<tr><td colspan="4">{{.L.none}}</td></tr>{{end}}</table>
</body></html>
`))
})
