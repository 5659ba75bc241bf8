package api_test

import (
	"sync"
	"testing"

	"dunlin/shared/auth"
)

func TestIdempotencyKeyReplaysTheFirstResponse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := map[string]any{"name": "Acme", "email": "ap@acme.example"}
	first := f.Do("POST", "/v1/customers", body, "Idempotency-Key", "k-1")
	retry := f.Do("POST", "/v1/customers", body, "Idempotency-Key", "k-1")
	if first.Status != 201 || retry.Status != 201 || string(first.Body) != string(retry.Body) {
		t.Fatalf("retry differs: %d %s / %d %s", first.Status, first.Body, retry.Status, retry.Body)
	}
	if retry.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Error("replay header wrong")
	}
	if n := len(f.Do("GET", "/v1/customers", nil).Map(t)["data"].([]any)); n != 1 {
		t.Fatalf("%d customers after a retried create, want 1", n)
	}

	other := f.Do("POST", "/v1/customers", map[string]any{"name": "Other", "email": "o@x.example"}, "Idempotency-Key", "k-1")
	if code, field := other.ErrorField(t); other.Status != 422 || field != "Idempotency-Key" {
		t.Errorf("same key, other body = %d %s %s", other.Status, code, field)
	}
	// Keys belong to the API key that used them.
	mine := f.As(f.keys[auth.Integration]).Do("POST", "/v1/customers", body, "Idempotency-Key", "k-1")
	if mine.Status != 201 || mine.Map(t)["id"] == first.Map(t)["id"] {
		t.Errorf("another client's key collided: %d %s", mine.Status, mine.Body)
	}
}

func TestIdempotencyKeyKeepsClientErrorsAndForgetsNothingElse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	bad := map[string]any{"name": "", "email": "ap@acme.example"}
	a := f.Do("POST", "/v1/customers", bad, "Idempotency-Key", "bad-1")
	b := f.Do("POST", "/v1/customers", bad, "Idempotency-Key", "bad-1")
	if a.Status != 422 || b.Status != 422 || b.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a 4xx is replayed as it was: %d %d", a.Status, b.Status)
	}
}

func TestConcurrentRetriesWithOneKeyCreateOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cid := f.customer(nil)
	body := map[string]any{"customer_id": cid, "total": 999}
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = f.Do("POST", "/v1/invoices", body, "Idempotency-Key", "inv-once").Status
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		if s != 201 && s != 409 {
			t.Errorf("status %d", s)
		}
	}
	if n := len(f.Do("GET", "/v1/invoices", nil).Map(t)["data"].([]any)); n != 1 {
		t.Fatalf("%d invoices from one idempotent request (statuses %v)", n, statuses)
	}
}
