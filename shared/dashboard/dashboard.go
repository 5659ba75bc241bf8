// Package dashboard is the firm's web dashboard, served by the API function
// under /app/: server-rendered pages (html/template), charts drawn as SVG
// on the server, one small script, nothing loaded from elsewhere.
//
// Signing in takes an API key and gives a session cookie (HttpOnly, Secure,
// SameSite=Strict, signed, ending after SessionTTL) that stands for that
// key: every page checks the key is still live, and the key's role decides
// what the pages offer. Pages read through the billing service; every
// change goes through the API's own route in this process (api.Server's
// ServeAs), so the dashboard validates, authorises and audits exactly as
// the API does.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/dunning"
	"dunlin/shared/emails"
	"dunlin/shared/sweep"
)

// Prefix is where the dashboard is served, and Home its first page. Every
// page has a path below the prefix: API Gateway's /app/{proxy+} route
// needs at least one segment after it.
const (
	Prefix = "/app/"
	Home   = "/app/overview"
)

const (
	sessionCookie = "dunlin_session"
	langCookie    = "dunlin_lang"
)

// Policies reads dunning policies, the firm's email wording and contact logs.
type Policies interface {
	ListPolicies(ctx context.Context) ([]*dunning.Policy, error)
	GetOverrides(ctx context.Context, lang string) (emails.Overrides, error)
	ListContacts(ctx context.Context, customerID string, limit int) ([]billing.Contact, error)
}

// API serves a request as a key the dashboard has already checked.
type API interface {
	ServeAs(key *auth.Key, w http.ResponseWriter, r *http.Request)
}

// Secrets gives the signing secrets, newest first: sessions are signed with
// the first and accepted under any, so a secret can be rotated.
type Secrets interface {
	Secrets(ctx context.Context) ([]string, error)
}

// Deps are what the dashboard reads from and writes through.
type Deps struct {
	Billing  *billing.Service
	Keys     *auth.Service
	Policies Policies
	Sweeper  *sweep.Sweeper
	API      API
	Secrets  Secrets
	Log      *slog.Logger
	Now      func() time.Time
	FirmName string
}

// Dashboard is the /app/ handler.
type Dashboard struct {
	Deps
	mux   *http.ServeMux
	cross *http.CrossOriginProtection
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the dashboard.
func New(d Deps) *Dashboard {
	db := &Dashboard{Deps: d, mux: http.NewServeMux(), cross: http.NewCrossOriginProtection()}
	static, _ := fs.Sub(staticFS, "static")
	db.mux.Handle("GET /app/static/", http.StripPrefix("/app/static/", staticFiles(http.FileServerFS(static))))
	db.mux.HandleFunc("GET /app/login", db.loginPage)
	db.mux.HandleFunc("POST /app/login", db.login)
	db.mux.HandleFunc("GET /app/lang/{lang}", db.setLanguage)
	db.mux.HandleFunc("POST /app/logout", db.logout)
	db.mux.Handle("GET /app/overview", db.signed(db.overview))
	db.mux.Handle("GET /app/{$}", http.RedirectHandler(Home, http.StatusSeeOther))
	db.mux.Handle("GET /app/customers", db.signed(db.customers))
	db.mux.Handle("GET /app/customers/{id}", db.signed(db.customer))
	db.mux.Handle("POST /app/customers/{id}/promises", db.signed(db.recordPromise))
	db.mux.Handle("GET /app/customers/{id}/{file}", db.signed(db.customerFile))
	db.mux.Handle("GET /app/reports/{file}", db.signed(db.reportFile))
	db.mux.Handle("GET /app/dunning", db.signed(db.todaysDunning))
	db.mux.Handle("GET /app/dunning/{customer}/{kind}", db.signed(db.plannedEmail))
	db.mux.Handle("GET /app/alerts", db.signed(db.alerts))
	db.mux.Handle("POST /app/alerts/{id}/{action}", db.signed(db.alertAction))
	db.mux.Handle("GET /app/policies", db.signed(db.policies))
	db.mux.Handle("GET /app/templates/{lang}/{tone}/preview", db.signed(db.templatePreview))
	db.mux.Handle("POST /app/templates/{lang}/{tone}", db.signed(db.saveTemplate))
	db.mux.HandleFunc("/app/", func(w http.ResponseWriter, r *http.Request) {
		db.errorPage(w, r, nil, http.StatusNotFound, "")
	})
	return db
}

// ServeHTTP serves /app/: every page gets the security headers, every
// unsafe method the cross-origin check.
func (db *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if err := db.cross.Check(r); err != nil {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	db.mux.ServeHTTP(w, r)
}

// staticFiles may be cached: the files are embedded in the binary.
func staticFiles(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// session is a signed-in request.
type session struct {
	Key    *auth.Key
	Cookie string
	CSRF   string
	Lang   string
}

// can reports whether the session's role is among roles.
func (s *session) can(roles ...auth.Role) bool {
	for _, r := range roles {
		if s.Key.Role == r {
			return true
		}
	}
	return false
}

type sessionHandler func(w http.ResponseWriter, r *http.Request, s *session)

// signed lets a request through with a live session, else sends it to
// sign in; an unsafe method must also carry the session's CSRF token.
func (db *Dashboard) signed(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secrets, err := db.Secrets.Secrets(r.Context())
		if err != nil || len(secrets) == 0 {
			db.unavailable(w, r, nil, err)
			return
		}
		s := &session{Lang: language(r)}
		c, err := r.Cookie(sessionCookie)
		var keyID string
		if err == nil {
			keyID, err = checkSession(secrets, c.Value, db.Now())
		}
		if err == nil {
			s.Key, err = db.Keys.Live(r.Context(), keyID)
		}
		if err != nil {
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Unauthorized {
				if !errors.Is(err, http.ErrNoCookie) && !errors.Is(err, errSession) {
					db.unavailable(w, r, nil, err)
					return
				}
			}
			if r.Method != http.MethodGet {
				db.errorPage(w, r, s, http.StatusUnauthorized, "signed_out")
				return
			}
			http.Redirect(w, r, "/app/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		s.Cookie = c.Value
		s.CSRF = csrfToken(secrets[0], c.Value)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				db.errorPage(w, r, s, http.StatusBadRequest, "bad_form")
				return
			}
			if !csrfValid(secrets, c.Value, r.PostForm.Get("csrf")) {
				db.errorPage(w, r, s, http.StatusForbidden, "csrf")
				return
			}
		}
		h(w, r, s)
	})
}

func (db *Dashboard) unavailable(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if err == nil {
		err = errors.New("no session secret configured")
	}
	db.Log.ErrorContext(r.Context(), "dashboard", "error", err.Error(), "path", r.URL.Path)
	w.Header().Set("Retry-After", "1")
	db.errorPage(w, r, s, http.StatusServiceUnavailable, "unavailable")
}

// fail answers a page whose read failed: a 404 for what does not exist, a
// 503 for anything else (logged).
func (db *Dashboard) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	if e, ok := apperr.As(err); ok {
		switch e.Code {
		case apperr.NotFound:
			db.errorPage(w, r, s, http.StatusNotFound, "")
			return
		case apperr.BadRequest, apperr.Invalid:
			db.render(w, r, s, http.StatusBadRequest, "error", view{Title: http.StatusText(http.StatusBadRequest), Error: e.Message, Status: http.StatusBadRequest})
			return
		}
	}
	db.unavailable(w, r, s, err)
}

