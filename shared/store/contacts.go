package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Contact is one entry of a customer's contact log.
type Contact struct {
	At      time.Time
	Channel string
	Summary string
	Ref     string
}

// ListContacts returns a customer's contact log, newest first, up to limit.
func (s *Store) ListContacts(ctx context.Context, customerID string, limit int) ([]Contact, error) {
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
	out := make([]Contact, 0, len(res.Items))
	for _, av := range res.Items {
		var it contactItem
		if err := unmarshal(av, &it); err != nil {
			return nil, err
		}
		out = append(out, Contact{At: it.At, Channel: it.Channel, Summary: it.Summary, Ref: it.Ref})
	}
	return out, nil
}
