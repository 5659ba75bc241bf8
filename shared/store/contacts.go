package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/billing"
	"dunlin/shared/civil"
	"dunlin/shared/ids"
)

// ListContacts returns a customer's contact log, newest first, up to limit.
func (s *Store) ListContacts(ctx context.Context, customerID string, limit int) ([]billing.Contact, error) {
	e, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(attrPK).Equal(expression.Value(prefixCustomer + customerID)).
			And(expression.Key(attrSK).BeginsWith(prefixContact))).Build()
	if err != nil {
		return nil, err
	}
	lim := int32(limit)
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName: &s.table, KeyConditionExpression: e.KeyCondition(), ExpressionAttributeNames: e.Names(),
		ExpressionAttributeValues: e.Values(), ScanIndexForward: boolPtr(false), Limit: &lim,
	})
	if err != nil {
		return nil, fmt.Errorf("contacts of %s: %w", customerID, wrap(err))
	}
	out := make([]billing.Contact, 0, len(res.Items))
	for _, av := range res.Items {
		var it contactItem
		if err := unmarshal(av, &it); err != nil {
			return nil, err
		}
		follow, _ := civil.Parse(it.FollowUpOn)
		out = append(out, billing.Contact{At: it.At, Channel: it.Channel, Summary: it.Summary, Ref: it.Ref,
			Direction: it.Direction, Outcome: it.Outcome, Reason: it.Reason, FollowUpOn: follow})
	}
	return out, nil
}

// AddContact writes a contact-log entry and, when the customer responded,
// the customer with its new LastResponseAt (conditional on its version), in
// one transaction.
func (s *Store) AddContact(ctx context.Context, customerID string, c billing.Contact, responded *billing.Customer) error {
	// The id keeps two entries logged in the same instant apart; the log
	// is append-only.
	cp, err := s.put(contactItem{
		PK: prefixCustomer + customerID, SK: prefixContact + c.At.UTC().Format(time.RFC3339Nano) + "#" + c.Channel + "#" + ids.New("", c.At),
		CustomerID: customerID, At: c.At, Channel: c.Channel, Summary: c.Summary, Ref: c.Ref,
		Direction: c.Direction, Outcome: c.Outcome, Reason: c.Reason, FollowUpOn: c.FollowUpOn.String(),
	}, notExists())
	if err != nil {
		return err
	}
	items := []types.TransactWriteItem{{Put: cp}}
	if responded != nil {
		p, err := s.put(toCustomerItem(responded), versionIs(responded.Version-1))
		if err != nil {
			return err
		}
		items = append(items, types.TransactWriteItem{Put: p})
	}
	if err := s.writeTx(ctx, items, []*apperr.Error{nil, apperr.Race("customer %s was changed concurrently", customerID)}); err != nil {
		return fmt.Errorf("add contact: %w", err)
	}
	return nil
}
