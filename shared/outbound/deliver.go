package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Retry schedule: the wait after each failed attempt. After the last
// attempt fails (about a day after the event) the delivery is failed.
var Backoff = []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour, 15 * time.Hour}

// MaxAttempts is how many times a delivery is tried.
var MaxAttempts = len(Backoff) + 1

// Jitter spreads each wait over ±20%, so deliveries that failed together
// (an endpoint down for an hour) do not all come back in the same second.
const Jitter = 0.2

// RequestTimeout bounds one attempt, from connecting to reading the
// status; a slow receiver costs one lane this long at most.
const RequestTimeout = 10 * time.Second

// claimLease is how long a claimed attempt is reserved for the run that
// claimed it. Longer than an attempt can take, so a live run always
// finishes first; after it, a run that died mid-attempt gives the
// delivery back to the next run (at least once).
const claimLease = 2 * time.Minute

// RetryDelay is the wait after failed attempt n (1-based), jittered by
// r in [0,1). ok is false after the last attempt.
func RetryDelay(n int, r float64) (d time.Duration, ok bool) {
	if n < 1 || n > len(Backoff) {
		return 0, false
	}
	base := Backoff[n-1]
	return time.Duration(float64(base) * (1 - Jitter + 2*Jitter*r)), true
}

// Store is what a delivery run reads and writes. Package store implements it.
type Store interface {
	ListEndpoints(ctx context.Context) ([]*Endpoint, error)
	// PendingEvents returns up to limit events not yet fanned out, oldest first.
	PendingEvents(ctx context.Context, limit int) ([]*Event, error)
	// FanOut creates the deliveries of ev and takes it off the pending
	// list, in one transaction; false when another run did it first.
	FanOut(ctx context.Context, ev *Event, ds []*Delivery) (bool, error)
	// DueDeliveries returns up to limit pending deliveries due by through.
	DueDeliveries(ctx context.Context, through time.Time, limit int) ([]*Delivery, error)
	// ClaimDelivery reserves d's next attempt until the given time: it
	// succeeds only if d is still pending with the attempts and next
	// attempt time it was read with, and then increments d.Attempts.
	ClaimDelivery(ctx context.Context, d *Delivery, until time.Time) (bool, error)
	// SaveDelivery writes d if its stored attempt count is still
	// expectAttempts (nobody claimed it since); false otherwise.
	SaveDelivery(ctx context.Context, d *Delivery, expectAttempts int) (bool, error)
}

// Runner is one delivery run's machinery.
type Runner struct {
	Store  Store
	Client *http.Client // nil: one with RequestTimeout that dials only public addresses
	// AllowLoopback lets deliveries reach 127.0.0.1 and ::1: the local
	// stack's receivers. Never set when deployed.
	AllowLoopback bool
	Now           func() time.Time
	Rand          func() float64 // jitter source; nil: math/rand
	Log           *slog.Logger
	// Lanes is how many endpoints are sent to at once (default 8). An
	// endpoint's deliveries go one after another in its own lane, so a
	// slow or dead endpoint holds up only itself.
	Lanes int
	// Batch is the most events fanned out, and deliveries attempted,
	// per run (default 500); the next run goes on.
	Batch int
}

// Summary says what a run did.
type Summary struct {
	FannedOut int // events fanned out
	Attempted int
	Delivered int
	Retrying  int // failed attempts with another to come
	Failed    int // deliveries given up
	Cancelled int // deliveries to disabled or deleted endpoints
	Postponed int // not tried this run: their endpoint just failed
}

// Run fans out new events and sends every delivery that is due.
func (r *Runner) Run(ctx context.Context) (Summary, error) { return r.RunUntil(ctx, time.Time{}) }

