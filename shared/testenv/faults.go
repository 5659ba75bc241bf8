package testenv

import (
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Faults say how a FaultProxy misbehaves. Each share is the chance, per
// request, of that fault; at most one fault hits a request.
type Faults struct {
	Latency time.Duration // added to every request
	// Throttle answers as the service does when over its limits
	// (DynamoDB's ProvisionedThroughputExceededException or
	// ThrottlingException, SES's TooManyRequestsException), without
	// passing the request on.
	Throttle float64
	// Reset drops the connection before the request reaches the server:
	// nothing happened there.
	Reset float64
	// ResetAfter passes the request on, then drops the connection instead
	// of answering: the server did the work, the client cannot know.
	ResetAfter float64
	// Hang holds the request for HangFor (default 30 s) and then drops
	// it, so the client's own timeout fires.
	Hang    float64
	HangFor time.Duration
	// SendRate, when set, enforces an SES maximum send rate (emails a
	// second) as SES does: a SendEmail beyond it is throttled. The bucket
	// holds one second's sends.
	SendRate float64
}

// FaultProxy is a real HTTP proxy between a client and a local server
// (DynamoDB Local, SES local) that injects faults on demand: what a
// network and a busy AWS service do to a Lambda function.
type FaultProxy struct {
	URL      string
	upstream *url.URL
	proxy    *httputil.ReverseProxy
	mu       sync.Mutex
	faults   Faults
	rng      *rand.Rand
	sends    *rate.Limiter
	// Counts of the faults injected, by kind, and of requests passed on.
	Throttled, Reset, ResetAfter, Hung, Passed atomic.Int64
}

// NewFaultProxy starts a proxy to upstream (a base URL) that passes
// everything on until Set is called. It stops with the test.
func NewFaultProxy(t testing.TB, upstream string, seed uint64) *FaultProxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{upstream: u, proxy: httputil.NewSingleHostReverseProxy(u), rng: rand.New(rand.NewPCG(seed, seed))}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Set changes the faults from the next request on.
func (p *FaultProxy) Set(f Faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
}

func (p *FaultProxy) draw(r *http.Request) (Faults, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	if f.SendRate > 0 && r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/outbound-emails") {
		if p.sends == nil || float64(p.sends.Limit()) != f.SendRate {
			p.sends = rate.NewLimiter(rate.Limit(f.SendRate), int(math.Ceil(f.SendRate)))
		}
		if !p.sends.Allow() {
			return f, "throttle"
		}
	}
	x := p.rng.Float64()
	for _, c := range []struct {
		share float64
		kind  string
	}{{f.Throttle, "throttle"}, {f.Reset, "reset"}, {f.ResetAfter, "reset-after"}, {f.Hang, "hang"}} {
		if x < c.share {
			return f, c.kind
		}
		x -= c.share
	}
	return f, ""
}

func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	f, kind := p.draw(r)
	time.Sleep(f.Latency)
	switch kind {
	case "throttle":
		p.Throttled.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		throttle(w, r)
		return
	case "reset":
		p.Reset.Add(1)
		drop(w)
		return
	case "hang":
		p.Hung.Add(1)
		d := f.HangFor
		if d == 0 {
			d = 30 * time.Second
		}
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		drop(w)
		return
	case "reset-after":
		p.ResetAfter.Add(1)
		rec := httptest.NewRecorder()
		p.proxy.ServeHTTP(rec, r) // the server does the work...
		drop(w)                   // ...and its answer is lost
		return
	}
	p.Passed.Add(1)
	p.proxy.ServeHTTP(w, r)
}

// throttle answers as the service behind would when over its limits.
func throttle(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case strings.HasPrefix(target, "DynamoDB_"):
		code := "ProvisionedThroughputExceededException"
		if strings.HasSuffix(target, "TransactWriteItems") {
			code = "ThrottlingException"
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", code)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#`+code+`","message":"injected by the test"}`)
	default: // SES v2 (REST JSON)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amzn-Errortype", "TooManyRequestsException")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"message":"injected by the test: maximum sending rate exceeded"}`)
	}
}
