package api

import (
	"net/http"
	"strconv"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/outbound"
)

// endpointJSON is an outbound-event endpoint as the API shows it. The
// signing secret appears only in the response that registers it.
type endpointJSON struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Events      []string  `json:"events"` // ["*"] for every type
	Description string    `json:"description"`
	Disabled    bool      `json:"disabled"`
	LastTest    *testJSON `json:"last_test"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Secret      string    `json:"secret,omitempty"`
}

// testJSON is the outcome of an endpoint's latest test delivery.
type testJSON struct {
	EventID    string    `json:"event_id"`
	At         time.Time `json:"at"`
	Delivered  bool      `json:"delivered"`
	StatusCode *int      `json:"status_code"` // null when no HTTP answer came
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
}

func toEndpointJSON(e *outbound.Endpoint) endpointJSON {
	events := e.Events
	if len(events) == 0 {
		events = []string{"*"}
	}
	out := endpointJSON{ID: e.ID, URL: e.URL, Events: events, Description: e.Description, Disabled: e.Disabled,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	if t := e.LastTest; t != nil {
		out.LastTest = &testJSON{EventID: t.EventID, At: t.At, Delivered: t.Error == "", Error: nullable(t.Error), DurationMS: t.Duration.Milliseconds()}
		if t.StatusCode != 0 {
			code := t.StatusCode
			out.LastTest.StatusCode = &code
		}
	}
	return out
}

// testEndpoint is POST /v1/endpoints/{id}/test: one signed test delivery,
// now; the endpoint comes back with its outcome in last_test. A receiver
// that refuses it is still a 200: the request did what it asked.
func (s *Server) testEndpoint(r *http.Request, _ []byte) (int, any, error) {
	e, err := s.endpoints.Test(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toEndpointJSON(e), nil
}

// attemptJSON is one row of an endpoint's delivery log: one attempt, or
// a delivery not yet attempted (attempt 0).
type attemptJSON struct {
	EventID       string     `json:"event_id"`
	EventType     string     `json:"event_type"`
	State         string     `json:"state"` // the delivery's: pending, delivered, failed, cancelled
	Attempt       int        `json:"attempt"`
	At            *time.Time `json:"at"`
	StatusCode    *int       `json:"status_code"` // null when no HTTP answer came
	Error         *string    `json:"error"`
	DurationMS    int64      `json:"duration_ms"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
}

func (s *Server) createEndpoint(r *http.Request, body []byte) (int, any, error) {
	var in outbound.EndpointInput
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	e, err := s.endpoints.Register(r.Context(), in)
	if err != nil {
		return 0, nil, err
	}
	out := toEndpointJSON(e)
	out.Secret = e.Secret
	return http.StatusCreated, out, nil
}

func (s *Server) listEndpoints(r *http.Request, _ []byte) (int, any, error) {
	all, err := s.endpoints.List(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toList(all, "", toEndpointJSON), nil
}

func (s *Server) getEndpoint(r *http.Request, _ []byte) (int, any, error) {
	e, err := s.endpoints.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toEndpointJSON(e), nil
}

func (s *Server) updateEndpoint(r *http.Request, body []byte) (int, any, error) {
	var in outbound.EndpointPatch
	if err := decode(body, &in); err != nil {
		return 0, nil, err
	}
	e, err := s.endpoints.Update(r.Context(), r.PathValue("id"), in)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toEndpointJSON(e), nil
}

func (s *Server) deleteEndpoint(r *http.Request, _ []byte) (int, any, error) {
	e, err := s.endpoints.Delete(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, toEndpointJSON(e), nil
}

// endpointDeliveries is the delivery log: the latest deliveries (?limit=,
// 1-100, default 50), newest event first, each attempt newest first.
func (s *Server) endpointDeliveries(r *http.Request, _ []byte) (int, any, error) {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return 0, nil, apperr.Field(apperr.BadRequest, "limit", "limit must be a whole number from 1 to 100")
		}
		limit = n
	}
	ds, err := s.endpoints.Deliveries(r.Context(), r.PathValue("id"), limit)
	if err != nil {
		return 0, nil, err
	}
	out := list[attemptJSON]{Data: []attemptJSON{}}
	for _, d := range ds {
		if len(d.Log) == 0 {
			row := attemptJSON{EventID: d.EventID, EventType: d.EventType, State: string(d.State)}
			if d.State == outbound.Pending {
				next := d.NextAttemptAt
				row.NextAttemptAt = &next
			}
			out.Data = append(out.Data, row)
		}
		for i := len(d.Log) - 1; i >= 0; i-- {
			a := d.Log[i]
			at := a.At
			row := attemptJSON{EventID: d.EventID, EventType: d.EventType, State: string(d.State), Attempt: a.Number, At: &at,
				DurationMS: a.Duration.Milliseconds(), NextAttemptAt: a.NextAttemptAt}
			if a.StatusCode != 0 {
				row.StatusCode = &a.StatusCode
			}
			if a.Error != "" {
				row.Error = &a.Error
			}
			out.Data = append(out.Data, row)
		}
	}
	return http.StatusOK, out, nil
}