// RunUntil is Run that starts no attempt after stop (zero: no limit),
// though one begun may finish: the time between stop and ctx's deadline
// must hold one attempt and its record. What is left, the next run does.
func (r *Runner) RunUntil(ctx context.Context, stop time.Time) (Summary, error) {
	var sum Summary
	batch := r.Batch
	if batch <= 0 {
		batch = 500
	}
	endpoints, err := r.Store.ListEndpoints(ctx)
	if err != nil {
		return sum, fmt.Errorf("list endpoints: %w", err)
	}
	byID := map[string]*Endpoint{}
	for _, e := range endpoints {
		byID[e.ID] = e
	}
	fresh, err := r.fanOut(ctx, endpoints, batch, &sum)
	if err != nil {
		return sum, err
	}
	due, err := r.Store.DueDeliveries(ctx, r.Now(), batch)
	if err != nil {
		return sum, fmt.Errorf("due deliveries: %w", err)
	}
	// Deliveries made just now are sent now, not when the index shows them.
	seen := map[string]bool{}
	lanes := map[string][]*Delivery{}
	var order []string
	for _, d := range append(fresh, due...) {
		k := d.EndpointID + "/" + d.EventID
		if seen[k] {
			continue
		}
		seen[k] = true
		if lanes[d.EndpointID] == nil {
			order = append(order, d.EndpointID)
		}
		lanes[d.EndpointID] = append(lanes[d.EndpointID], d)
	}
	n := r.Lanes
	if n <= 0 {
		n = 8
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
		sem  = make(chan struct{}, n)
	)
	for _, id := range order {
		wg.Add(1)
		sem <- struct{}{}
		go func(ep *Endpoint, ds []*Delivery) {
			defer func() { <-sem; wg.Done() }()
			var lane Summary
			err := r.lane(ctx, stop, ep, ds, &lane)
			mu.Lock()
			defer mu.Unlock()
			sum.Attempted += lane.Attempted
			sum.Delivered += lane.Delivered
			sum.Retrying += lane.Retrying
			sum.Failed += lane.Failed
			sum.Cancelled += lane.Cancelled
			sum.Postponed += lane.Postponed
			if err != nil {
				errs = append(errs, err)
			}
		}(byID[id], lanes[id])
	}
	wg.Wait()
	return sum, errors.Join(errs...)
}

// fanOut turns pending events into deliveries, one per endpoint that
// wants the type. It returns the deliveries it made.
func (r *Runner) fanOut(ctx context.Context, endpoints []*Endpoint, batch int, sum *Summary) ([]*Delivery, error) {
	evs, err := r.Store.PendingEvents(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("pending events: %w", err)
	}
	var fresh []*Delivery
	for _, ev := range evs {
		now := r.Now().UTC()
		var ds []*Delivery
		for _, e := range endpoints {
			if e.Wants(ev.Type) {
				ds = append(ds, &Delivery{EndpointID: e.ID, EventID: ev.ID, EventType: ev.Type, Body: ev.Body(),
					State: Pending, NextAttemptAt: now.Truncate(time.Second), CreatedAt: now})
			}
		}
		ok, err := r.Store.FanOut(ctx, ev, ds)
		if err != nil {
			return nil, fmt.Errorf("fan out %s: %w", ev.ID, err)
		}
		if ok {
			sum.FannedOut++
			fresh = append(fresh, ds...)
		}
	}
	return fresh, nil
}

// lane sends one endpoint's deliveries in turn. After a failure it leaves
// the endpoint's other deliveries for a later run rather than wait on a
// receiver that is down once per delivery.
func (r *Runner) lane(ctx context.Context, stop time.Time, ep *Endpoint, ds []*Delivery, sum *Summary) error {
	for i, d := range ds {
		if ctx.Err() != nil || !stop.IsZero() && !time.Now().Before(stop) {
			return nil // out of time: the next run goes on
		}
		if ep == nil || ep.Disabled {
			if err := r.cancel(ctx, d, sum); err != nil {
				return err
			}
			continue
		}
		ok, err := r.attempt(ctx, ep, d, sum)
		if err != nil {
			return err
		}
		if !ok {
			sum.Postponed += len(ds) - i - 1
			return nil
		}
	}
	return nil
}

