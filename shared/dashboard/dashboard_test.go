package dashboard_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"dunlin/shared/app"
	"dunlin/shared/audit"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/config"
	"dunlin/shared/testenv"
)

// fixture is a wired Dunlin (as the API function runs it) behind a TLS
// test server, with a customer who owes money.
type fixture struct {
	t        *testing.T
	app      *app.App
	srv      *httptest.Server
	clock    *testenv.Clock
	customer *billing.Customer
}

const evilName = `Acme <script>alert("x")</script> & Sons`

// newFixture is newDunlin with a customer whose name is an attack.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := newDunlin(t)
	c, err := f.app.Billing.CreateCustomer(context.Background(), billing.CustomerCreate{Name: evilName, Email: "ap@acme.example", Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range []struct {
		number, issued, due string
		total               int64
	}{{"INV-1", "2026-09-01", "2026-10-01", 120000}, {"INV-2", "2026-11-01", "2026-12-01", 30000}} {
		total := inv.total
		if _, err := f.app.Billing.CreateInvoice(context.Background(), billing.InvoiceCreate{CustomerID: c.ID, Number: inv.number, Total: &total, IssuedOn: inv.issued, DueOn: inv.due}); err != nil {
			t.Fatal(err)
		}
	}
	f.customer = c
	return f
}

// newDunlin wires Dunlin from environment variables, as the API function
// does, behind a TLS test server.
func newDunlin(t *testing.T) *fixture {
	t.Helper()
	_, table := testenv.NewTable(t)
	env := map[string]string{
		"DUNLIN_TABLE": table, "DUNLIN_DYNAMODB_ENDPOINT": testenv.DynamoDBEndpoint(t), "DUNLIN_SES_ENDPOINT": testenv.SESEndpoint(t),
		"DUNLIN_FIRM_NAME": "Test Firm", "DUNLIN_FIRM_TIMEZONE": "Europe/Dublin", "DUNLIN_DEFAULT_CURRENCY": "EUR",
		"DUNLIN_SENDER": "ar@firm.example", "DUNLIN_LINK_SECRETS": "dashboard-test-secret",
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	clk := testenv.NewClock(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a.API)
	t.Cleanup(srv.Close)
	return &fixture{t: t, app: a, srv: srv, clock: clk}
}

// key issues an API key with role.
func (f *fixture) key(role auth.Role) (string, *auth.Key) {
	f.t.Helper()
	token, k, err := f.app.Keys.Create(context.Background(), "Dana "+string(role), role)
	if err != nil {
		f.t.Fatal(err)
	}
	return token, k
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so each answer can be checked.
func (f *fixture) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := f.srv.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

type page struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(c *http.Client, method, path string, form url.Values, headers ...string) page {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, f.srv.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{res.StatusCode, res.Header, string(b)}
}

func (f *fixture) get(c *http.Client, path string) page { return f.do(c, "GET", path, nil) }

// signIn signs c in with token.
func (f *fixture) signIn(c *http.Client, token string) {
	f.t.Helper()
	p := f.do(c, "POST", "/app/login", url.Values{"key": {token}, "next": {"/app/overview"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/overview" {
		f.t.Fatalf("sign in: %d %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var nonceRE = regexp.MustCompile(`name="nonce" value="([^"]+)"`)

func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in the page:\n%s", re, body)
	}
	return m[1]
}

func (f *fixture) promises() []*billing.Promise {
	f.t.Helper()
	ps, err := f.app.Billing.ListPromises(context.Background(), f.customer.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return ps
}

func TestSignInGivesAStrictSignedSessionCookie(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Viewer)
	c := f.browser()

	p := f.get(c, "/app/customers")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/login?next=%2Fapp%2Fcustomers" {
		t.Fatalf("signed out: %d to %q, want 303 to the sign-in page", p.status, p.header.Get("Location"))
	}
	if p := f.do(c, "POST", "/app/login", url.Values{"key": {token + "x"}}); p.status != http.StatusUnauthorized || p.header.Get("Set-Cookie") != "" {
		t.Fatalf("a wrong key: %d, cookie %q; want 401 and no cookie", p.status, p.header.Get("Set-Cookie"))
	}
	p = f.do(c, "POST", "/app/login", url.Values{"key": {token}, "next": {"/app/customers"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/customers" {
		t.Fatalf("sign in: %d to %q", p.status, p.header.Get("Location"))
	}
	res := http.Response{Header: p.header}
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "dunlin_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("no session cookie in %v", p.header["Set-Cookie"])
	}
	if !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteStrictMode || session.Path != "/app/" {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/app/", session)
	}
	if want := f.clock.Now().Add(8 * time.Hour); !session.Expires.Equal(want.Truncate(time.Second)) || session.MaxAge != 8*3600 {
		t.Errorf("session expires %v, max-age %d; want %v, 8 hours", session.Expires, session.MaxAge, want)
	}
	if strings.Contains(session.Value, token[strings.LastIndexByte(token, '_')+1:]) {
		t.Errorf("the cookie holds the key's secret: %s", session.Value)
	}

	p = f.get(c, "/app/customers")
	if p.status != http.StatusOK {
		t.Fatalf("customers page: %d\n%s", p.status, p.body)
	}
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Errorf("the dashboard's CSP allows inline code: %q", csp)
	}
	if strings.Contains(p.body, "<script>alert") || !strings.Contains(p.body, "Acme &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Sons") {
		t.Errorf("the customer's name is not escaped on the customers page")
	}

	// The session ends with its time.
	f.clock.Advance(8*time.Hour + time.Second)
	if p := f.get(c, "/app/customers"); p.status != http.StatusSeeOther {
		t.Errorf("after 8 hours: %d, want 303 to sign in again", p.status)
	}
}

func TestRevokingTheKeyEndsItsSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, k := f.key(auth.Admin)
	c := f.browser()
	f.signIn(c, token)
	if p := f.get(c, "/app/overview"); p.status != http.StatusOK {
		t.Fatalf("overview: %d", p.status)
	}
	if _, err := f.app.Keys.Revoke(context.Background(), k.ID); err != nil {
		t.Fatal(err)
	}
	if p := f.get(c, "/app/overview"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/app/login") {
		t.Errorf("after revoking the key: %d to %q, want 303 to sign in", p.status, p.header.Get("Location"))
	}
}

func TestSignInOnlyReturnsInsideTheDashboard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Viewer)
	for _, next := range []string{"https://evil.example/", "//evil.example/app/", "/v1/keys", "/app/\\evil", ""} {
		p := f.do(f.browser(), "POST", "/app/login", url.Values{"key": {token}, "next": {next}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/overview" {
			t.Errorf("next=%q: %d to %q, want /app/overview", next, p.status, p.header.Get("Location"))
		}
	}
}

func TestFormsNeedTheSessionTokenAndTheSameOrigin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, k := f.key(auth.Collector)
	c := f.browser()
	f.signIn(c, token)
	path := "/app/customers/" + f.customer.ID
	body := f.get(c, path).body
	csrf, nonce := field(t, csrfRE, body), field(t, nonceRE, body)
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "nonce": {nonce}, "amount": {"500.00"}, "currency": {"EUR"}, "promised_on": {"2026-11-27"}, "channel": {"phone"}, "note": {"pays Friday"}}
	}
	if p := f.do(c, "POST", path+"/promises", form("")); p.status != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", p.status)
	}
	if p := f.do(c, "POST", path+"/promises", form(csrf+"x")); p.status != http.StatusForbidden {
		t.Errorf("a wrong token: %d, want 403", p.status)
	}
	if p := f.do(c, "POST", path+"/promises", form(csrf), "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); p.status != http.StatusForbidden {
		t.Errorf("from another site: %d, want 403", p.status)
	}
	if ps := f.promises(); len(ps) != 0 {
		t.Fatalf("a refused form recorded %d promises", len(ps))
	}

	p := f.do(c, "POST", path+"/promises", form(csrf))
	if p.status != http.StatusSeeOther || p.header.Get("Location") != path+"?done=promise#timeline" {
		t.Fatalf("record a promise: %d to %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	// The same form again (a double click, a reload): still one promise.
	if p := f.do(c, "POST", path+"/promises", form(csrf)); p.status != http.StatusSeeOther {
		t.Fatalf("the same form again: %d", p.status)
	}
	ps := f.promises()
	if len(ps) != 1 || ps[0].Amount != 50000 || ps[0].PromisedOn.String() != "2026-11-27" || ps[0].Channel != "phone" || ps[0].TakenBy != "Dana collector" {
		t.Fatalf("promises %+v, want one of €500.00 for 2026-11-27 by phone, taken by the key's holder", ps)
	}
	// Recorded in the audit trail as the key's doing, through the API route.
	var found bool
	err := f.app.Store.ListAudit(context.Background(), ps[0].ID, "", 10, func(r *audit.Record, _ string) bool {
		found = found || r.Actor == "key:"+k.ID && r.Via == "POST /v1/customers/{id}/promises"
		return true
	})
	if err != nil || !found {
		t.Errorf("no audit record of the promise by key:%s (err %v)", k.ID, err)
	}
	page := f.get(c, path+"?done=promise")
	if !strings.Contains(page.body, "Promise recorded") || !strings.Contains(page.body, "pays Friday") {
		t.Errorf("the customer page does not show the new promise")
	}
}

func TestAViewerSeesButCannotChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Viewer)
	c := f.browser()
	f.signIn(c, token)
	path := "/app/customers/" + f.customer.ID
	body := f.get(c, path).body
	if strings.Contains(body, `id="promise-form"`) {
		t.Errorf("a viewer is offered the promise form")
	}
	csrf := field(t, csrfRE, body) // the sign-out form's
	p := f.do(c, "POST", path+"/promises", url.Values{"csrf": {csrf}, "amount": {"1"}, "currency": {"EUR"}, "promised_on": {"2026-11-27"}})
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "may not") {
		t.Errorf("a viewer's promise: %d, want the API's 403\n%s", p.status, p.body)
	}
	if ps := f.promises(); len(ps) != 0 {
		t.Errorf("a viewer recorded a promise")
	}
	if p := f.do(c, "POST", "/app/templates/en/friendly", url.Values{"csrf": {csrf}, "subject": {"Pay up"}}); p.status != http.StatusForbidden {
		t.Errorf("a viewer's wording: %d, want 403", p.status)
	}
}

func TestABadPromiseNamesWhatIsWrong(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Admin)
	c := f.browser()
	f.signIn(c, token)
	path := "/app/customers/" + f.customer.ID
	csrf := field(t, csrfRE, f.get(c, path).body)
	for _, tc := range []struct {
		amount, currency, on, want string
	}{
		{"12.345", "EUR", "2026-11-27", "amount: EUR has 2 decimals at most"},
		{"ten", "EUR", "2026-11-27", "amount:"},
		{"10", "XYZ", "2026-11-27", "currency:"},
		{"10", "EUR", "", "promised_on"},
		{"10", "EUR", "2026-10-01", "promised_on"},
	} {
		p := f.do(c, "POST", path+"/promises", url.Values{"csrf": {csrf}, "nonce": {tc.amount + tc.on}, "amount": {tc.amount}, "currency": {tc.currency}, "promised_on": {tc.on}})
		if p.status != http.StatusUnprocessableEntity && p.status != http.StatusBadRequest || !strings.Contains(p.body, tc.want) {
			t.Errorf("amount %q %s on %q: %d, want 4xx naming %q\n%s", tc.amount, tc.currency, tc.on, p.status, tc.want, p.body)
		}
		// The form comes back as it was sent.
		if !strings.Contains(p.body, `value="`+tc.amount+`"`) {
			t.Errorf("the form lost the amount %q", tc.amount)
		}
	}
	if ps := f.promises(); len(ps) != 0 {
		t.Errorf("bad promises recorded %d", len(ps))
	}
}

func TestEveryPageInBothLanguages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Admin)
	c := f.browser()
	f.signIn(c, token)
	cid := f.customer.ID
	for _, lang := range []struct{ code, word string }{{"en", "Overview"}, {"zh-CN", "概览"}} {
		if p := f.get(c, "/app/lang/"+lang.code+"?back=/app/customers"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/app/customers" {
			t.Fatalf("switch to %s: %d to %q", lang.code, p.status, p.header.Get("Location"))
		}
		for _, path := range []string{"/app/overview", "/app/customers", "/app/customers/" + cid, "/app/dunning", "/app/alerts", "/app/policies", "/app/policies?lang=zh-CN&tone=final"} {
			p := f.get(c, path)
			if p.status != http.StatusOK || !strings.Contains(p.body, lang.word) || !strings.Contains(p.body, `<html lang="`+lang.code+`"`) {
				t.Errorf("%s in %s: %d, want 200 with %q", path, lang.code, p.status, lang.word)
			}
			if strings.Contains(p.body, "<script>alert") {
				t.Errorf("%s: the customer's name reached the page unescaped", path)
			}
		}
	}
	overview := f.get(c, "/app/overview").body
	for _, want := range []string{"<svg", "€1,500.00", "€1,200.00"} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	for path, ctype := range map[string]string{
		"/app/customers/" + cid + "/case-file.html?lang=zh-CN": "text/html",
		"/app/customers/" + cid + "/case-file.json":            "application/json",
		"/app/customers/" + cid + "/statement.csv":             "text/csv",
		"/app/customers/" + cid + "/statement.html":            "text/html",
		"/app/reports/aging.csv":                               "text/csv",
	} {
		p := f.get(c, path)
		if p.status != http.StatusOK || !strings.HasPrefix(p.header.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %s, want 200 %s\n%s", path, p.status, p.header.Get("Content-Type"), ctype, p.body)
		}
		if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	// Today's dunning frames each planned email, rendered as sent.
	frame := regexp.MustCompile(`src="(/app/dunning/[^"]+)"`).FindStringSubmatch(f.get(c, "/app/dunning").body)
	if frame == nil {
		t.Fatal("today's dunning frames no email")
	}
	if p := f.get(c, frame[1]); p.status != http.StatusOK || !strings.Contains(p.body, "INV-1") || !strings.Contains(p.header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("the framed email %s: %d, CSP %q\n%s", frame[1], p.status, p.header.Get("Content-Security-Policy"), p.body)
	}
	if p := f.get(c, "/app/customers/"+cid+"/keys.json"); p.status != http.StatusNotFound {
		t.Errorf("an unknown download: %d, want 404", p.status)
	}
	if p := f.get(c, "/app/customers/cus_nope"); p.status != http.StatusNotFound {
		t.Errorf("an unknown customer: %d, want 404", p.status)
	}
}

func TestTheWordingPreviewRendersTheDraft(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	token, _ := f.key(auth.Admin)
	c := f.browser()
	f.signIn(c, token)
	q := url.Values{"subject": {"Hello {{.CustomerName}}"}, "intro": {"<b>bold</b> words"}, "closing": {""}}
	p := f.get(c, "/app/templates/en/firm/preview?"+q.Encode())
	if p.status != http.StatusOK || !strings.Contains(p.body, "Hello ") || strings.Contains(p.body, "<b>bold</b>") {
		t.Errorf("preview: %d, want the draft rendered with sample data and markup escaped\n%s", p.status, p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "frame-ancestors 'self'") {
		t.Errorf("preview CSP %q: want a sandbox framed only by the dashboard", csp)
	}
	p = f.get(c, "/app/templates/en/firm/preview?subject="+url.QueryEscape("{{.Nope}}"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "subject") {
		t.Errorf("a broken draft: %d, want 422 naming subject\n%s", p.status, p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self'") {
		t.Errorf("a broken draft's answer cannot be shown in the editor's frame: CSP %q", csp)
	}
	// A draft that would cost without bound is refused before it runs.
	nested := strings.Repeat("{{range $.Lines}}", 30) + "x" + strings.Repeat("{{end}}", 30)
	if p := f.get(c, "/app/templates/en/firm/preview?intro="+url.QueryEscape(nested)); p.status != http.StatusUnprocessableEntity {
		t.Errorf("nested loops: %d, want 422", p.status)
	}

	csrf := field(t, csrfRE, f.get(c, "/app/policies?lang=en&tone=firm").body)
	p = f.do(c, "POST", "/app/templates/en/firm", url.Values{"csrf": {csrf}, "subject": {"{{"}, "intro": {""}, "closing": {""}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "subject") || !strings.Contains(p.body, `value="{{"`) {
		t.Errorf("saving a broken subject: %d, want 422 naming subject with the draft kept\n%s", p.status, p.body)
	}
	p = f.do(c, "POST", "/app/templates/en/firm", url.Values{"csrf": {csrf}, "subject": {"Overdue: {{.CustomerName}}"}, "intro": {""}, "closing": {""}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	ov, err := f.app.Store.GetOverrides(context.Background(), "en")
	if err != nil || ov["firm"].Subject != "Overdue: {{.CustomerName}}" {
		t.Errorf("saved wording %+v (%v)", ov, err)
	}
	if body := f.get(c, "/app/policies?lang=en&tone=firm").body; !strings.Contains(body, "The firm&#39;s own wording") && !strings.Contains(body, "The firm's own wording") {
		t.Errorf("the editor does not show the firm's wording as its own")
	}
}

func TestAlertsCanBeAcknowledgedAndResolved(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	token, _ := f.key(auth.Collector)
	c := f.browser()
	f.signIn(c, token)
	// A promise broken makes an alert: promise, let the day pass, check it.
	amount := int64(1000)
	pr, err := f.app.Billing.MakePromise(ctx, f.customer.ID, billing.PromiseInput{Amount: &amount, PromisedOn: "2026-11-21"})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * 24 * time.Hour)
	if _, err := f.app.Billing.CheckPromise(ctx, f.customer.ID, pr.ID, civil.Today(f.clock.Now(), time.UTC)); err != nil {
		t.Fatal(err)
	}
	alerts, err := f.app.Billing.ListAlerts(ctx, billing.AlertOpen, "")
	if err != nil || len(alerts) != 1 {
		t.Fatalf("alerts %v (%v), want the broken promise's", alerts, err)
	}
	c = f.browser()
	f.signIn(c, token)
	body := f.get(c, "/app/alerts").body
	if !strings.Contains(body, "Promise broken") {
		t.Fatalf("the alerts page does not show the alert:\n%s", body)
	}
	csrf := field(t, csrfRE, body)
	if p := f.do(c, "POST", "/app/alerts/"+alerts[0].ID+"/acknowledge", url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("acknowledge: %d\n%s", p.status, p.body)
	}
	if got, _ := f.app.Billing.ListAlerts(ctx, billing.AlertAcknowledged, ""); len(got) != 1 {
		t.Errorf("acknowledged alerts: %d, want 1", len(got))
	}
	if p := f.do(c, "POST", "/app/alerts/"+alerts[0].ID+"/delete", url.Values{"csrf": {csrf}}); p.status != http.StatusNotFound {
		t.Errorf("an unknown action: %d, want 404", p.status)
	}
}
