package api

import (
	"net/http"

	"dunlin/shared/apperr"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.BadRequest:   http.StatusBadRequest,
	apperr.Invalid:      http.StatusUnprocessableEntity,
	apperr.Unauthorized: http.StatusUnauthorized,
	apperr.Forbidden:    http.StatusForbidden,
	apperr.NotFound:     http.StatusNotFound,
	apperr.Conflict:     http.StatusConflict,
	apperr.TooLarge:     http.StatusRequestEntityTooLarge,
	apperr.Unavailable:  http.StatusServiceUnavailable,
	apperr.Internal:     http.StatusInternalServerError,
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      apperr.Code `json:"code"`
	Message   string      `json:"message"`
	Field     string      `json:"field,omitempty"`
	RequestID string      `json:"request_id,omitempty"`
}

// writeError answers with err. Internal errors are logged in full and shown
// to the client only as a generic message with the request id to quote.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		s.log.ErrorContext(r.Context(), "request failed", "error", err.Error(), "method", r.Method, "path", r.URL.Path, "request_id", requestID(r.Context()))
		e = apperr.New(apperr.Internal, "internal error; quote the request id when reporting it")
	}
	status := statusOf[e.Code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if e.Code == apperr.Unavailable {
		w.Header().Set("Retry-After", "1")
		s.log.WarnContext(r.Context(), "dependency unavailable", "error", err.Error(), "request_id", requestID(r.Context()))
	}
	if e.Code == apperr.Unauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dunlin"`)
	}
	writeJSON(w, status, errorBody{errorDetail{Code: e.Code, Message: e.Message, Field: e.Field, RequestID: requestID(r.Context())}})
}
