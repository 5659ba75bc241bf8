package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"dunlin/shared/apperr"
)

// indexQuery is one Query on an index, read page by page.
type indexQuery struct {
	index    string
	pkAttr   string // the index's partition key attribute
	skAttr   string
	pk       string // the partition being read
	sk       expression.KeyConditionBuilder
	hasSK    bool
	pageSize int32
}

func indexAttrs(index string) (pk, sk string) {
	switch index {
	case indexByCustomer:
		return attrGSI1PK, attrGSI1SK
	case indexWorkQueue:
		return attrGSI3PK, attrGSI3SK
	case indexFollowUps:
		return attrGSI4PK, attrGSI4SK
	}
	return attrGSI2PK, attrGSI2SK
}

func newIndexQuery(index, pk string, pageSize int) indexQuery {
	pkAttr, skAttr := indexAttrs(index)
	if pageSize < 1 || pageSize > 1000 {
		pageSize = 100
	}
	return indexQuery{index: index, pkAttr: pkAttr, skAttr: skAttr, pk: pk, pageSize: int32(pageSize)}
}

// Cursors are opaque to clients: the key of the last item returned, as
// base64url JSON. Decoding checks the cursor belongs to the same partition, so
// a cursor from one listing cannot be replayed against another.
func (q indexQuery) cursorOf(item map[string]types.AttributeValue) string {
	k := map[string]string{}
	for _, a := range []string{attrPK, attrSK, q.pkAttr, q.skAttr} {
		if v, ok := item[a].(*types.AttributeValueMemberS); ok {
			k[a] = v.Value
		}
	}
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (q indexQuery) decodeCursor(cursor string) (map[string]types.AttributeValue, error) {
	bad := apperr.Field(apperr.BadRequest, "cursor", "cursor is not one this listing returned")
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) > 2048 {
		return nil, bad
	}
	var k map[string]string
	if err := json.Unmarshal(b, &k); err != nil || len(k) != 4 || k[q.pkAttr] != q.pk {
		return nil, bad
	}
	out := map[string]types.AttributeValue{}
	for _, a := range []string{attrPK, attrSK, q.pkAttr, q.skAttr} {
		v, ok := k[a]
		if !ok || v == "" {
			return nil, bad
		}
		out[a] = &types.AttributeValueMemberS{Value: v}
	}
	return out, nil
}

// cursorSK returns the index sort key a well-formed cursor points at, or "".
func (q indexQuery) cursorSK(cursor string) string {
	k, err := q.decodeCursor(cursor)
	if err != nil {
		return ""
	}
	return k[q.skAttr].(*types.AttributeValueMemberS).Value
}

// run reads the query from cursor on, calling fn for each item with the
// cursor that resumes after it, until fn returns false or the range ends.
func (s *Store) run(ctx context.Context, q indexQuery, cursor string, fn func(item map[string]types.AttributeValue, next string) bool) error {
	kc := expression.Key(q.pkAttr).Equal(expression.Value(q.pk))
	if q.hasSK {
		kc = kc.And(q.sk)
	}
	e, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return fmt.Errorf("build key condition: %w", err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 &s.table,
		IndexName:                 &q.index,
		KeyConditionExpression:    e.KeyCondition(),
		ExpressionAttributeNames:  e.Names(),
		ExpressionAttributeValues: e.Values(),
		Limit:                     &q.pageSize,
	}
	if cursor != "" {
		if in.ExclusiveStartKey, err = q.decodeCursor(cursor); err != nil {
			return err
		}
	}
	for p := dynamodb.NewQueryPaginator(s.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			var api smithy.APIError
			if cursor != "" && errors.As(err, &api) && api.ErrorCode() == "ValidationException" && strings.Contains(strings.ToLower(api.ErrorMessage()), "start") {
				// A forged cursor outside the key range.
				return apperr.Field(apperr.BadRequest, "cursor", "cursor is not one this listing returned")
			}
			return fmt.Errorf("query %s %s: %w", q.index, q.pk, wrap(err))
		}
		for _, item := range page.Items {
			if !fn(item, q.cursorOf(item)) {
				return nil
			}
		}
	}
	return nil
}

// runTyped is run with each item unmarshalled into a T and converted.
func runTyped[T any, R any](ctx context.Context, s *Store, q indexQuery, cursor string, conv func(*T) *R, fn func(*R, string) bool) error {
	var convErr error
	err := s.run(ctx, q, cursor, func(av map[string]types.AttributeValue, next string) bool {
		var it T
		if convErr = attributevalue.UnmarshalMap(av, &it); convErr != nil {
			return false
		}
		return fn(conv(&it), next)
	})
	if convErr != nil {
		return fmt.Errorf("unmarshal %T: %w", *new(T), convErr)
	}
	return err
}
