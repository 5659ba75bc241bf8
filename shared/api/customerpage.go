package api

import (
	"errors"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/links"
	"dunlin/shared/money"
)

// The customer's statement page: reached from a signed link in a dunning
// email, with no sign-in. It shows that customer's open invoices, with
// pay buttons, and lets it say "I have paid" or "I dispute this". The
// link is the only credential, so nothing else is reachable from it, it
// is never cached or sent on as a referrer, and the page loads nothing
// from elsewhere.

// PublicPages are the method and pattern of each page served without an
// API key, outside the route table.
func PublicPages() []string {
	return []string{"GET /s/{token}", "POST /s/{token}/paid", "POST /s/{token}/dispute"}
}

func (s *Server) registerCustomerPage() {
	pages := PublicPages()
	s.mux.HandleFunc(pages[0], s.customerPage)
	s.mux.HandleFunc(pages[1], s.customerSays(func(r *http.Request, cid, inv, note string) error {
		return s.billing.CustomerSaysPaid(r.Context(), cid, inv, note)
	}, "paid"))
	s.mux.HandleFunc(pages[2], s.customerSays(func(r *http.Request, cid, inv, note string) error {
		return s.billing.CustomerDisputes(r.Context(), cid, inv, note)
	}, "disputed"))
}

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

// pageCustomer checks the link; it answers the error page itself.
func (s *Server) pageCustomer(w http.ResponseWriter, r *http.Request) (string, bool) {
	if s.links == nil {
		http.NotFound(w, r)
		return "", false
	}
	cid, err := s.links.Check(r.Context(), r.PathValue("token"), s.now())
	switch {
	case errors.Is(err, links.ErrExpired):
		s.pageError(w, http.StatusGone, "This link has expired. Please use the link in our latest email, or reply to it.")
	case errors.Is(err, links.ErrInvalid):
		s.pageError(w, http.StatusNotFound, "This link is not valid.")
	case err != nil:
		s.log.ErrorContext(r.Context(), "statement page", "error", err.Error())
		s.pageError(w, http.StatusServiceUnavailable, "Please try again in a moment.")
	default:
		return cid, true
	}
	return "", false
}

func (s *Server) pageError(w http.ResponseWriter, status int, msg string) {
	pageHeaders(w)
	w.WriteHeader(status)
	_ = customerPageTmpl().Execute(w, map[string]any{"Error": msg, "L": pageLabels["en"]})
}

// pageLabels are the page's words in the customer's language.
var pageLabels = map[string]map[string]string{
	"en": {"title": "your statement", "for": "statement for", "invoice": "Invoice", "due": "Due", "amount": "Amount due",
		"pay": "Pay now", "disputed": "Under dispute", "how": "how and when", "paid": "I have paid", "what": "what is wrong",
		"dispute": "I dispute this", "total": "Total outstanding", "nothing": "Nothing is outstanding. Thank you.",
		"done_paid":     "Thank you: we have noted that you have paid, and will check our account.",
		"done_disputed": "Thank you: we have noted your dispute, and stopped reminders for that invoice while we look into it."},
	"zh-CN": {"title": "您的对账单", "for": "对账单：", "invoice": "发票号", "due": "到期日", "amount": "应付金额",
		"pay": "立即付款", "disputed": "争议处理中", "how": "付款方式和日期", "paid": "我已付款", "what": "有何问题",
		"dispute": "我有异议", "total": "未付合计", "nothing": "目前没有未付款项。谢谢。",
		"done_paid":     "谢谢：我们已记录您已付款，将核对到账情况。",
		"done_disputed": "谢谢：我们已记录您的异议，并在核查期间暂停该发票的催款提醒。"},
}

type pageLine struct {
	ID, Number, DueOn, Amount, PayURL string
	Overdue                           bool
	Disputed                          bool
}

