package outbound

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/ids"
)

// Endpoint is an HTTPS address of the firm's that receives events.
type Endpoint struct {
	ID          string
	URL         string
	Events      []string // the types it receives; empty means all, including types added later
	Description string
	Secret      string // signs its deliveries; shown once, when the endpoint is registered
	Disabled    bool
	// LastTest is the outcome of the latest test delivery (Service.Test).
	LastTest  *TestResult
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// TestResult is what came of a test delivery: its one attempt.
type TestResult struct {
	EventID string
	Attempt
}

// Wants reports whether the endpoint receives events of type t now.
func (e *Endpoint) Wants(t string) bool {
	return !e.Disabled && (len(e.Events) == 0 || slices.Contains(e.Events, t))
}

// MaxEndpoints bounds how many endpoints a firm registers: each event is
// fanned out to all of them in one transaction.
const MaxEndpoints = 10

// EndpointInput is the body of POST /v1/endpoints.
type EndpointInput struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"` // omitted, empty or ["*"]: every type
	Description string   `json:"description"`
}

// EndpointPatch is the body of PATCH /v1/endpoints/{id}; absent fields are
// left as they are.
type EndpointPatch struct {
	Events      *[]string `json:"events"`
	Description *string   `json:"description"`
	Disabled    *bool     `json:"disabled"`
}

// Delivery is one event on its way to one endpoint, with every attempt.
type Delivery struct {
	EndpointID    string
	EventID       string
	EventType     string
	Body          []byte // the JSON sent, the same on every attempt
	State         DeliveryState
	Attempts      int       // attempts claimed so far
	NextAttemptAt time.Time // while pending
	Log           []Attempt // newest last
	CreatedAt     time.Time
}

// DeliveryState is a delivery's lifecycle.
type DeliveryState string

const (
	Pending   DeliveryState = "pending"
	Delivered DeliveryState = "delivered"
	Failed    DeliveryState = "failed"    // every attempt failed; no more are made
	Cancelled DeliveryState = "cancelled" // the endpoint was disabled or deleted before it went
)

// Attempt is one try at delivering.
type Attempt struct {
	Number        int
	At            time.Time
	StatusCode    int    // 0 when no HTTP answer came
	Error         string // why it failed, when it did
	Duration      time.Duration
	NextAttemptAt *time.Time // when the next try is due, after a failure
}

// EndpointStore is what endpoint management reads and writes. Package
// store implements it.
type EndpointStore interface {
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	GetEndpoint(ctx context.Context, id string) (*Endpoint, error)
	ListEndpoints(ctx context.Context) ([]*Endpoint, error)
	UpdateEndpoint(ctx context.Context, e *Endpoint) error
	DeleteEndpoint(ctx context.Context, id string) error
	ListDeliveries(ctx context.Context, endpointID string, limit int) ([]*Delivery, error)
}

// Service registers and manages endpoints.
type Service struct {
	store EndpointStore
	now   func() time.Time
	// AllowLoopbackHTTP accepts http:// URLs on 127.0.0.1, ::1 or
	// localhost: the local stack's receivers. Never set when deployed.
	AllowLoopbackHTTP bool
}

// NewService returns a Service.
func NewService(st EndpointStore, now func() time.Time) *Service {
	return &Service{store: st, now: now}
}

