// Package webhooks receives payment providers' webhooks: Stripe's, and a
// generic signed one for providers and bank feeds without an adapter of
// their own. The signature is the authentication: a delivery is verified
// on its raw body before anything is parsed, and only a verified one can
// change the books. The books themselves are changed by
// billing.Service.ApplyProviderEvent, exactly once per payment fact.
package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/billing"
)

// maxBody caps a delivery; Stripe's events are far smaller.
const maxBody = 512 << 10

// Secrets gives the signing secrets accepted now: more than one while a
// secret is being rotated.
type Secrets interface {
	Secrets(ctx context.Context) ([]string, error)
}

// Books is what the webhooks change.
type Books interface {
	ApplyProviderEvent(ctx context.Context, ev *billing.ProviderEvent) (billing.Outcome, error)
}

// Handler serves POST /v1/webhooks/stripe and POST /v1/webhooks/generic.
type Handler struct {
	books   Books
	stripe  Secrets
	generic Secrets
	log     *slog.Logger
	mux     *http.ServeMux
}

// New returns the webhooks handler.
func New(books Books, stripeSecrets, genericSecrets Secrets, log *slog.Logger) *Handler {
	h := &Handler{books: books, stripe: stripeSecrets, generic: genericSecrets, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/webhooks/stripe", h.serveStripe)
	h.mux.HandleFunc("POST /v1/webhooks/generic", h.serveGeneric)
	h.mux.HandleFunc("/v1/webhooks/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such webhook: " + r.Method + " " + r.URL.Path})
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// result is the body of every answer; providers only look at the status.
type result struct {
	Received bool   `json:"received"`
	Outcome  string `json:"outcome,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (h *Handler) serveStripe(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	secrets, err := h.stripe.Secrets(r.Context())
	if err != nil {
		h.fail(w, r, "stripe", err)
		return
	}
	ev, err := verifyStripe(body, r.Header.Get("Stripe-Signature"), secrets)
	if err != nil {
		h.log.WarnContext(r.Context(), "webhook signature rejected", "provider", "stripe", "reason", err.Error())
		reply(w, http.StatusBadRequest, result{Error: "signature verification failed"})
		return
	}
	pe, known, err := fromStripe(ev)
	if err != nil {
		h.log.WarnContext(r.Context(), "webhook payload rejected", "provider", "stripe", "event_id", ev.ID, "type", string(ev.Type), "reason", err.Error())
		reply(w, http.StatusUnprocessableEntity, result{Error: "the event could not be read"})
		return
	}
	if !known {
		// Acknowledged so Stripe does not retry an event Dunlin ignores.
		reply(w, http.StatusOK, result{Received: true, Outcome: "ignored"})
		return
	}
	h.apply(w, r, pe)
}

func (h *Handler) serveGeneric(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	secrets, err := h.generic.Secrets(r.Context())
	if err != nil {
		h.fail(w, r, "generic", err)
		return
	}
	if err := verifyGeneric(body, r.Header.Get(GenericSignatureHeader), secrets); err != nil {
		h.log.WarnContext(r.Context(), "webhook signature rejected", "provider", "generic", "reason", err.Error())
		reply(w, http.StatusBadRequest, result{Error: "signature verification failed"})
		return
	}
	pe, known, err := fromGeneric(body)
	if err != nil {
		e, _ := apperr.As(err)
		reply(w, http.StatusUnprocessableEntity, result{Error: e.Message + " (field " + e.Field + ")"})
		return
	}
	if !known {
		reply(w, http.StatusOK, result{Received: true, Outcome: "ignored"})
		return
	}
	h.apply(w, r, pe)
}

func (h *Handler) apply(w http.ResponseWriter, r *http.Request, pe *billing.ProviderEvent) {
	ctx := audit.Begin(r.Context(), "webhook:"+pe.Provider, r.Method+" "+r.URL.Path, pe.EventID)
	outcome, err := h.books.ApplyProviderEvent(ctx, pe)
	if err != nil {
		h.fail(w, r, pe.Provider, err)
		return
	}
	h.log.InfoContext(r.Context(), "webhook processed", "provider", pe.Provider, "event_id", pe.EventID, "type", pe.Type,
		"payment_ref", pe.PaymentRef, "outcome", string(outcome))
	reply(w, http.StatusOK, result{Received: true, Outcome: string(outcome)})
}

// fail answers an error so that the provider retries when a retry can
// help (5xx), and not when it cannot (4xx).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, provider string, err error) {
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.BadRequest:
		e, _ := apperr.As(err)
		reply(w, http.StatusUnprocessableEntity, result{Error: e.Message})
	case apperr.Unavailable, apperr.Conflict:
		w.Header().Set("Retry-After", "5")
		reply(w, http.StatusServiceUnavailable, result{Error: "busy; retry later"})
	default:
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			w.Header().Set("Retry-After", "5")
			reply(w, http.StatusServiceUnavailable, result{Error: "timed out; retry later"})
			return
		}
		h.log.ErrorContext(r.Context(), "webhook failed", "provider", provider, "error", err.Error())
		reply(w, http.StatusInternalServerError, result{Error: "internal error"})
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reply(w, http.StatusRequestEntityTooLarge, result{Error: "body too large"})
		return nil, false
	case err != nil:
		reply(w, http.StatusBadRequest, result{Error: "could not read the body"})
		return nil, false
	}
	return body, true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
