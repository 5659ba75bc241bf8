// Package audit holds Dunlin's audit trail: one record for every change to
// a stored entity, saying who made it, when, through which door, and which
// fields changed from what to what. Records are written in the same
// transaction as the change they describe, so there is never a change
// without its record nor a record without its change, and they are never
// updated or deleted.
//
// The actor travels in the request's context: the API puts the key id
// there, the webhook handler the provider, the sweep itself. A write made
// with no actor in its context is recorded as "system".
package audit

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Record is one entry of the trail.
type Record struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"` // "key:<key id>", "webhook:<provider>", "system:sweep", "system"
	Via        string    `json:"via,omitempty"`
	RequestID  string    `json:"request_id,omitempty"`
	Entity     string    `json:"entity"` // the entity's id (customer, invoice, payment...)
	Kind       string    `json:"kind"`   // what the entity is: customer, invoice, payment...
	Action     string    `json:"action"` // create, update or delete
	CustomerID string    `json:"customer_id,omitempty"`
	Changes    []Change  `json:"changes"`
}

// Change is one field's change. Before and After are JSON values (absent:
// the field did not exist). By is set instead of both for a change made
// without reading the value it changes (an increment): its size.
type Change struct {
	Field  string          `json:"field"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	By     json.RawMessage `json:"by,omitempty"`
}

// Scope is what the audit trail needs to know about the work a context
// carries: who is acting and through what, plus the records the store
// read on the way, which are the "before" of what it then writes.
type Scope struct {
	Actor     string
	Via       string
	RequestID string

	parent *Scope // the enclosing work's scope: its reads count too
	mu     sync.Mutex
	seen   map[string]any
}

type scopeKey struct{}

// Begin returns a context that carries a new scope for actor, acting
// through via (a route, "sweep", a webhook). Inside another scope, the new
// one also recalls what the outer one read (the sweep reads its queue
// once, then works customer by customer).
func Begin(ctx context.Context, actor, via, requestID string) context.Context {
	return context.WithValue(ctx, scopeKey{}, &Scope{Actor: actor, Via: via, RequestID: requestID, parent: From(ctx)})
}

// Fork returns a context with a child of ctx's scope: same actor, route
// and request, its own memory of reads. Work done item by item (the sweep's
// customers) forks one per item, so memory does not grow with the run.
func Fork(ctx context.Context) context.Context {
	p := From(ctx)
	if p == nil {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, &Scope{Actor: p.Actor, Via: p.Via, RequestID: p.RequestID, parent: p})
}

// From returns the context's scope, or nil.
func From(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

// ActorOf returns the context's actor, "system" when none was set.
func ActorOf(ctx context.Context) string {
	if s := From(ctx); s != nil && s.Actor != "" {
		return s.Actor
	}
	return "system"
}

// Remember keeps what was read under key k, replacing older reads.
// Safe on a nil scope (it does nothing).
func (s *Scope) Remember(k string, v any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = make(map[string]any)
	}
	s.seen[k] = v
}

// Recall returns what was last read or written under k, or nil.
func (s *Scope) Recall(k string) any {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	v, ok := s.seen[k]
	s.mu.Unlock()
	if !ok {
		return s.parent.Recall(k)
	}
	return v
}
