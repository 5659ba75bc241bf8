package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/outbound"
)

// Outbound events (package outbound): endpoints, the outbox of events not
// yet fanned out, and one delivery per event and endpoint.
//
//	endpoint   ENDPOINT#<id> / ENDPOINT          GSI2 ENDPOINT / <id>
//	event      OUTEVENT#<id> / OUTEVENT          GSI4 OUTBOX / <id> until fanned out
//	delivery   ENDPOINT#<endpoint id> / DELIVERY#<event id>
//	                                             GSI4 OUTDUE / <next attempt>#<endpoint id>#<event id> while pending
//
// Both GSI4 partitions are sparse: they hold only work still to do, so a
// run's reads grow with pending events and deliveries, never with the
// history. Events and deliveries expire (TTL) after outbound.EventRetention.

const (
	prefixEndpoint = "ENDPOINT#"
	prefixOutEvent = "OUTEVENT#"
	prefixDelivery = "DELIVERY#"
	kindEndpoint   = "ENDPOINT"
	partOutbox     = "OUTBOX"
	partOutDue     = "OUTDUE"
	// dueFormat is the delivery queue's time: fixed width, so it sorts.
	dueFormat = "2006-01-02T15:04:05Z"
)

func endpointKey(id string) key { return key{prefixEndpoint + id, "ENDPOINT"} }
func outEventKey(id string) key { return key{prefixOutEvent + id, "OUTEVENT"} }
func deliveryKey(endpointID, eventID string) key {
	return key{prefixEndpoint + endpointID, prefixDelivery + eventID}
}

// deliveryGSI4 is the delivery queue entry: empty (absent from the sparse
// index) unless the delivery is pending.
func deliveryGSI4(d *outbound.Delivery) (pk, sk string) {
	if d.State != outbound.Pending {
		return "", ""
	}
	return partOutDue, d.NextAttemptAt.UTC().Format(dueFormat) + "#" + d.EndpointID + "#" + d.EventID
}

type endpointItem struct {
	PK          string    `dynamodbav:"PK"`
	SK          string    `dynamodbav:"SK"`
	GSI2PK      string    `dynamodbav:"GSI2PK"`
	GSI2SK      string    `dynamodbav:"GSI2SK"`
	ID          string    `dynamodbav:"id"`
	URL         string    `dynamodbav:"url"`
	Events      []string  `dynamodbav:"events,omitempty"`
	Description string    `dynamodbav:"description,omitempty"`
	Secret      string    `dynamodbav:"signing_secret"`
	Disabled    bool      `dynamodbav:"disabled"`
	LastTest    *testItem `dynamodbav:"last_test,omitempty"`
	CreatedAt   time.Time `dynamodbav:"created_at"`
	UpdatedAt   time.Time `dynamodbav:"updated_at"`
	Version     int64     `dynamodbav:"version"`
}

// testItem is an endpoint's latest test delivery.
type testItem struct {
	EventID    string    `dynamodbav:"event_id"`
	At         time.Time `dynamodbav:"at"`
	StatusCode int       `dynamodbav:"status,omitempty"`
	Error      string    `dynamodbav:"error,omitempty"`
	DurationMS int64     `dynamodbav:"duration_ms"`
}

func toEndpointItem(e *outbound.Endpoint) endpointItem {
	k := endpointKey(e.ID)
	it := endpointItem{PK: k.PK, SK: k.SK, GSI2PK: kindEndpoint, GSI2SK: e.ID, ID: e.ID, URL: e.URL, Events: e.Events,
		Description: e.Description, Secret: e.Secret, Disabled: e.Disabled, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Version: e.Version}
	if t := e.LastTest; t != nil {
		it.LastTest = &testItem{EventID: t.EventID, At: t.At, StatusCode: t.StatusCode, Error: t.Error, DurationMS: t.Duration.Milliseconds()}
	}
	return it
}

func (it *endpointItem) endpoint() *outbound.Endpoint {
	e := &outbound.Endpoint{ID: it.ID, URL: it.URL, Events: it.Events, Description: it.Description, Secret: it.Secret,
		Disabled: it.Disabled, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, Version: it.Version}
	if t := it.LastTest; t != nil {
		e.LastTest = &outbound.TestResult{EventID: t.EventID, Attempt: outbound.Attempt{Number: 1, At: t.At, StatusCode: t.StatusCode,
			Error: t.Error, Duration: time.Duration(t.DurationMS) * time.Millisecond}}
	}
	return e
}

