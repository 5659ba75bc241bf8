package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
)

// promiseItem is a promise to pay, under its customer:
// PK CUSTOMER#<id>, SK PROMISE#<promise id> (ids sort by creation).
type promiseItem struct {
	PK         string     `dynamodbav:"PK"`
	SK         string     `dynamodbav:"SK"`
	GSI2PK     string     `dynamodbav:"GSI2PK,omitempty"` // PROMISE: every promise by the day it was made
	GSI2SK     string     `dynamodbav:"GSI2SK,omitempty"` // <made_on>#<id>
	ID         string     `dynamodbav:"id"`
	CustomerID string     `dynamodbav:"customer_id"`
	Amount     int64      `dynamodbav:"amount"`
	Currency   string     `dynamodbav:"currency"`
	PromisedOn string     `dynamodbav:"promised_on"`
	MadeOn     string     `dynamodbav:"made_on"`
	GraceDays  int        `dynamodbav:"grace_days"`
	InvoiceIDs []string   `dynamodbav:"invoice_ids"`
	AtPromise  int64      `dynamodbav:"balance_at_promise"`
	TakenBy    string     `dynamodbav:"taken_by,omitempty"`
	Channel    string     `dynamodbav:"channel"`
	Note       string     `dynamodbav:"note,omitempty"`
	State      string     `dynamodbav:"state"`
	CreatedAt  time.Time  `dynamodbav:"created_at"`
	ResolvedAt *time.Time `dynamodbav:"resolved_at,omitempty"`
}

func promiseKey(customerID, id string) key {
	return key{prefixCustomer + customerID, prefixPromise + id}
}

func toPromiseItem(p *billing.Promise) promiseItem {
	k := promiseKey(p.CustomerID, p.ID)
	return promiseItem{PK: k.PK, SK: k.SK, GSI2PK: kindPromise, GSI2SK: p.MadeOn.String() + "#" + p.ID, ID: p.ID, CustomerID: p.CustomerID, Amount: p.Amount, Currency: p.Currency,
		PromisedOn: p.PromisedOn.String(), MadeOn: p.MadeOn.String(), GraceDays: p.GraceDays, InvoiceIDs: p.InvoiceIDs, AtPromise: p.BalanceAtPromise,
		TakenBy: p.TakenBy, Channel: p.Channel, Note: p.Note, State: string(p.State), CreatedAt: p.CreatedAt, ResolvedAt: p.ResolvedAt}
}

func (it *promiseItem) promise() *billing.Promise {
	on, _ := civil.Parse(it.PromisedOn)
	made, _ := civil.Parse(it.MadeOn)
	return &billing.Promise{ID: it.ID, CustomerID: it.CustomerID, Amount: it.Amount, Currency: it.Currency, PromisedOn: on, MadeOn: made,
		GraceDays: it.GraceDays, InvoiceIDs: it.InvoiceIDs, BalanceAtPromise: it.AtPromise, TakenBy: it.TakenBy, Channel: it.Channel,
		Note: it.Note, State: billing.PromiseState(it.State), CreatedAt: it.CreatedAt, ResolvedAt: it.ResolvedAt}
}

// GetPromise reads one of a customer's promises.
func (s *Store) GetPromise(ctx context.Context, customerID, id string) (*billing.Promise, error) {
	return getOne(ctx, s, promiseKey(customerID, id), "promise", id, (*promiseItem).promise)
}

// ListPromises reads a customer's promises: one Query on its partition.
func (s *Store) ListPromises(ctx context.Context, customerID string) ([]*billing.Promise, error) {
	var out []*billing.Promise
	err := s.queryPrefix(ctx, prefixCustomer+customerID, prefixPromise, func(av map[string]types.AttributeValue) error {
		var it promiseItem
		if err := unmarshal(av, &it); err != nil {
			return err
		}
		out = append(out, it.promise())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("promises of %s: %w", customerID, err)
	}
	return out, nil
}

// queryPrefix reads every item of a partition whose sort key starts with prefix.
func (s *Store) queryPrefix(ctx context.Context, pk, prefix string, fn func(map[string]types.AttributeValue) error) error {
	e, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrPK).Equal(expression.Value(pk)).And(expression.Key(attrSK).BeginsWith(prefix))).Build()
	if err != nil {
		return err
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: e.KeyCondition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ConsistentRead: boolPtr(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap(err)
		}
		for _, av := range page.Items {
			if err := fn(av); err != nil {
				return err
			}
		}
	}
	return nil
}

