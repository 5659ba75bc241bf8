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
	"time"

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
	RaiseDailyAlert(ctx context.Context, kind, ref, message string) error
}

// Handler serves POST /v1/webhooks/stripe and POST /v1/webhooks/generic.
type Handler struct {
	books   Books
	stripe  Secrets
	generic Secrets
	log     *slog.Logger
	mux     *http.ServeMux
	observe func(context.Context, Delivery)
}

// Delivery is what became of one webhook delivery: the facts a metric
// counts. EventType is one of the types Dunlin acts on, EventOther for
// any other, or EventUnread when the event was never read (a bad
// signature, an unreadable body), so a sender cannot mint new values.
type Delivery struct {
	At        time.Time
	Provider  string // "stripe", "generic", or "other" for an unknown route
	EventType string
	Outcome   string // one of the Outcome... constants
}

// What a delivery's event type is recorded as when it is not one Dunlin
// acts on, or was not read.
const (
	EventOther  = "other"
	EventUnread = "unknown"
)

// Every outcome a delivery can have. The first four are the "outcome" of
// a 200 answer; the others are the errors the provider sees.
const (
	OutcomeApplied           = string(billing.OutcomeApplied)   // 200: the books changed
	OutcomeNoChange          = string(billing.OutcomeNoChange)  // 200: facts already known
	OutcomeDuplicate         = string(billing.OutcomeDuplicate) // 200: this event id was processed before
	OutcomeIgnored           = "ignored"                        // 200: an event Dunlin does not act on
	OutcomeRejectedSignature = "rejected_signature"             // 400: not signed with a current secret
	OutcomeUnreadable        = "unreadable"                     // 400, 413: the body could not be read
	OutcomeInvalid           = "invalid"                        // 422: signed, but the event cannot be used
	OutcomeBusy              = "busy"                           // 503: contention or a timeout; the provider retries
	OutcomeFailed            = "failed"                         // 500: an internal error (secrets unreadable, a bug)
	OutcomeNotFound          = "not_found"                      // 404: no such webhook route
)

// Outcomes lists every outcome, for whatever must know them all (the
// template's alarms are checked against them).
func Outcomes() []string {
	return []string{OutcomeApplied, OutcomeNoChange, OutcomeDuplicate, OutcomeIgnored, OutcomeRejectedSignature,
		OutcomeUnreadable, OutcomeInvalid, OutcomeBusy, OutcomeFailed, OutcomeNotFound}
}

// knownTypes are the event types each provider's adapter acts on; any
// other is recorded as EventOther.
var knownTypes = map[string]map[string]bool{
	"stripe": {"payment_intent.succeeded": true, "invoice.paid": true, "invoice_payment.paid": true, "charge.refunded": true,
		"charge.dispute.created": true, "charge.dispute.closed": true, "charge.dispute.updated": true},
	"generic": {GenericSucceeded: true, GenericRefunded: true},
}

// eventType bounds a provider's event type to the known ones.
func eventType(provider, typ string) string {
	if knownTypes[provider][typ] {
		return typ
	}
	return EventOther
}

// OnDelivery has f called once for every delivery the handler answers,
// after it answered (a metrics writer, in the Lambda function). Set it
// before serving.
func (h *Handler) OnDelivery(f func(context.Context, Delivery)) *Handler {
	h.observe = f
	return h
}

func (h *Handler) record(r *http.Request, provider, typ, outcome string) {
	if h.observe != nil {
		h.observe(r.Context(), Delivery{At: time.Now(), Provider: provider, EventType: typ, Outcome: outcome})
	}
}