// language is the reader's choice (a cookie), else the browser's.
func language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && words[c.Value] != nil {
		return c.Value
	}
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Accept-Language")), "zh") {
		return "zh-CN"
	}
	return "en"
}

// localPath keeps a return address inside the dashboard, so a crafted link
// cannot send a signed-in reader elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, Prefix) || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return Home
	}
	return p
}

// setCookie sets a dashboard cookie for ttl; Max-Age, which browsers
// prefer to Expires, keeps a client's wrong clock from shortening or
// lengthening it. A ttl of zero or less deletes the cookie.
func (db *Dashboard) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: Prefix, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode}
	if ttl > 0 {
		c.Expires, c.MaxAge = db.Now().Add(ttl), int(ttl.Seconds())
	} else {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func (db *Dashboard) setLanguage(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if words[lang] == nil {
		lang = "en"
	}
	db.setCookie(w, langCookie, lang, 365*24*time.Hour)
	http.Redirect(w, r, localPath(r.URL.Query().Get("back")), http.StatusSeeOther)
}

// templates are the pages, each on the layout. They are parsed on first
// use, not at package init: every function links this package (the sweep
// and webhook functions too), and parsing them costs a cold start about a
// millisecond and 8,000 allocations that only the API's pages need.
var templates = sync.OnceValue(func() map[string]*template.Template {
	out := map[string]*template.Template{}
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html"))
	pages, _ := fs.Glob(templateFS, "templates/*.html")
	for _, p := range pages {
		name := strings.TrimSuffix(strings.TrimPrefix(p, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, p))
	}
	return out
})

var funcs = template.FuncMap{
	// t looks a word up in the page's language, falling back to English.
	"t": func(l map[string]string, key string) string {
		if v, ok := l[key]; ok {
			return v
		}
		if v, ok := words["en"][key]; ok {
			return v
		}
		if _, rest, ok := strings.Cut(key, "_"); ok {
			key = rest
		}
		return strings.ReplaceAll(key, "_", " ")
	},
	"list": func(xs ...string) []string { return xs },
}

// view is what every page template gets.
type view struct {
	Page     string
	Title    string
	Firm     string
	L        map[string]string
	Lang     string
	Path     string
	S        *session
	Data     any
	Message  string // a word key: what just happened
	Error    string // what went wrong, in the API's words
	Status   int
	CanWrite map[string]bool
	Zone     string // the firm's time zone, in which times are shown
}

func (db *Dashboard) render(w http.ResponseWriter, r *http.Request, s *session, status int, page string, v view) {
	lang := "en"
	if s != nil {
		lang = s.Lang
	} else {
		lang = language(r)
	}
	v.Page, v.Firm, v.L, v.Lang, v.Path, v.S = page, db.FirmName, words[lang], lang, r.URL.RequestURI(), s
	v.Zone = billing.Location(db.Billing.Firm().Timezone).String()
	if v.Title == "" {
		v.Title = words[lang]["nav_"+page]
	}
	if s != nil && s.Key != nil {
		v.CanWrite = map[string]bool{
			"dunning":   s.can(auth.Admin, auth.Collector),
			"templates": s.can(auth.Admin),
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := templates()[page].ExecuteTemplate(w, "layout.html", v); err != nil {
		db.Log.ErrorContext(r.Context(), "dashboard template", "page", page, "error", err.Error())
	}
}

// errorPage explains a failure in the reader's language; msg is a word key
// ("" for the status's own words).
func (db *Dashboard) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	if msg == "" {
		msg = "status_" + http.StatusText(status)
	}
	db.render(w, r, s, status, "error", view{Title: http.StatusText(status), Message: msg, Status: status})
}
