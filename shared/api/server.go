// Package api is Dunlin's HTTP API: a standard net/http handler that serves
// both API Gateway (through the Lambda adapter in functions/api) and the
// local stack (`dunlin dev`).
//
// A handler decodes and validates its input, makes one service call, and
// encodes the result or the error. Every route is declared once in the
// route table (routes.go) with the roles allowed to call it; authentication,
// role checks, body limits and Idempotency-Key handling wrap every route
// the same way.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"dunlin/shared/audit"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/dunning"
	"dunlin/shared/emails"
	"dunlin/shared/idempotency"
	"dunlin/shared/links"
	"dunlin/shared/outbound"
	"dunlin/shared/sweep"
)

// Policies stores dunning policies, and reads contact logs and the audit trail.
type Policies interface {
	ListAudit(ctx context.Context, entity, cursor string, pageSize int, fn func(r *audit.Record, next string) bool) error
	GetPolicy(ctx context.Context, name string) (*dunning.Policy, error)
	PutPolicy(ctx context.Context, p *dunning.Policy, now time.Time) error
	ListPolicies(ctx context.Context) ([]*dunning.Policy, error)
	ListContacts(ctx context.Context, customerID string, limit int) ([]billing.Contact, error)
	GetOverrides(ctx context.Context, lang string) (emails.Overrides, error)
	PutOverride(ctx context.Context, lang string, tone dunning.Tone, p emails.Phrases, now time.Time) error
	DeleteOverride(ctx context.Context, lang string, tone dunning.Tone) error
}

// Deps are what the API calls.
type Deps struct {
	Billing     *billing.Service
	Keys        *auth.Service
	Idempotency idempotency.Store
	Policies    Policies
	Sweeper     *sweep.Sweeper
	Log         *slog.Logger
	Now         func() time.Time
	FirmName    string // on printable pages
	// Links checks the signed links of customers' statement pages (/s/);
	// nil serves no such page.
	Links *links.Signer
	// Endpoints registers the firm's outbound-event endpoints.
	Endpoints *outbound.Service
}

// Server holds the services the API calls.
type Server struct {
	billing   *billing.Service
	keys      *auth.Service
	idem      idempotency.Store
	policies  Policies
	sweeper   *sweep.Sweeper
	log       *slog.Logger
	now       func() time.Time
	mux       *http.ServeMux
	firmName  string
	links     *links.Signer
	endpoints *outbound.Service
}

// New returns the API server.
func New(d Deps) *Server {
	s := &Server{billing: d.Billing, keys: d.Keys, idem: d.Idempotency, policies: d.Policies, sweeper: d.Sweeper, log: d.Log, now: d.Now, mux: http.NewServeMux(), firmName: d.FirmName, links: d.Links, endpoints: d.Endpoints}
	s.registerCustomerPage()
	patterns := map[string]bool{}
	served := map[string]bool{}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
		patterns[rt.Pattern] = true
		served[rt.Method+" "+rt.Pattern] = true
	}
	for r := range bodyless {
		if !served[r] {
			// A stale entry would silently stop guarding a renamed route.
			panic("api: bodyless route " + r + " is not in the route table")
		}
	}
	// The same path with another method is a 405; any other path a 404.
	// Both answer in the API's JSON error shape.
	for p := range patterns {
		s.mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", s.allowed(p))
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{errorDetail{Code: "method_not_allowed", Message: r.Method + " is not supported on " + p, RequestID: requestID(r.Context())}})
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{errorDetail{Code: "not_found", Message: "no such route: " + r.URL.Path, RequestID: requestID(r.Context())}})
	})
	return s
}

func (s *Server) allowed(pattern string) string {
	out := ""
	for _, rt := range s.routes() {
		if rt.Pattern == pattern {
			if out != "" {
				out += ", "
			}
			out += rt.Method
		}
	}
	return out
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				s.log.ErrorContext(r.Context(), "panic", "panic", v, "path", r.URL.Path, "request_id", requestID(r.Context()))
				writeJSON(w, http.StatusInternalServerError, errorBody{errorDetail{Code: "internal", Message: "internal error", RequestID: requestID(r.Context())}})
			}
		}()
		s.mux.ServeHTTP(w, r)
	})).ServeHTTP(w, r)
}

// Mount serves h under a path prefix ending in "/" (the dashboard's
// /app/), inside the API's request ids and panic recovery; the prefix
// without its slash is sent to home.
func (s *Server) Mount(prefix, home string, h http.Handler) {
	s.mux.Handle(prefix, h)
	s.mux.Handle(strings.TrimSuffix(prefix, "/"), http.RedirectHandler(home, http.StatusSeeOther))
}

// ServeAs serves r as a request made with key, which the caller has
// already checked: the dashboard's session stands for a key, and its
// actions and downloads go through the same routes, role checks, validation
// and audit trail as the API's. Only code in this process can set it; no
// header or cookie reaches it.
func (s *Server) ServeAs(key *auth.Key, w http.ResponseWriter, r *http.Request) {
	s.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), signedInKey, key)))
}

// Sweeper returns the sweeper the API previews with, for tests and tools.
func (s *Server) Sweeper() *sweep.Sweeper { return s.sweeper }
