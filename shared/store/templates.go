package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/dunning"
	"dunlin/shared/emails"
)

// templateItem is a firm's wording for one tone in one language:
// PK TEMPLATE#<language>, SK <tone>.
type templateItem struct {
	PK        string         `dynamodbav:"PK"`
	SK        string         `dynamodbav:"SK"`
	Phrases   emails.Phrases `dynamodbav:"phrases"`
	UpdatedAt time.Time      `dynamodbav:"updated_at"`
}

func templateKey(lang string, tone dunning.Tone) key { return key{prefixTemplate + lang, string(tone)} }

// GetOverrides reads a language's overrides (at most one per tone) in one Query.
func (s *Store) GetOverrides(ctx context.Context, lang string) (emails.Overrides, error) {
	e, err := expression.NewBuilder().WithKeyCondition(expression.Key(attrPK).Equal(expression.Value(prefixTemplate + lang))).Build()
	if err != nil {
		return nil, err
	}
	res, err := s.db.Query(ctx, &dynamodb.QueryInput{TableName: &s.table, KeyConditionExpression: e.KeyCondition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(), ConsistentRead: boolPtr(true)})
	if err != nil {
		return nil, fmt.Errorf("templates %s: %w", lang, wrap(err))
	}
	out := emails.Overrides{}
	for _, av := range res.Items {
		var it templateItem
		if err := unmarshal(av, &it); err != nil {
			return nil, err
		}
		out[dunning.Tone(it.SK)] = it.Phrases
	}
	return out, nil
}

// PutOverride stores a firm's wording for a tone.
func (s *Store) PutOverride(ctx context.Context, lang string, tone dunning.Tone, p emails.Phrases, now time.Time) error {
	k := templateKey(lang, tone)
	pp, err := s.put(templateItem{PK: k.PK, SK: k.SK, Phrases: p, UpdatedAt: now}, nil)
	if err != nil {
		return err
	}
	if err := s.writeTx(ctx, []types.TransactWriteItem{{Put: pp}}, nil); err != nil {
		return fmt.Errorf("put template %s/%s: %w", lang, tone, err)
	}
	return nil
}

// DeleteOverride returns a tone to Dunlin's own wording.
func (s *Store) DeleteOverride(ctx context.Context, lang string, tone dunning.Tone) error {
	del := types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: templateKey(lang, tone).av()}}
	if err := s.writeTx(ctx, []types.TransactWriteItem{del}, nil); err != nil {
		return fmt.Errorf("delete template %s/%s: %w", lang, tone, err)
	}
	return nil
}