func (s *Server) customerPage(w http.ResponseWriter, r *http.Request) {
	cid, ok := s.pageCustomer(w, r)
	if !ok {
		return
	}
	c, invs, err := s.billing.CustomerPage(r.Context(), cid)
	if err != nil {
		s.pageError(w, http.StatusNotFound, "This link is not valid.")
		return
	}
	now := s.now()
	var lines []pageLine
	totals := map[string]int64{}
	for _, inv := range invs {
		today := civil.Today(now, billing.Location(inv.Timezone))
		due := inv.AmountDue(today)
		totals[inv.Currency] += due // what the lines ask for (an installment, not the whole plan)
		lines = append(lines, pageLine{ID: inv.ID, Number: inv.Number, DueOn: inv.DunningDueOn().String(), Amount: money.Format(due, inv.Currency, c.Language),
			PayURL: safeURL(inv.PaymentURL), Overdue: inv.Status(now) == billing.StatusOverdue, Disputed: inv.Disputed})
	}
	var total []string
	for _, cur := range slices.Sorted(maps.Keys(totals)) {
		total = append(total, money.Format(totals[cur], cur, c.Language))
	}
	pageHeaders(w)
	labels, ok := pageLabels[c.Language]
	if !ok {
		labels = pageLabels["en"]
	}
	_ = customerPageTmpl().Execute(w, map[string]any{"Firm": s.firmName, "Name": c.Name, "Lines": lines, "Total": total,
		"Token": r.PathValue("token"), "Done": r.URL.Query().Get("done"), "L": labels, "Lang": c.Language})
}

// safeURL keeps only http(s) payment links.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.String()
}

func (s *Server) customerSays(record func(r *http.Request, cid, inv, note string) error, done string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cid, ok := s.pageCustomer(w, r)
		if !ok {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil {
			s.pageError(w, http.StatusBadRequest, "That did not arrive whole; please try again.")
			return
		}
		// Recorded in the audit trail as the customer's own doing.
		action := "paid"
		if done == "disputed" {
			action = "dispute"
		}
		r = r.WithContext(audit.Begin(r.Context(), "customer:"+cid, "POST /s/{token}/"+action, requestID(r.Context())))
		err := record(r, cid, r.PostForm.Get("invoice_id"), r.PostForm.Get("note"))
		if e, isApp := apperr.As(err); isApp && (e.Code == apperr.Invalid || e.Code == apperr.Conflict || e.Code == apperr.NotFound) {
			s.pageError(w, http.StatusUnprocessableEntity, "We could not record that: "+e.Message)
			return
		} else if err != nil {
			s.log.ErrorContext(r.Context(), "statement page", "error", err.Error())
			s.pageError(w, http.StatusServiceUnavailable, "Please try again in a moment.")
			return
		}
		// Post, then redirect: a reload does not send the form again.
		http.Redirect(w, r, "/s/"+url.PathEscape(r.PathValue("token"))+"?done="+done, http.StatusSeeOther)
	}
}

var customerPageTmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{or .Lang "en"}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">
<title>{{if .Firm}}{{.Firm}}: {{end}}{{.L.title}}</title>
<style>body{font-family:system-ui,sans-serif;color:#1c1917;max-width:48em;margin:2em auto;padding:0 1em}table{border-collapse:collapse;width:100%}td,th{padding:6px;border-bottom:1px solid #e7e5e4;text-align:left;vertical-align:top}.n{text-align:right;white-space:nowrap}.late{color:#b91c1c}form{display:inline}input[type=text]{width:12em}.done{background:#ecfccb;padding:.5em}</style>
</head><body>
{{if .Error}}<p>{{.Error}}</p>{{else}}
<h1>{{if .Firm}}{{.Firm}}: {{end}}{{.L.for}} {{.Name}}</h1>
{{if eq .Done "paid"}}<p class="done">{{.L.done_paid}}</p>{{end}}
{{if eq .Done "disputed"}}<p class="done">{{.L.done_disputed}}</p>{{end}}
{{if .Lines}}<table><tr><th>{{.L.invoice}}</th><th>{{.L.due}}</th><th class="n">{{.L.amount}}</th><th></th></tr>
{{range .Lines}}<tr><td>{{.Number}}</td><td{{if .Overdue}} class="late"{{end}}>{{.DueOn}}</td><td class="n">{{.Amount}}</td><td>
{{if .PayURL}}<a href="{{.PayURL}}" rel="noreferrer">{{$.L.pay}}</a><br>{{end}}
{{if .Disputed}}{{$.L.disputed}}{{else}}<form method="post" action="/s/{{$.Token}}/paid"><input type="hidden" name="invoice_id" value="{{.ID}}"><input type="text" name="note" maxlength="1000" placeholder="{{$.L.how}}"><button>{{$.L.paid}}</button></form><br>
<form method="post" action="/s/{{$.Token}}/dispute"><input type="hidden" name="invoice_id" value="{{.ID}}"><input type="text" name="note" maxlength="1000" placeholder="{{$.L.what}}"><button>{{$.L.dispute}}</button></form>{{end}}
</td></tr>{{end}}</table>
<p>{{.L.total}}: {{range $i, $t := .Total}}{{if $i}}, {{end}}{{$t}}{{end}}</p>
{{else}}<p>{{.L.nothing}}</p>{{end}}
{{end}}
</body></html>
`))
})
