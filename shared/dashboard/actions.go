package dashboard

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"

	"dunlin/shared/apperr"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/dunning"
	"dunlin/shared/emails"
	"dunlin/shared/money"
)

func (db *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	db.render(w, r, nil, http.StatusOK, "login", view{Data: map[string]string{"Next": localPath(r.URL.Query().Get("next"))}})
}

// login turns an API key into a session cookie. The key itself is not
// kept: the cookie names it and is signed.
func (db *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		db.errorPage(w, r, nil, http.StatusBadRequest, "bad_form")
		return
	}
	next := localPath(r.PostForm.Get("next"))
	secrets, err := db.Secrets.Secrets(r.Context())
	if err != nil || len(secrets) == 0 {
		db.unavailable(w, r, nil, err)
		return
	}
	k, err := db.Keys.Authenticate(r.Context(), strings.TrimSpace(r.PostForm.Get("key")))
	if apperr.Is(err, apperr.Unauthorized) {
		db.render(w, r, nil, http.StatusUnauthorized, "login", view{Error: words[language(r)]["bad_key"], Data: map[string]string{"Next": next}})
		return
	} else if err == nil && k.Role == auth.Integration {
		// Integration keys belong to programs (the firm's books, its ERP):
		// a person signs in with a key of their own.
		db.render(w, r, nil, http.StatusForbidden, "login", view{Error: words[language(r)]["integration_key"], Data: map[string]string{"Next": next}})
		return
	} else if err != nil {
		db.unavailable(w, r, nil, err)
		return
	}
	db.setCookie(w, sessionCookie, signSession(secrets[0], k.ID, db.Now().Add(SessionTTL)), SessionTTL)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout clears the session cookie. It asks only for the form's token, not
// for a live key, so a session whose key was revoked can still sign out.
func (db *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(sessionCookie)
	if err == nil && r.ParseForm() == nil {
		if secrets, err := db.Secrets.Secrets(r.Context()); err == nil && !csrfValid(secrets, c.Value, r.PostForm.Get("csrf")) {
			if _, live := checkSession(secrets, c.Value, db.Now()); live == nil {
				db.errorPage(w, r, nil, http.StatusForbidden, "csrf")
				return
			}
		}
	}
	db.setCookie(w, sessionCookie, "", 0)
	http.Redirect(w, r, "/app/login", http.StatusSeeOther)
}

// nonce makes each form's Idempotency-Key: sending a form twice (a double
// click, a reload) records it once.
func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// apiError is the API's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// callAPI makes one API request as the session's key, in this process.
// It returns the status and, when the request failed, the API's message.
func (db *Dashboard) callAPI(r *http.Request, s *session, method, path string, body any, idempotencyKey string) (int, string) {
	var buf bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&buf).Encode(body)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, &buf)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	if idempotencyKey != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey)
	}
	rec := httptest.NewRecorder()
	db.API.ServeAs(s.Key, rec, req)
	if rec.Code < 300 {
		return rec.Code, ""
	}
	var e apiError
	if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Message == "" {
		return rec.Code, http.StatusText(rec.Code)
	}
	return rec.Code, e.Error.Message
}

// recordPromise records a customer's promise to pay, through the API.
func (db *Dashboard) recordPromise(w http.ResponseWriter, r *http.Request, s *session) {
	id := r.PathValue("id")
	form := promiseForm{Amount: r.PostForm.Get("amount"), Currency: strings.ToUpper(strings.TrimSpace(r.PostForm.Get("currency"))),
		PromisedOn: r.PostForm.Get("promised_on"), Note: r.PostForm.Get("note"), Nonce: r.PostForm.Get("nonce")}
	if len(form.Nonce) != 32 {
		form.Nonce = nonce()
	}
	fail := func(status int, msg string) {
		db.customerPage(w, r, s, status, view{Error: msg}, form)
	}
	cur, err := money.NormalizeCurrency(form.Currency)
	if err != nil {
		fail(http.StatusUnprocessableEntity, "currency: "+err.Error())
		return
	}
	amount, err := money.Parse(form.Amount, cur)
	if err != nil {
		fail(http.StatusUnprocessableEntity, "amount: "+err.Error())
		return
	}
	in := billing.PromiseInput{Amount: &amount, PromisedOn: form.PromisedOn, Currency: cur, Note: form.Note,
		Channel: r.PostForm.Get("channel"), TakenBy: s.Key.Name}
	status, msg := db.callAPI(r, s, http.MethodPost, "/v1/customers/"+url.PathEscape(id)+"/promises", in, "dashboard-"+form.Nonce)
	switch {
	case status == http.StatusConflict && strings.Contains(msg, "still in progress"):
		// The same form sent twice (a double click): the first is being
		// recorded, so this one is done too.
	case msg != "":
		fail(status, msg)
		return
	}
	// Post, then redirect: a reload does not send the form again.
	http.Redirect(w, r, "/app/customers/"+url.PathEscape(id)+"?done=promise#timeline", http.StatusSeeOther)
}

