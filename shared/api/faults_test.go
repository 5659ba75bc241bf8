package api_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
)

// faultyStore wraps the real store and misbehaves on CreateInvoice or
// CreateCustomer, once.
type faultyStore struct {
	billing.Store
	mode  string // "commit-then-fail", "throttled", "panic"
	fired atomic.Bool
}

func (f *faultyStore) CreateInvoice(ctx context.Context, inv *billing.Invoice) error {
	if f.fired.Swap(true) {
		return f.Store.CreateInvoice(ctx, inv)
	}
	switch f.mode {
	case "commit-then-fail":
		if err := f.Store.CreateInvoice(ctx, inv); err != nil {
			return err
		}
		return errors.New("reply lost after the transaction committed")
	case "throttled":
		return &apperr.Error{Code: apperr.Unavailable, Message: "the database is busy; retry shortly"}
	}
	panic("crash in the middle of a create")
}

func countInvoices(t *testing.T, f *fixture) int {
	t.Helper()
	return len(f.Do("GET", "/v1/invoices", nil).Map(t)["data"].([]any))
}

// A server error after the write committed must not let the retry write
// again: the first response is kept and replayed.
func TestIdempotentRetryAfterAnErrorThatMayHaveWrittenDoesNotWriteTwice(t *testing.T) {
	t.Parallel()
	fs := &faultyStore{mode: "commit-then-fail"}
	f := newFixtureWith(t, func(s billing.Store) billing.Store { fs.Store = s; return fs })
	cid := f.customer(nil)
	body := map[string]any{"customer_id": cid, "total": 5000}
	first := f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "k")
	retry := f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "k")
	if first.Status != 500 || retry.Status != 500 || retry.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("first %d, retry %d", first.Status, retry.Status)
	}
	if n := countInvoices(t, f); n != 1 {
		t.Fatalf("%d invoices after a retried create whose reply was lost, want 1", n)
	}
}

// Throttling means nothing was written: the retry runs afresh and succeeds.
func TestIdempotentRetryAfterThrottlingRunsAgain(t *testing.T) {
	t.Parallel()
	fs := &faultyStore{mode: "throttled"}
	f := newFixtureWith(t, func(s billing.Store) billing.Store { fs.Store = s; return fs })
	cid := f.customer(nil)
	body := map[string]any{"customer_id": cid, "total": 5000}
	first := f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "k")
	if first.Status != 503 || first.Header.Get("Retry-After") == "" {
		t.Fatalf("first = %d (Retry-After %q)", first.Status, first.Header.Get("Retry-After"))
	}
	retry := f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "k")
	if retry.Status != 201 || retry.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry = %d %s", retry.Status, retry.Body)
	}
	if n := countInvoices(t, f); n != 1 {
		t.Fatalf("%d invoices, want 1", n)
	}
}

// A crash mid-request leaves the key claimed: retries are told it is in
// progress, then that its outcome is unknown, and nothing runs twice.
func TestIdempotencyKeyOfACrashedRequestIsReportedNotRedone(t *testing.T) {
	t.Parallel()
	fs := &faultyStore{mode: "panic"}
	f := newFixtureWith(t, func(s billing.Store) billing.Store { fs.Store = s; return fs })
	cid := f.customer(nil)
	body := map[string]any{"customer_id": cid, "total": 5000}
	if res := f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "k"); res.Status != 500 {
		t.Fatalf("crashing request = %d", res.Status)
	}
	soon := f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "k")
	if soon.Status != 409 || !strings.Contains(string(soon.Body), "in progress") {
		t.Errorf("retry within the lease = %d %s", soon.Status, soon.Body)
	}
	f.clock.Set(f.clock.Now().Add(2 * time.Minute))
	later := f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "k")
	if later.Status != 409 || !strings.Contains(string(later.Body), "outcome is unknown") {
		t.Errorf("retry after the lease = %d %s", later.Status, later.Body)
	}
	if n := countInvoices(t, f); n != 0 {
		t.Errorf("%d invoices; the crashed request wrote nothing and no retry may run it", n)
	}
}

// A key's secret is shown once and never kept for replays.
func TestIdempotentKeyCreationNeverReplaysTheSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := map[string]any{"name": "books", "role": "integration"}
	first := f.Do("POST", "/v1/keys", body, "Idempotency-Key", "key-1")
	retry := f.Do("POST", "/v1/keys", body, "Idempotency-Key", "key-1")
	if first.Status != 201 || !strings.Contains(string(first.Body), `"key":"dk_`) {
		t.Fatalf("first = %d %s", first.Status, first.Body)
	}
	if retry.Status != 409 || strings.Contains(string(retry.Body), "dk_") {
		t.Errorf("retry = %d %s", retry.Status, retry.Body)
	}
	if n := len(f.Do("GET", "/v1/keys", nil).Map(t)["data"].([]any)); n != len(f.keys)+1 {
		t.Errorf("%d keys, want %d (one issued)", n, len(f.keys)+1)
	}
}
