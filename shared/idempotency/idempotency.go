// Package idempotency holds the record that makes a retried POST safe: the
// first response to a request with a given Idempotency-Key is kept, and a
// retry with the same key and body gets that response again instead of
// repeating the write.
package idempotency

import (
	"context"
	"time"
)

// TTL is how long a key is remembered. Clients retry within minutes; a day
// covers a client that retries after an outage.
const TTL = 24 * time.Hour

// Record is one remembered request.
type Record struct {
	Scope       string // the API key id: keys are per client, never shared
	Key         string // the client's Idempotency-Key (hashed by the store)
	RequestHash string // method, path and body digest
	// Claimant is the request that claimed the key (its request id): a
	// claim whose answer was lost and retried finds its own record.
	Claimant    string
	Done        bool // false while the first request is still being served
	Status      int
	Body        []byte
	ContentType string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Store persists records.
type Store interface {
	// Claim stores rec unless a live record with the same scope and key
	// exists; then it returns that record and claimed=false.
	Claim(ctx context.Context, rec *Record) (existing *Record, claimed bool, err error)
	// Complete saves the response of a claimed request.
	Complete(ctx context.Context, rec *Record) error
	// Release forgets a claim whose request failed in a way worth retrying.
	Release(ctx context.Context, scope, key string) error
}