func (db *Dashboard) alertAction(w http.ResponseWriter, r *http.Request, s *session) {
	action := r.PathValue("action")
	if action != "acknowledge" && action != "resolve" {
		db.errorPage(w, r, s, http.StatusNotFound, "")
		return
	}
	status, msg := db.callAPI(r, s, http.MethodPost, "/v1/alerts/"+url.PathEscape(r.PathValue("id"))+"/"+action, nil, "")
	if msg != "" {
		db.render(w, r, s, status, "error", view{Title: http.StatusText(status), Error: msg, Status: status})
		return
	}
	http.Redirect(w, r, "/app/alerts", http.StatusSeeOther)
}

// downloads are the files a page links to, each an API route.
var downloads = map[string]string{
	"case-file.html": "/v1/customers/{id}/case-file?format=html&lang={lang}",
	"case-file.json": "/v1/customers/{id}/case-file?format=json",
	"statement.html": "/v1/customers/{id}/statement?format=html&currency={currency}",
	"statement.csv":  "/v1/customers/{id}/statement?format=csv&currency={currency}",
	"aging.csv":      "/v1/reports/aging?format=csv",
}

func (db *Dashboard) customerFile(w http.ResponseWriter, r *http.Request, s *session) {
	db.download(w, r, s, r.PathValue("file"), r.PathValue("id"))
}

func (db *Dashboard) reportFile(w http.ResponseWriter, r *http.Request, s *session) {
	db.download(w, r, s, r.PathValue("file"), "")
}

// download serves a file from its API route, as the session's key.
func (db *Dashboard) download(w http.ResponseWriter, r *http.Request, s *session, file, id string) {
	var err error
	route, ok := downloads[file]
	if !ok || strings.Contains(route, "{id}") != (id != "") {
		db.errorPage(w, r, s, http.StatusNotFound, "")
		return
	}
	lang := r.URL.Query().Get("lang")
	if words[lang] == nil {
		lang = s.Lang
	}
	cur := ""
	if c := r.URL.Query().Get("currency"); c != "" {
		if cur, err = money.NormalizeCurrency(c); err != nil {
			db.errorPage(w, r, s, http.StatusBadRequest, "")
			return
		}
	}
	target := strings.NewReplacer("{id}", url.PathEscape(id), "{lang}", lang, "{currency}", cur).Replace(route)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target, nil)
	if err != nil {
		db.errorPage(w, r, s, http.StatusBadRequest, "")
		return
	}
	// A printable page has its own inline styles and no script.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	db.API.ServeAs(s.Key, w, req)
}

// emailCSP frames a rendered email on a dashboard page: its own inline
// styles, no script (sandbox), nothing fetched.
const emailCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"

// writeEmail answers a frame: an email, or a short note of why there is
// none, always under the email CSP so the dashboard's page may frame it.
func writeEmail(w http.ResponseWriter, status int, html string) {
	w.Header().Set("Content-Security-Policy", emailCSP)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(html))
}

func (db *Dashboard) todaysDunning(w http.ResponseWriter, r *http.Request, s *session) {
	planned, sum, err := db.Sweeper.Preview(r.Context(), db.Now())
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	db.render(w, r, s, http.StatusOK, "dunning", view{Data: map[string]any{"Emails": planned, "Summary": sum}})
}

// plannedEmail is one email of today's dunning, rendered, for its frame.
func (db *Dashboard) plannedEmail(w http.ResponseWriter, r *http.Request, s *session) {
	planned, err := db.Sweeper.PreviewCustomer(r.Context(), db.Now(), r.PathValue("customer"))
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	for _, p := range planned {
		if string(p.Kind) == r.PathValue("kind") {
			writeEmail(w, http.StatusOK, p.HTML)
			return
		}
	}
	writeEmail(w, http.StatusNotFound, "<p>"+html.EscapeString(words[s.Lang]["not_planned"])+"</p>")
}

type templateData struct {
	Policies  []*dunning.Policy
	Languages []string
	Tones     []dunning.Tone
	Lang      string
	Tone      dunning.Tone
	Phrases   emails.Phrases
	Custom    bool
	Preview   string
}

var tones = []dunning.Tone{dunning.Friendly, dunning.Reminder, dunning.Firm, dunning.Final, dunning.Escalation}

// templateChoice reads the language and tone from the path or the query.
func templateChoice(lang, tone string) (string, dunning.Tone, bool) {
	if lang == "" {
		lang = "en"
	}
	if tone == "" {
		tone = string(dunning.Friendly)
	}
	t := dunning.Tone(tone)
	return lang, t, words[lang] != nil && slices.Contains(tones, t)
}