type outEventItem struct {
	PK        string    `dynamodbav:"PK"`
	SK        string    `dynamodbav:"SK"`
	GSI4PK    string    `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK    string    `dynamodbav:"GSI4SK,omitempty"`
	ID        string    `dynamodbav:"id"`
	Type      string    `dynamodbav:"type"`
	CreatedAt time.Time `dynamodbav:"created_at"`
	Data      string    `dynamodbav:"data"`
	ExpiresAt int64     `dynamodbav:"expires_at"`
}

type attemptItem struct {
	Number        int        `dynamodbav:"n"`
	At            time.Time  `dynamodbav:"at"`
	StatusCode    int        `dynamodbav:"status,omitempty"`
	Error         string     `dynamodbav:"error,omitempty"`
	DurationMS    int64      `dynamodbav:"duration_ms"`
	NextAttemptAt *time.Time `dynamodbav:"next_attempt_at,omitempty"`
}

type deliveryItem struct {
	PK            string        `dynamodbav:"PK"`
	SK            string        `dynamodbav:"SK"`
	GSI4PK        string        `dynamodbav:"GSI4PK,omitempty"`
	GSI4SK        string        `dynamodbav:"GSI4SK,omitempty"`
	EndpointID    string        `dynamodbav:"endpoint_id"`
	EventID       string        `dynamodbav:"event_id"`
	EventType     string        `dynamodbav:"event_type"`
	Body          string        `dynamodbav:"body"`
	State         string        `dynamodbav:"state"`
	Attempts      int           `dynamodbav:"attempts"`
	NextAttemptAt string        `dynamodbav:"next_attempt_at,omitempty"`
	Log           []attemptItem `dynamodbav:"log,omitempty"`
	CreatedAt     time.Time     `dynamodbav:"created_at"`
	ExpiresAt     int64         `dynamodbav:"expires_at"`
}

func toDeliveryItem(d *outbound.Delivery) deliveryItem {
	k := deliveryKey(d.EndpointID, d.EventID)
	it := deliveryItem{PK: k.PK, SK: k.SK, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType, Body: string(d.Body),
		State: string(d.State), Attempts: d.Attempts, CreatedAt: d.CreatedAt, ExpiresAt: d.CreatedAt.Add(outbound.EventRetention).Unix()}
	it.GSI4PK, it.GSI4SK = deliveryGSI4(d)
	if d.State == outbound.Pending {
		it.NextAttemptAt = d.NextAttemptAt.UTC().Format(dueFormat)
	}
	for _, a := range d.Log {
		it.Log = append(it.Log, attemptItem{Number: a.Number, At: a.At, StatusCode: a.StatusCode, Error: a.Error,
			DurationMS: a.Duration.Milliseconds(), NextAttemptAt: a.NextAttemptAt})
	}
	return it
}

func (it *deliveryItem) delivery() *outbound.Delivery {
	d := &outbound.Delivery{EndpointID: it.EndpointID, EventID: it.EventID, EventType: it.EventType, Body: []byte(it.Body),
		State: outbound.DeliveryState(it.State), Attempts: it.Attempts, CreatedAt: it.CreatedAt}
	if it.NextAttemptAt != "" {
		d.NextAttemptAt, _ = time.Parse(dueFormat, it.NextAttemptAt)
	}
	for _, a := range it.Log {
		d.Log = append(d.Log, outbound.Attempt{Number: a.Number, At: a.At, StatusCode: a.StatusCode, Error: a.Error,
			Duration: time.Duration(a.DurationMS) * time.Millisecond, NextAttemptAt: a.NextAttemptAt})
	}
	return d
}

// outEventPuts are the outbox records of events raised by a change, for
// the change's own transaction: an event exists only if its change
// committed. They are not entities, so not audited.
func (s *Store) outEventPuts(evs []*outbound.Event) ([]types.TransactWriteItem, error) {
	var out []types.TransactWriteItem
	for _, ev := range evs {
		k := outEventKey(ev.ID)
		p, err := s.put(outEventItem{PK: k.PK, SK: k.SK, GSI4PK: partOutbox, GSI4SK: ev.ID, ID: ev.ID, Type: ev.Type,
			CreatedAt: ev.CreatedAt, Data: string(ev.Data), ExpiresAt: ev.CreatedAt.Add(outbound.EventRetention).Unix()}, notExists())
		if err != nil {
			return nil, err
		}
		out = append(out, types.TransactWriteItem{Put: p})
	}
	return out, nil
}

// CreateEndpoint stores a new endpoint (audited; the secret is not
// written to the audit trail).
func (s *Store) CreateEndpoint(ctx context.Context, e *outbound.Endpoint) error {
	p, err := s.put(toEndpointItem(e), notExists())
	if err != nil {
		return err
	}
	if err := s.writeTx(ctx, []types.TransactWriteItem{{Put: p}}, []*apperr.Error{apperr.New(apperr.Conflict, "endpoint %s already exists", e.ID)}); err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	return nil
}

// GetEndpoint reads an endpoint. Errors: NotFound.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*outbound.Endpoint, error) {
	return getOne(ctx, s, endpointKey(id), "endpoint", id, (*endpointItem).endpoint)
}

// ListEndpoints returns every endpoint, oldest first (Query GSI2 ENDPOINT;
// at most outbound.MaxEndpoints).
func (s *Store) ListEndpoints(ctx context.Context) ([]*outbound.Endpoint, error) {
	var out []*outbound.Endpoint
	err := runTyped(ctx, s, newIndexQuery(indexByKind, kindEndpoint, 100), "", (*endpointItem).endpoint, func(e *outbound.Endpoint, _ string) bool {
		out = append(out, e)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return out, nil
}

// UpdateEndpoint rewrites an endpoint on its version. Errors: Conflict.
func (s *Store) UpdateEndpoint(ctx context.Context, e *outbound.Endpoint) error {
	p, err := s.put(toEndpointItem(e), versionIs(e.Version-1))
	if err != nil {
		return err
	}
	if err := s.writeTx(ctx, []types.TransactWriteItem{{Put: p}}, []*apperr.Error{apperr.Race("endpoint %s changed concurrently", e.ID)}); err != nil {
		return fmt.Errorf("update endpoint: %w", err)
	}
	return nil
}

// DeleteEndpoint removes an endpoint. Its delivery log stays until it
// expires; the next delivery run cancels what was still queued for it.
// Errors: NotFound.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	e := conditional(expression.AttributeExists(expression.Name(attrPK)))
	del := types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: endpointKey(id).av(),
		ConditionExpression: e.Condition(), ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values()}}
	if err := s.writeTx(ctx, []types.TransactWriteItem{del}, []*apperr.Error{apperr.NotFoundf("no endpoint %q", id)}); err != nil {
		return fmt.Errorf("delete endpoint: %w", err)
	}
	return nil
}

// ListDeliveries returns an endpoint's deliveries, newest event first
// (Query PK ENDPOINT#<id>, SK begins_with DELIVERY#, backwards).
func (s *Store) ListDeliveries(ctx context.Context, endpointID string, limit int) ([]*outbound.Delivery, error) {
	kc := expression.Key(attrPK).Equal(expression.Value(prefixEndpoint + endpointID)).And(expression.Key(attrSK).BeginsWith(prefixDelivery))
	e, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, fmt.Errorf("build key condition: %w", err)
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: e.KeyCondition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ScanIndexForward: aws.Bool(false),
		Limit: aws.Int32(int32(limit)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("list deliveries of %s: %w", endpointID, wrap(err))
	}
	out := make([]*outbound.Delivery, 0, len(res.Items))
	for _, av := range res.Items {
		var it deliveryItem
		if err := unmarshal(av, &it); err != nil {
			return nil, err
		}
		out = append(out, it.delivery())
	}
	return out, nil
}

// PendingEvents returns up to limit events not yet fanned out, oldest
// first (Query GSI4 OUTBOX).
func (s *Store) PendingEvents(ctx context.Context, limit int) ([]*outbound.Event, error) {
	var out []*outbound.Event
	err := runTyped(ctx, s, newIndexQuery(indexFollowUps, partOutbox, min(limit, 1000)), "", func(it *outEventItem) *outbound.Event {
		return &outbound.Event{ID: it.ID, Type: it.Type, CreatedAt: it.CreatedAt, Data: []byte(it.Data)}
	}, func(ev *outbound.Event, _ string) bool {
		out = append(out, ev)
		return len(out) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("pending events: %w", err)
	}
	return out, nil
}

// FanOut creates an event's deliveries and takes the event out of the
// outbox, in one transaction conditioned on the event still being in it:
// of two runs fanning out one event, one does. false: already fanned out.
func (s *Store) FanOut(ctx context.Context, ev *outbound.Event, ds []*outbound.Delivery) (bool, error) {
	if len(ds) > 99 {
		return false, fmt.Errorf("fan out %s: %d deliveries do not fit in one transaction", ev.ID, len(ds))
	}
	e, err := expression.NewBuilder().
		WithUpdate(expression.Remove(expression.Name(attrGSI4PK)).Remove(expression.Name(attrGSI4SK)).
			Set(expression.Name("endpoints"), expression.Value(len(ds)))).
		WithCondition(expression.Name(attrGSI4PK).Equal(expression.Value(partOutbox))).Build()
	if err != nil {
		return false, fmt.Errorf("build fan-out: %w", err)
	}
	items := []types.TransactWriteItem{{Update: txUpdate(s.table, outEventKey(ev.ID), e)}}
	for _, d := range ds {
		p, err := s.put(toDeliveryItem(d), notExists())
		if err != nil {
			return false, err
		}
		items = append(items, types.TransactWriteItem{Put: p})
	}
	_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if asErr(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == "ConditionalCheckFailed" {
				return false, nil
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("fan out %s: %w", ev.ID, wrap(err))
	}
	return true, nil
}

// DueDeliveries returns up to limit pending deliveries whose next attempt
// is due by through, earliest first (Query GSI4 OUTDUE up to the time).
func (s *Store) DueDeliveries(ctx context.Context, through time.Time, limit int) ([]*outbound.Delivery, error) {
	q := newIndexQuery(indexFollowUps, partOutDue, min(limit, 1000))
	q.sk, q.hasSK = expression.Key(attrGSI4SK).LessThanEqual(expression.Value(through.UTC().Format(dueFormat)+"#~")), true
	var out []*outbound.Delivery
	err := runTyped(ctx, s, q, "", (*deliveryItem).delivery, func(d *outbound.Delivery, _ string) bool {
		out = append(out, d)
		return len(out) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("due deliveries: %w", err)
	}
	return out, nil
}

// ClaimDelivery reserves the next attempt of d until the given time: one
// UpdateItem that increments attempts and moves the next attempt (and the
// queue entry) to the lease's end, on the delivery still being pending
// with the attempts and time it was read with. Of two runs that read the
// same delivery, one claims it.
func (s *Store) ClaimDelivery(ctx context.Context, d *outbound.Delivery, until time.Time) (bool, error) {
	claimed := *d
	claimed.Attempts, claimed.NextAttemptAt = d.Attempts+1, until
	_, gsk := deliveryGSI4(&claimed)
	e, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("attempts"), expression.Value(claimed.Attempts)).
			Set(expression.Name("next_attempt_at"), expression.Value(until.UTC().Format(dueFormat))).
			Set(expression.Name(attrGSI4SK), expression.Value(gsk))).
		WithCondition(expression.Name("state").Equal(expression.Value(string(outbound.Pending))).
			And(expression.Name("attempts").Equal(expression.Value(d.Attempts))).
			And(expression.Name("next_attempt_at").Equal(expression.Value(d.NextAttemptAt.UTC().Format(dueFormat))))).Build()
	if err != nil {
		return false, fmt.Errorf("build claim: %w", err)
	}
	in := updateInput(s.table, deliveryKey(d.EndpointID, d.EventID), e)
	in.ReturnValues = types.ReturnValueNone
	if _, err := s.db.UpdateItem(ctx, in); err != nil {
		if err := wrap(err); apperr.Is(err, apperr.Conflict) {
			return false, nil
		}
		return false, fmt.Errorf("claim delivery: %w", wrap(err))
	}
	d.Attempts, d.NextAttemptAt = claimed.Attempts, until
	return true, nil
}

// SaveDelivery writes a delivery whole (its state, log and queue entry)
// if its attempt count is still expectAttempts: a run whose claim lapsed
// and was taken over cannot overwrite the newer attempt's record.
func (s *Store) SaveDelivery(ctx context.Context, d *outbound.Delivery, expectAttempts int) (bool, error) {
	c := expression.Name("attempts").Equal(expression.Value(expectAttempts))
	p, err := s.put(toDeliveryItem(d), &c)
	if err != nil {
		return false, err
	}
	if _, err := s.db.PutItem(ctx, putInput(p)); err != nil {
		if err := wrap(err); apperr.Is(err, apperr.Conflict) {
			return false, nil
		}
		return false, fmt.Errorf("save delivery: %w", wrap(err))
	}
	return true, nil
}
