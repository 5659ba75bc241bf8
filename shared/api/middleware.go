package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"

	"dunlin/shared/apperr"
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
		r = r.WithContext(context.WithValue(r.Context(), principalKey, key))
		var body []byte
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			if body, err = readBody(r); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if r.Method == http.MethodPost && r.Header.Get("Idempotency-Key") != "" {
			s.idempotent(w, r, rt, body)
			return
		}
		s.serve(w, r, rt, body)
	})
}

func (s *Server) authenticate(r *http.Request) (*auth.Key, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, apperr.New(apperr.Unauthorized, "a valid API key is required: Authorization: Bearer <key>")
	}
	return s.keys.Authenticate(r.Context(), strings.TrimSpace(token))
}

// serve runs the handler and writes its result.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt Route, body []byte) {
	status, v, err := rt.handle(r, body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if status == http.StatusCreated {
		if loc, ok := v.(interface{ location() string }); ok {
			w.Header().Set("Location", loc.location())
		}
	}
	if raw, ok := v.(rawJSON); ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(raw)
		return
	}
	writeJSON(w, status, v)
}

// rawJSON is a response that is already encoded.
type rawJSON []byte

// idempotent serves a POST carrying an Idempotency-Key: the first request
// with a key runs and its response is kept for a day; a retry with the same
// key and the same request gets that response again, marked with
// Idempotent-Replayed: true; the same key with a different request is a 422.
// Keys are scoped to the API key, so two clients cannot collide.
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
		Scope: principal(r.Context()).ID, Key: k, RequestHash: hex.EncodeToString(h.Sum(nil)),
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
		case !prev.Done:
			s.writeError(w, r, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is still in progress; retry shortly"))
		default:
			w.Header().Set("Content-Type", prev.ContentType)
			w.Header().Set("Idempotent-Replayed", "true")
			w.WriteHeader(prev.Status)
			_, _ = w.Write(prev.Body)
		}
		return
	}
	rw := &recorder{ResponseWriter: w}
	s.serve(rw, r, rt, body)
	// Server-side failures are not remembered: the client's retry should
	// get a fresh attempt, not a replay of the failure.
	if rw.status >= 500 {
		if err := s.idem.Release(context.WithoutCancel(r.Context()), rec.Scope, rec.Key); err != nil {
			s.log.ErrorContext(r.Context(), "release idempotency key", "error", err.Error(), "request_id", requestID(r.Context()))
		}
		return
	}
	rec.Done, rec.Status, rec.Body, rec.ContentType = true, rw.status, rw.body.Bytes(), w.Header().Get("Content-Type")
	if err := s.idem.Complete(context.WithoutCancel(r.Context()), rec); err != nil {
		// The write itself succeeded and the client has its answer; a retry
		// would find the claim pending and get a 409, never a second write.
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