// cancel ends a delivery whose endpoint is gone or disabled.
func (r *Runner) cancel(ctx context.Context, d *Delivery, sum *Summary) error {
	d.State = Cancelled
	saved, err := r.Store.SaveDelivery(ctx, d, d.Attempts)
	if err != nil {
		return fmt.Errorf("cancel delivery %s to %s: %w", d.EventID, d.EndpointID, err)
	}
	if saved {
		sum.Cancelled++
	}
	return nil
}

// attempt claims and makes one attempt; ok is false when it failed.
func (r *Runner) attempt(ctx context.Context, ep *Endpoint, d *Delivery, sum *Summary) (ok bool, err error) {
	now := r.Now().UTC()
	claimed, err := r.Store.ClaimDelivery(ctx, d, now.Add(claimLease))
	if err != nil {
		return false, fmt.Errorf("claim delivery %s to %s: %w", d.EventID, d.EndpointID, err)
	}
	if !claimed {
		return true, nil // another run has it, or it changed: nothing to say about the endpoint
	}
	sum.Attempted++
	a := r.post(ctx, ep, d)
	a.Number = d.Attempts
	switch {
	case a.Error == "":
		d.State = Delivered
		sum.Delivered++
	case d.Attempts >= MaxAttempts:
		d.State = Failed
		sum.Failed++
	default:
		wait, _ := RetryDelay(d.Attempts, r.rand())
		next := a.At.Add(a.Duration).Add(wait).Truncate(time.Second)
		d.NextAttemptAt, a.NextAttemptAt = next, &next
		sum.Retrying++
	}
	d.Log = append(d.Log, a)
	// The attempt was made: its record is written even if the run's time
	// ran out while the receiver answered.
	saved, err := r.Store.SaveDelivery(context.WithoutCancel(ctx), d, d.Attempts)
	if err != nil {
		return false, fmt.Errorf("record delivery %s to %s: %w", d.EventID, d.EndpointID, err)
	}
	if !saved {
		// Our lease ran out and another run claimed it: its record stands.
		r.log().WarnContext(ctx, "delivery outcome not recorded: claimed again meanwhile", "event_id", d.EventID, "endpoint_id", d.EndpointID)
	}
	if a.Error != "" {
		r.log().InfoContext(ctx, "delivery failed", "event_id", d.EventID, "endpoint_id", d.EndpointID, "attempt", a.Number, "status", a.StatusCode, "error", a.Error)
	}
	return a.Error == "", nil
}

// post sends the delivery once. Any 2xx is success; anything else,
// including a redirect (not followed: the firm should register the final
// address) and a timeout, is a failure to retry.
func (r *Runner) post(ctx context.Context, ep *Endpoint, d *Delivery) Attempt {
	return send(ctx, r.client(), ep, d.EventID, d.EventType, d.Body, r.Now().UTC())
}

// send POSTs body, signed at at, to the endpoint once.
func send(ctx context.Context, client *http.Client, ep *Endpoint, eventID, eventType string, body []byte, at time.Time) Attempt {
	a := Attempt{At: at}
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "bad request: " + err.Error()
		return a
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Dunlin-Events/1")
	req.Header.Set(SignatureHeader, Sign(ep.Secret, at, body))
	req.Header.Set(EventIDHeader, eventID)
	req.Header.Set(EventTypeHeader, eventType)
	started := time.Now() // the wall clock measures the call, whatever the run's clock says
	res, err := client.Do(req)
	a.Duration = time.Since(started)
	if err != nil {
		a.Error = err.Error()
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	res.Body.Close()
	a.StatusCode = res.StatusCode
	if res.StatusCode < 200 || res.StatusCode > 299 {
		a.Error = fmt.Sprintf("HTTP %d", res.StatusCode)
	}
	return a
}

func (r *Runner) client() *http.Client {
	switch {
	case r.Client != nil:
		return r.Client
	case r.AllowLoopback:
		return loopbackClient
	}
	return publicClient
}

func (r *Runner) rand() float64 {
	if r.Rand != nil {
		return r.Rand()
	}
	return rand.Float64()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}
