package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/audit"
	"dunlin/shared/auth"
	"dunlin/shared/idempotency"
)

func principal(ctx context.Context) *auth.Key {
	k, _ := ctx.Value(principalKey).(*auth.Key)
	return k
}

// wrap applies, in order: authentication, the role check, the body limit,
// Idempotency-Key handling (POST), then the route's handler.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !slices.Contains(rt.Roles, key.Role) {
			s.writeError(w, r, apperr.New(apperr.Forbidden, "a key with role %s may not %s %s", key.Role, rt.Method, rt.Pattern))
			return
		}
		ctx := context.WithValue(r.Context(), principalKey, key)
		r = r.WithContext(audit.Begin(ctx, "key:"+key.ID, rt.Method+" "+rt.Pattern, requestID(ctx)))
		var body []byte
		if r.Method == http.MethodPost || r.Method == http.MethodPatch || r.Method == http.MethodPut || r.Method == http.MethodDelete {
			if body, err = readBody(r, FileLimit(rt)); err != nil {
				s.writeError(w, r, err)
				return
			}
			if b := bytes.TrimSpace(body); bodyless[rt.Method+" "+rt.Pattern] && len(b) > 0 && !bytes.Equal(b, []byte("{}")) {
				s.writeError(w, r, apperr.Field(apperr.BadRequest, "body", "%s %s takes no body", rt.Method, rt.Pattern))
				return
			}
		}
		if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
			s.idempotent(w, r, rt, body)
			return
		}
		_ = s.serve(w, r, rt, body)
	})
}

func (s *Server) authenticate(r *http.Request) (*auth.Key, error) {
	if k, ok := r.Context().Value(signedInKey).(*auth.Key); ok && k != nil {
		return k, nil
	}
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, apperr.New(apperr.Unauthorized, "a valid API key is required: Authorization: Bearer <key>")
	}
	return s.keys.Authenticate(r.Context(), strings.TrimSpace(token))
}

// serve runs the handler, writes its result, and returns the handler's
// error (already written) so callers can tell what happened.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt Route, body []byte) error {
	status, v, err := rt.handle(r, body)
	if err != nil {
		s.writeError(w, r, err)
		return err
	}
	if status == http.StatusCreated {
		if loc, ok := v.(interface{ location() string }); ok {
			w.Header().Set("Location", loc.location())
		}
	}
	if d, ok := v.(download); ok {
		w.Header().Set("Content-Type", d.contentType)
		if d.filename != "" {
			w.Header().Set("Content-Disposition", `attachment; filename="`+d.filename+`"`)
		}
		w.WriteHeader(status)
		_, _ = w.Write(d.body)
		return nil
	}
	if raw, ok := v.(rawJSON); ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(raw)
		return nil
	}
	writeJSON(w, status, v)
	return nil
}

// rawJSON is a response that is already encoded.
type rawJSON []byte

// pendingLease is how long a claimed Idempotency-Key counts as "in
// progress". A claim older than that belongs to a request that crashed or
// timed out; its outcome is unknown, and it is reported, never redone.
const pendingLease = time.Minute

// idempotent serves a POST carrying an Idempotency-Key: the first request
// with a key runs and its response is kept for a day; a retry with the same
// key and the same request gets that response again, marked with
// Idempotent-Replayed: true; the same key with a different request is a 422.
// Keys are scoped to the API key, so two clients cannot collide.
//
// A claim is released, so the retry runs afresh, only when the request
// certainly wrote nothing: DynamoDB throttled it (503) or it lost an
// optimistic-locking race (409 without a field). A write DynamoDB never
// answered (503, in doubt) leaves the claim pending: within the lease a
// retry hears "in progress", after it "outcome unknown". Any other server
// error may have come after the write committed, so its response is kept
// like any other: a retry must not write a second time.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, rt Route, body []byte) {
	k := r.Header.Get("Idempotency-Key")
	if len(k) > 255 {
		s.writeError(w, r, apperr.Field(apperr.BadRequest, "Idempotency-Key", "Idempotency-Key must be at most 255 characters"))
		return
	}
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "?" + r.URL.RawQuery + "\n"))
	h.Write(body)
	now := s.now().UTC()
	rec := &idempotency.Record{
		Scope: principal(r.Context()).ID, Key: k, RequestHash: hex.EncodeToString(h.Sum(nil)), Claimant: requestID(r.Context()),
		CreatedAt: now, ExpiresAt: now.Add(idempotency.TTL),
	}
	prev, claimed, err := s.idem.Claim(r.Context(), rec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !claimed {
		switch {
		case prev.RequestHash != rec.RequestHash:
			s.writeError(w, r, apperr.Field(apperr.Invalid, "Idempotency-Key", "this Idempotency-Key was used with a different request"))
		case !prev.Done && now.Sub(prev.CreatedAt) < pendingLease:
			s.writeError(w, r, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still in progress; retry shortly"))
		case !prev.Done:
			s.writeError(w, r, apperr.New(apperr.Conflict, "the first request with this Idempotency-Key did not finish and its outcome is unknown; check whether it took effect, then use a new key"))
		default:
			w.Header().Set("Content-Type", prev.ContentType)
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prev.Status)
			_, _ = w.Write(prev.Body)
		}
		return
	}
	ctx := context.WithoutCancel(r.Context())
	rw := &recorder{ResponseWriter: w}
	// A panic leaves the claim pending: after the lease it reads as "outcome
	// unknown", which is the truth.
	handlerErr := s.serve(rw, r, rt, body)
	if errors.Is(handlerErr, apperr.ErrInDoubt) {
		// The write may have been made: the claim stays pending, so a retry
		// is told the outcome is unknown, never given a second write.
		return
	}
	if e, ok := apperr.As(handlerErr); ok && (e.Code == apperr.Unavailable || e.Code == apperr.Conflict && e.Field == "") {
		if err := s.idem.Release(ctx, rec.Scope, rec.Key); err != nil {
			s.log.ErrorContext(r.Context(), "release idempotency key", "error", err.Error(), "request_id", requestID(r.Context()))
		}
		return
	}
	rec.Done, rec.Status, rec.Body, rec.ContentType = true, rw.status, rw.body.Bytes(), w.Header().Get("Content-Type")
	if rt.secret && handlerErr == nil {
		// Never store a secret: a replay says what happened instead.
		rec.Status, rec.ContentType = http.StatusConflict, "application/json"
		msg := "this request already issued a key; its secret is shown only once: revoke that key and create another if it was lost"
		if rt.Pattern == "/v1/endpoints" {
			msg = "this request already registered an endpoint; its signing secret is shown only once: delete that endpoint and register another if it was lost"
		}
		rec.Body, _ = json.Marshal(errorBody{errorDetail{Code: apperr.Conflict, Message: msg}})
	}
	if err := s.idem.Complete(ctx, rec); err != nil {
		// The client has its answer; a retry finds the claim pending and is
		// told so, never given a second write.
		s.log.ErrorContext(r.Context(), "complete idempotency key", "error", err.Error(), "request_id", requestID(r.Context()))
	}
}

// recorder keeps a copy of what a handler writes.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (rw *recorder) WriteHeader(status int) {
	rw.status = status
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	rw.body.Write(b)
	return rw.ResponseWriter.Write(b)
}
