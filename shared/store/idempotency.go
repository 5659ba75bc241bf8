package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"dunlin/shared/apperr"
	"dunlin/shared/idempotency"
)

// Idempotency adapts Store to idempotency.Store.
type Idempotency struct{ s *Store }

// Idempotency returns the idempotency-record view of the store.
func (s *Store) Idempotency() Idempotency { return Idempotency{s} }

type idemItem struct {
	PK          string    `dynamodbav:"PK"`
	SK          string    `dynamodbav:"SK"`
	RequestHash string    `dynamodbav:"request_hash"`
	Claimant    string    `dynamodbav:"claimant,omitempty"`
	Done        bool      `dynamodbav:"done"`
	Status      int       `dynamodbav:"status,omitempty"`
	Body        []byte    `dynamodbav:"body,omitempty"`
	ContentType string    `dynamodbav:"content_type,omitempty"`
	CreatedAt   time.Time `dynamodbav:"created_at"`
	ExpiresAt   int64     `dynamodbav:"expires_at"` // epoch seconds, the table's TTL attribute
}

// idemKey hashes the client's key so any string up to the header limit
// makes a bounded DynamoDB key.
func idemKey(scope, k string) key {
	h := sha256.Sum256([]byte(k))
	return idempotencyKey(scope, hex.EncodeToString(h[:16]))
}

func toIdemItem(r *idempotency.Record) idemItem {
	k := idemKey(r.Scope, r.Key)
	return idemItem{PK: k.PK, SK: k.SK, RequestHash: r.RequestHash, Claimant: r.Claimant, Done: r.Done, Status: r.Status, Body: r.Body,
		ContentType: r.ContentType, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt.Unix()}
}

// Claim writes the record if no live one exists. TTL deletion can lag by
// days, so an expired record counts as absent.
func (i Idempotency) Claim(ctx context.Context, r *idempotency.Record) (*idempotency.Record, bool, error) {
	c := expression.AttributeNotExists(expression.Name(attrPK)).
		Or(expression.Name(attrTTL).LessThan(expression.Value(r.CreatedAt.Unix())))
	p, err := i.s.put(toIdemItem(r), &c)
	if err != nil {
		return nil, false, err
	}
	_, err = i.s.db.PutItem(ctx, putInput(p))
	if err == nil {
		return nil, true, nil
	}
	if !apperr.Is(wrap(err), apperr.Conflict) {
		return nil, false, fmt.Errorf("claim idempotency key: %w", wrap(err))
	}
	var it idemItem
	found, err := i.s.getItem(ctx, idemKey(r.Scope, r.Key), &it)
	if err != nil {
		return nil, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if !found { // released between our write and read: let the client retry
		return nil, false, apperr.New(apperr.Conflict, "a request with this Idempotency-Key is in progress; retry")
	}
	if r.Claimant != "" && it.Claimant == r.Claimant && !it.Done {
		// Our own claim: the SDK retried a put whose answer was lost.
		return nil, true, nil
	}
	return &idempotency.Record{Scope: r.Scope, Key: r.Key, RequestHash: it.RequestHash, Done: it.Done, Status: it.Status,
		Body: it.Body, ContentType: it.ContentType, CreatedAt: it.CreatedAt, ExpiresAt: time.Unix(it.ExpiresAt, 0)}, false, nil
}

// Complete overwrites the claim with the response.
func (i Idempotency) Complete(ctx context.Context, r *idempotency.Record) error {
	p, err := i.s.put(toIdemItem(r), nil)
	if err != nil {
		return err
	}
	if _, err := i.s.db.PutItem(ctx, putInput(p)); err != nil {
		return fmt.Errorf("complete idempotency key: %w", wrap(err))
	}
	return nil
}

// Release deletes a claim.
func (i Idempotency) Release(ctx context.Context, scope, k string) error {
	_, err := i.s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &i.s.table, Key: idemKey(scope, k).av()})
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", wrap(err))
	}
	return nil
}