// phrases is the wording emails of a tone use now: the firm's where it set
// one, Dunlin's elsewhere.
func (db *Dashboard) phrases(r *http.Request, lang string, tone dunning.Tone) (emails.Phrases, bool, error) {
	p, err := emails.Default(lang, tone)
	if err != nil {
		return p, false, err
	}
	ov, err := db.Policies.GetOverrides(r.Context(), lang)
	if err != nil {
		return p, false, err
	}
	c, custom := ov[tone]
	p.Subject, p.Intro, p.Closing = cmp.Or(c.Subject, p.Subject), cmp.Or(c.Intro, p.Intro), cmp.Or(c.Closing, p.Closing)
	return p, custom, nil
}

func (db *Dashboard) policies(w http.ResponseWriter, r *http.Request, s *session) {
	db.policiesPage(w, r, s, http.StatusOK, view{Message: map[string]string{"saved": "done_saved"}[r.URL.Query().Get("done")]}, nil)
}

// policiesPage shows the ladders and the wording editor; draft, when not
// nil, is wording sent back with an error.
func (db *Dashboard) policiesPage(w http.ResponseWriter, r *http.Request, s *session, status int, v view, draft *emails.Phrases) {
	lang, tone, ok := templateChoice(r.URL.Query().Get("lang"), r.URL.Query().Get("tone"))
	if r.PathValue("lang") != "" {
		lang, tone, ok = templateChoice(r.PathValue("lang"), r.PathValue("tone"))
	}
	if !ok {
		db.errorPage(w, r, s, http.StatusNotFound, "")
		return
	}
	pols, err := db.Policies.ListPolicies(r.Context())
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	p, custom, err := db.phrases(r, lang, tone)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	if draft != nil {
		p = *draft
	}
	q := url.Values{"subject": {p.Subject}, "intro": {p.Intro}, "closing": {p.Closing}}
	v.Data = templateData{Policies: pols, Languages: []string{"en", "zh-CN"}, Tones: tones, Lang: lang, Tone: tone, Phrases: p, Custom: custom,
		Preview: "/app/templates/" + lang + "/" + string(tone) + "/preview?" + q.Encode()}
	db.render(w, r, s, status, "policies", v)
}

// templatePreview renders a tone's email with sample data and the wording
// in the query (the editor's draft), for the editor's frame.
func (db *Dashboard) templatePreview(w http.ResponseWriter, r *http.Request, s *session) {
	lang, tone, ok := templateChoice(r.PathValue("lang"), r.PathValue("tone"))
	if !ok {
		db.errorPage(w, r, s, http.StatusNotFound, "")
		return
	}
	ov, err := db.Policies.GetOverrides(r.Context(), lang)
	if err != nil {
		db.fail(w, r, s, err)
		return
	}
	q := r.URL.Query()
	draft := emails.Phrases{Subject: q.Get("subject"), Intro: q.Get("intro"), Closing: q.Get("closing")}
	if _, err := emails.CheckOverride(lang, draft); err != nil {
		writeEmail(w, http.StatusUnprocessableEntity, "<p>"+html.EscapeString(err.Error())+"</p>")
		return
	}
	if ov == nil {
		ov = emails.Overrides{}
	}
	ov[tone] = draft
	e, err := emails.RenderWith(lang, tone, emails.Sample(lang), ov)
	if err != nil {
		writeEmail(w, http.StatusUnprocessableEntity, "<p>"+html.EscapeString(err.Error())+"</p>")
		return
	}
	writeEmail(w, http.StatusOK, "<p><b>"+html.EscapeString(e.Subject)+"</b></p>"+e.HTML)
}

// saveTemplate saves the firm's wording for a tone, through the API.
func (db *Dashboard) saveTemplate(w http.ResponseWriter, r *http.Request, s *session) {
	lang, tone, ok := templateChoice(r.PathValue("lang"), r.PathValue("tone"))
	if !ok {
		db.errorPage(w, r, s, http.StatusNotFound, "")
		return
	}
	p := emails.Phrases{Subject: r.PostForm.Get("subject"), Intro: r.PostForm.Get("intro"), Closing: r.PostForm.Get("closing")}
	// A phrase left as Dunlin's is not saved as the firm's: it follows
	// Dunlin's wording if that improves.
	save := p
	if def, err := emails.Default(lang, tone); err == nil {
		for _, f := range []struct {
			dst *string
			def string
		}{{&save.Subject, def.Subject}, {&save.Intro, def.Intro}, {&save.Closing, def.Closing}} {
			if strings.TrimSpace(*f.dst) == strings.TrimSpace(f.def) {
				*f.dst = ""
			}
		}
	}
	status, msg := db.callAPI(r, s, http.MethodPut, "/v1/templates/"+lang+"/"+string(tone), save, "")
	if msg != "" {
		db.policiesPage(w, r, s, status, view{Error: msg}, &p)
		return
	}
	http.Redirect(w, r, "/app/policies?"+url.Values{"lang": {lang}, "tone": {string(tone)}, "done": {"saved"}}.Encode(), http.StatusSeeOther)
}