// Register validates and stores a new endpoint with a fresh signing
// secret, which the result holds (the only time it is shown).
// Errors: Invalid (naming the field), Conflict (too many endpoints).
func (s *Service) Register(ctx context.Context, in EndpointInput) (*Endpoint, error) {
	u, err := s.checkURL(in.URL)
	if err != nil {
		return nil, err
	}
	events, err := checkEvents(in.Events)
	if err != nil {
		return nil, err
	}
	desc, err := checkDescription(in.Description)
	if err != nil {
		return nil, err
	}
	all, err := s.store.ListEndpoints(ctx)
	if err != nil {
		return nil, err
	}
	if len(all) >= MaxEndpoints {
		return nil, apperr.New(apperr.Conflict, "at most %d endpoints can be registered; delete one first", MaxEndpoints)
	}
	now := s.now().UTC()
	e := &Endpoint{ID: ids.New("end_", now), URL: u, Events: events, Description: desc, Secret: newSecret(),
		CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := s.store.CreateEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Get returns an endpoint. Errors: NotFound.
func (s *Service) Get(ctx context.Context, id string) (*Endpoint, error) {
	if !ids.Valid("end_", id) {
		return nil, apperr.NotFoundf("no endpoint %q", id)
	}
	return s.store.GetEndpoint(ctx, id)
}

// List returns every endpoint, oldest first.
func (s *Service) List(ctx context.Context) ([]*Endpoint, error) { return s.store.ListEndpoints(ctx) }

// Update changes an endpoint's events, description or disabled flag; a
// disabled endpoint is sent nothing, not even deliveries already queued.
// Errors: NotFound, Invalid, Conflict (changed concurrently).
func (s *Service) Update(ctx context.Context, id string, p EndpointPatch) (*Endpoint, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Events != nil {
		if e.Events, err = checkEvents(*p.Events); err != nil {
			return nil, err
		}
	}
	if p.Description != nil {
		if e.Description, err = checkDescription(*p.Description); err != nil {
			return nil, err
		}
	}
	if p.Disabled != nil {
		e.Disabled = *p.Disabled
	}
	e.UpdatedAt, e.Version = s.now().UTC(), e.Version+1
	if err := s.store.UpdateEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Delete removes an endpoint and returns it as it was; deliveries still
// queued for it are cancelled by the next delivery run. Errors: NotFound.
func (s *Service) Delete(ctx context.Context, id string) (*Endpoint, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return e, s.store.DeleteEndpoint(ctx, id)
}

// Test sends the endpoint a signed endpoint.test event now, once, and
// keeps the outcome on the endpoint (LastTest): how a firm checks a
// receiver before real events depend on it. A disabled endpoint can be
// tested too. Errors: NotFound.
func (s *Service) Test(ctx context.Context, id string) (*Endpoint, error) {
	e, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	ev := &Event{ID: ids.New("evt_", now), Type: TestEvent, CreatedAt: now,
		Data: json.RawMessage(`{"endpoint_id":"` + e.ID + `","message":"A test delivery from Dunlin: answer with any 2xx."}`)}
	client := publicClient
	if s.AllowLoopbackHTTP {
		client = loopbackClient
	}
	a := send(ctx, client, e, ev.ID, ev.Type, ev.Body(), now)
	a.Number = 1
	result := &TestResult{EventID: ev.ID, Attempt: a}
	for attempt := 0; ; attempt++ {
		e.LastTest, e.UpdatedAt, e.Version = result, s.now().UTC(), e.Version+1
		err := s.store.UpdateEndpoint(ctx, e)
		if !errors.Is(err, apperr.ErrLostRace) || attempt == 3 {
			return e, err
		}
		if e, err = s.Get(ctx, id); err != nil { // changed meanwhile: keep the change, add the result
			return nil, err
		}
	}
}

// Deliveries returns an endpoint's deliveries, newest event first, at
// most limit (1-100). Errors: NotFound, Invalid (limit).
func (s *Service) Deliveries(ctx context.Context, id string, limit int) ([]*Delivery, error) {
	if limit < 1 || limit > 100 {
		return nil, apperr.Invalidf("limit", "limit must be from 1 to 100")
	}
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, id, limit)
}

// checkURL accepts an absolute https URL without credentials, or an http
// one on a loopback host when the deployment allows it.
func (s *Service) checkURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", apperr.Invalidf("url", "url is required: the https address that receives events")
	}
	if len(raw) > 2048 {
		return "", apperr.Invalidf("url", "url is longer than 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return "", apperr.Invalidf("url", "url must be an absolute address such as https://erp.example.com/dunlin")
	}
	if u.User != nil {
		return "", apperr.Invalidf("url", "url must not carry a user name or password; the signature authenticates deliveries")
	}
	if u.Fragment != "" {
		return "", apperr.Invalidf("url", "url must not have a #fragment")
	}
	if why := refusedHost(u.Hostname(), s.AllowLoopbackHTTP); why != "" {
		return "", apperr.Invalidf("url", "url: %s", why)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !s.AllowLoopbackHTTP || !loopback(u.Hostname()) {
			return "", apperr.Invalidf("url", "url must use https")
		}
	default:
		return "", apperr.Invalidf("url", "url must use https")
	}
	return u.String(), nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkEvents returns the subscribed types, nil for all.
func checkEvents(in []string) ([]string, error) {
	if len(in) == 0 || (len(in) == 1 && in[0] == "*") {
		return nil, nil
	}
	var out []string
	for _, t := range in {
		if !KnownType(t) {
			return nil, apperr.Invalidf("events", "events: %q is not an event type; use some of %s, or [\"*\"] for all", t, strings.Join(Types, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func checkDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if len(d) > 500 {
		return "", apperr.Invalidf("description", "description is longer than 500 characters")
	}
	return d, nil
}

// newSecret makes a signing secret: 32 random bytes, hex, with a prefix
// that tells a reader what it is.
func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("outbound: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return "whsec_" + hex.EncodeToString(b)
}