// New returns the webhooks handler.
func New(books Books, stripeSecrets, genericSecrets Secrets, log *slog.Logger) *Handler {
	h := &Handler{books: books, stripe: stripeSecrets, generic: genericSecrets, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/webhooks/stripe", h.serveStripe)
	h.mux.HandleFunc("POST /v1/webhooks/generic", h.serveGeneric)
	h.mux.HandleFunc("/v1/webhooks/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusNotFound, map[string]string{"error": "no such webhook: " + r.Method + " " + r.URL.Path})
		h.record(r, "other", EventUnread, OutcomeNotFound)
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
	const provider = "stripe"
	body, ok := h.readBody(w, r, provider)
	if !ok {
		return
	}
	secrets, err := h.stripe.Secrets(r.Context())
	if err != nil {
		h.fail(w, r, provider, EventUnread, err)
		return
	}
	ev, err := verifyStripe(body, r.Header.Get("Stripe-Signature"), secrets)
	if err != nil {
		h.log.WarnContext(r.Context(), "webhook signature rejected", "provider", provider, "reason", err.Error())
		reply(w, http.StatusBadRequest, result{Error: "signature verification failed"})
		h.record(r, provider, EventUnread, OutcomeRejectedSignature)
		return
	}
	typ := eventType(provider, string(ev.Type))
	pe, known, err := fromStripe(ev)
	var version *apiVersionError
	switch {
	case errors.As(err, &version):
		// Refused, so Stripe keeps retrying while the firm moves the
		// endpoint to a version Dunlin reads; the firm hears of it once a day.
		h.log.WarnContext(r.Context(), "webhook API version refused", "provider", provider, "event_id", ev.ID, "type", string(ev.Type), "reason", err.Error())
		if aerr := h.books.RaiseDailyAlert(r.Context(), billing.AlertProviderVersion, "stripe:"+version.Version,
			err.Error()+"; events of this version are refused until the webhook endpoint is moved to API version "+OldestStripeVersion+" or newer"); aerr != nil {
			h.fail(w, r, provider, typ, aerr)
			return
		}
		reply(w, http.StatusUnprocessableEntity, result{Error: err.Error() + " (field api_version)"})
		h.record(r, provider, typ, OutcomeInvalid)
		return
	case err != nil:
		h.log.WarnContext(r.Context(), "webhook payload rejected", "provider", provider, "event_id", ev.ID, "type", string(ev.Type), "reason", err.Error())
		msg := "the event could not be read"
		if e, ok := apperr.As(err); ok && e.Field != "" {
			msg = e.Message + " (field " + e.Field + ")"
		}
		reply(w, http.StatusUnprocessableEntity, result{Error: msg})
		h.record(r, provider, typ, OutcomeInvalid)
		return
	}
	if !known {
		// Acknowledged so Stripe does not retry an event Dunlin ignores.
		reply(w, http.StatusOK, result{Received: true, Outcome: OutcomeIgnored})
		h.record(r, provider, typ, OutcomeIgnored)
		return
	}
	h.apply(w, r, pe, typ)
}

func (h *Handler) serveGeneric(w http.ResponseWriter, r *http.Request) {
	const provider = "generic"
	body, ok := h.readBody(w, r, provider)
	if !ok {
		return
	}
	secrets, err := h.generic.Secrets(r.Context())
	if err != nil {
		h.fail(w, r, provider, EventUnread, err)
		return
	}
	if err := verifyGeneric(body, r.Header.Get(GenericSignatureHeader), secrets); err != nil {
		h.log.WarnContext(r.Context(), "webhook signature rejected", "provider", provider, "reason", err.Error())
		reply(w, http.StatusBadRequest, result{Error: "signature verification failed"})
		h.record(r, provider, EventUnread, OutcomeRejectedSignature)
		return
	}
	pe, known, err := fromGeneric(body)
	if err != nil {
		e, _ := apperr.As(err)
		reply(w, http.StatusUnprocessableEntity, result{Error: e.Message + " (field " + e.Field + ")"})
		h.record(r, provider, genericType(body), OutcomeInvalid)
		return
	}
	if !known {
		reply(w, http.StatusOK, result{Received: true, Outcome: OutcomeIgnored})
		h.record(r, provider, EventOther, OutcomeIgnored)
		return
	}
	h.apply(w, r, pe, eventType(provider, pe.Type))
}

// genericType is the type of a generic event that failed its checks, when
// its JSON can still be read that far.
func genericType(body []byte) string {
	var ev struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return EventUnread
	}
	return eventType("generic", ev.Type)
}

func (h *Handler) apply(w http.ResponseWriter, r *http.Request, pe *billing.ProviderEvent, typ string) {
	ctx := audit.Begin(r.Context(), "webhook:"+pe.Provider, r.Method+" "+r.URL.Path, pe.EventID)
	outcome, err := h.books.ApplyProviderEvent(ctx, pe)
	if err != nil {
		h.fail(w, r, pe.Provider, typ, err)
		return
	}
	h.log.InfoContext(r.Context(), "webhook processed", "provider", pe.Provider, "event_id", pe.EventID, "type", pe.Type,
		"payment_ref", pe.PaymentRef, "outcome", string(outcome))
	reply(w, http.StatusOK, result{Received: true, Outcome: string(outcome)})
	h.record(r, pe.Provider, typ, string(outcome))
}

// fail answers an error so that the provider retries when a retry can
// help (5xx), and not when it cannot (4xx).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, provider, typ string, err error) {
	switch apperr.CodeOf(err) {
	case apperr.Invalid, apperr.BadRequest:
		e, _ := apperr.As(err)
		msg := e.Message
		if e.Field != "" {
			msg += " (field " + e.Field + ")"
		}
		reply(w, http.StatusUnprocessableEntity, result{Error: msg})
		h.record(r, provider, typ, OutcomeInvalid)
	case apperr.Unavailable, apperr.Conflict:
		w.Header().Set("Retry-After", "5")
		reply(w, http.StatusServiceUnavailable, result{Error: "busy; retry later"})
		h.record(r, provider, typ, OutcomeBusy)
	default:
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			w.Header().Set("Retry-After", "5")
			reply(w, http.StatusServiceUnavailable, result{Error: "timed out; retry later"})
			h.record(r, provider, typ, OutcomeBusy)
			return
		}
		h.log.ErrorContext(r.Context(), "webhook failed", "provider", provider, "error", err.Error())
		reply(w, http.StatusInternalServerError, result{Error: "internal error"})
		h.record(r, provider, typ, OutcomeFailed)
	}
}

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, provider string) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reply(w, http.StatusRequestEntityTooLarge, result{Error: "body too large"})
		h.record(r, provider, EventUnread, OutcomeUnreadable)
		return nil, false
	case err != nil:
		reply(w, http.StatusBadRequest, result{Error: "could not read the body"})
		h.record(r, provider, EventUnread, OutcomeUnreadable)
		return nil, false
	}
	return body, true
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