// alertItem is an alert: PK ALERT#<id>; GSI1 lists a customer's, GSI2 all.
type alertItem struct {
	PK         string    `dynamodbav:"PK"`
	SK         string    `dynamodbav:"SK"`
	GSI1PK     string    `dynamodbav:"GSI1PK"`
	GSI1SK     string    `dynamodbav:"GSI1SK"`
	GSI2PK     string    `dynamodbav:"GSI2PK"`
	GSI2SK     string    `dynamodbav:"GSI2SK"`
	ID         string    `dynamodbav:"id"`
	CustomerID string    `dynamodbav:"customer_id"`
	Kind       string    `dynamodbav:"kind"`
	State      string    `dynamodbav:"state"`
	Message    string    `dynamodbav:"message"`
	Ref        string    `dynamodbav:"ref,omitempty"`
	CreatedAt  time.Time `dynamodbav:"created_at"`
	UpdatedAt  time.Time `dynamodbav:"updated_at"`
}

func alertKey(id string) key { return key{prefixAlert + id, "ALERT"} }

func toAlertItem(a *billing.Alert) alertItem {
	k := alertKey(a.ID)
	return alertItem{PK: k.PK, SK: k.SK, GSI1PK: prefixCustomer + a.CustomerID, GSI1SK: prefixAlert + a.ID, GSI2PK: kindAlert, GSI2SK: a.ID,
		ID: a.ID, CustomerID: a.CustomerID, Kind: a.Kind, State: a.State, Message: a.Message, Ref: a.Ref, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

func (it *alertItem) alert() *billing.Alert {
	return &billing.Alert{ID: it.ID, CustomerID: it.CustomerID, Kind: it.Kind, State: it.State, Message: it.Message, Ref: it.Ref,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt}
}

// ListAlerts reads one customer's alerts (GSI1) or everyone's (GSI2), oldest first.
func (s *Store) ListAlerts(ctx context.Context, customerID string) ([]*billing.Alert, error) {
	q := newIndexQuery(indexByKind, kindAlert, 100)
	if customerID != "" {
		q = newIndexQuery(indexByCustomer, prefixCustomer+customerID, 100)
		q.sk, q.hasSK = expression.Key(attrGSI1SK).BeginsWith(prefixAlert), true
	}
	var out []*billing.Alert
	err := runTyped(ctx, s, q, "", (*alertItem).alert, func(a *billing.Alert, _ string) bool {
		out = append(out, a)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return out, nil
}

// SetAlertState changes an alert's state: it reads the alert (the audit
// trail's "before"), then writes it on the condition that its state is
// still the one read. Setting the state it already has writes nothing.
func (s *Store) SetAlertState(ctx context.Context, id, state string, at time.Time) (*billing.Alert, error) {
	for {
		a, err := getOne(ctx, s, alertKey(id), "alert", id, (*alertItem).alert)
		if err != nil || a.State == state {
			return a, err
		}
		c := expression.Name("state").Equal(expression.Value(a.State))
		a.State, a.UpdatedAt = state, at
		p, err := s.put(toAlertItem(a), &c)
		if err != nil {
			return nil, err
		}
		err = s.writeTx(ctx, []types.TransactWriteItem{{Put: p}}, []*apperr.Error{apperr.Race("alert %s changed concurrently", id)})
		if !errors.Is(err, apperr.ErrLostRace) {
			if err != nil {
				return nil, fmt.Errorf("set alert %s: %w", id, err)
			}
			return a, nil
		}
	}
}

// promiseItems are a posting's promise and alert writes.
func (s *Store) promiseItems(pt *billing.Posting, add func(types.TransactWriteItem, *apperr.Error)) error {
	if p := pt.Promise; p != nil {
		put, err := s.put(toPromiseItem(p), notExists())
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: put}, apperr.New(apperr.Conflict, "promise %s already exists", p.ID))
	}
	if p := pt.PromiseUpdate; p != nil {
		c := expression.Name("state").Equal(expression.Value(string(billing.PromiseOpen)))
		put, err := s.put(toPromiseItem(p), &c)
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: put}, apperr.Race("promise %s was settled concurrently", p.ID))
	}
	for _, a := range pt.Alerts {
		put, err := s.put(toAlertItem(a), notExists())
		if err != nil {
			return err
		}
		add(types.TransactWriteItem{Put: put}, apperr.New(apperr.Conflict, "alert %s already exists", a.ID))
	}
	return nil
}

// ListPromisesMade calls fn with every promise made on a customer-local
// day from from to to (inclusive), by day, until fn returns false.
func (s *Store) ListPromisesMade(ctx context.Context, from, to civil.Date, fn func(*billing.Promise) bool) error {
	q := newIndexQuery(indexByKind, kindPromise, 1000)
	q.sk, q.hasSK = expression.Key(attrGSI2SK).Between(expression.Value(from.String()), expression.Value(to.String()+"#~")), true
	return runTyped(ctx, s, q, "", (*promiseItem).promise, func(p *billing.Promise, _ string) bool { return fn(p) })
}
