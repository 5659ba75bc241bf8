// Package outbound tells the firm's own systems what happened in Dunlin:
// signed JSON events, POSTed to HTTPS endpoints the firm registers,
// retried with backoff, with a log of every attempt.
//
// An event is written as an outbox record in the same DynamoDB
// transaction as the change that causes it, so an event exists exactly
// when its change committed. A scheduled delivery run (Runner) fans each
// new event out into one delivery per subscribed endpoint and sends the
// deliveries that are due. Delivery is at least once: receivers
// de-duplicate on the event id.
//
// The package holds the rules (event types, endpoint validation, signing,
// the retry schedule, the delivery run); the DynamoDB store implements
// Store.
package outbound

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"dunlin/shared/ids"
)

// Event types. These names are a contract with receivers: never rename one.
const (
	InvoiceOverdue       = "invoice.overdue"
	DunningEmailSent     = "dunning.email_sent"
	PromiseBroken        = "promise.broken"
	CustomerGradeChanged = "customer.grade_changed"
	PaymentApplied       = "payment.applied"
)

// TestEvent is what a test delivery (Service.Test) sends: never raised by
// a change, never fanned out, so no endpoint subscribes to it.
const TestEvent = "endpoint.test"

// Types lists every event type, in the order the documentation gives them.
var Types = []string{InvoiceOverdue, DunningEmailSent, PromiseBroken, CustomerGradeChanged, PaymentApplied}

// KnownType reports whether t is one of Types.
func KnownType(t string) bool { return slices.Contains(Types, t) }

// Event is one fact to tell the endpoints. Data is the event's payload as
// JSON, fixed when the event is made: a retry sends the same facts even
// if the records changed since.
type Event struct {
	ID        string // evt_...
	Type      string
	CreatedAt time.Time
	Data      json.RawMessage
}

// EventRetention is how long events and their deliveries are kept: long
// enough to read a delivery's log after its last retry (about a day), and
// for the firm to look back over a month.
const EventRetention = 30 * 24 * time.Hour

// NewEvent makes an event of a known type with data marshalled to JSON.
// It panics on an unknown type or on data that cannot be marshalled:
// both are programming errors in the code that raises the event.
func NewEvent(typ string, at time.Time, data any) *Event {
	if !KnownType(typ) {
		panic(fmt.Sprintf("outbound: unknown event type %q", typ))
	}
	b, err := json.Marshal(data)
	if err != nil {
		panic(fmt.Sprintf("outbound: marshal %s data: %v", typ, err))
	}
	return &Event{ID: ids.New("evt_", at), Type: typ, CreatedAt: at.UTC(), Data: b}
}

// envelope is the body POSTed to an endpoint.
type envelope struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Body is the JSON an endpoint receives for the event.
func (e *Event) Body() []byte {
	b, err := json.Marshal(envelope{ID: e.ID, Type: e.Type, CreatedAt: e.CreatedAt.UTC(), Data: e.Data})
	if err != nil {
		panic(fmt.Sprintf("outbound: marshal event %s: %v", e.ID, err)) // Data is valid JSON by construction
	}
	return b
}
