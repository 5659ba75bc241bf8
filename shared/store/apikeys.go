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
	"dunlin/shared/auth"
)

// keyItem is an API key as stored: the hash of its secret, never the secret.
type keyItem struct {
	PK         string     `dynamodbav:"PK"`
	SK         string     `dynamodbav:"SK"`
	GSI2PK     string     `dynamodbav:"GSI2PK"`
	GSI2SK     string     `dynamodbav:"GSI2SK"`
	ID         string     `dynamodbav:"id"`
	Name       string     `dynamodbav:"name"`
	Role       string     `dynamodbav:"role"`
	SecretHash []byte     `dynamodbav:"secret_hash"`
	CreatedAt  time.Time  `dynamodbav:"created_at"`
	RevokedAt  *time.Time `dynamodbav:"revoked_at,omitempty"`
	LastUsedAt *time.Time `dynamodbav:"last_used_at,omitempty"`
}

func (it *keyItem) key() *auth.Key {
	return &auth.Key{ID: it.ID, Name: it.Name, Role: auth.Role(it.Role), SecretHash: it.SecretHash, CreatedAt: it.CreatedAt, RevokedAt: it.RevokedAt, LastUsedAt: it.LastUsedAt}
}

// TouchKey records when a key was last used. It is not in the audit trail:
// using a key changes nothing about it. One conditional write, which does
// nothing when the time is fresh or the key is gone.
func (s *Store) TouchKey(ctx context.Context, id string, at, staleBefore time.Time) error {
	used := expression.Name("last_used_at")
	e, err := expression.NewBuilder().
		WithUpdate(expression.Set(used, expression.Value(at.UTC()))).
		WithCondition(expression.AttributeExists(expression.Name(attrPK)).
			And(expression.AttributeNotExists(used).Or(used.LessThanEqual(expression.Value(staleBefore.UTC()))))).
		Build()
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: apiKeyKey(id).av(), UpdateExpression: e.Update(), ConditionExpression: e.Condition(),
		ExpressionAttributeNames: e.Names(), ExpressionAttributeValues: e.Values(),
	})
	if err != nil {
		return fmt.Errorf("touch key: %w", wrap(err))
	}
	return nil
}

func toKeyItem(k *auth.Key) keyItem {
	kk := apiKeyKey(k.ID)
	return keyItem{PK: kk.PK, SK: kk.SK, GSI2PK: kindKey, GSI2SK: k.ID, ID: k.ID, Name: k.Name, Role: string(k.Role), SecretHash: k.SecretHash, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// CreateKey stores a new key.
func (s *Store) CreateKey(ctx context.Context, k *auth.Key) error {
	p, err := s.put(toKeyItem(k), notExists())
	if err != nil {
		return err
	}
	if err := s.writeTx(ctx, []types.TransactWriteItem{{Put: p}}, []*apperr.Error{apperr.New(apperr.Conflict, "key %s already exists", k.ID)}); err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	return nil
}

// GetKey reads a key by id.
func (s *Store) GetKey(ctx context.Context, id string) (*auth.Key, error) {
	var it keyItem
	found, err := s.getItem(ctx, apiKeyKey(id), &it)
	if err != nil {
		return nil, fmt.Errorf("get key: %w", err)
	}
	if !found {
		return nil, apperr.NotFoundf("no key %q", id)
	}
	return it.key(), nil
}

// ListKeys returns every key in creation order. A firm has a handful.
func (s *Store) ListKeys(ctx context.Context) ([]*auth.Key, error) {
	var out []*auth.Key
	err := runTyped(ctx, s, newIndexQuery(indexByKind, kindKey, 100), "", (*keyItem).key, func(k *auth.Key, _ string) bool {
		out = append(out, k)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// RevokeKey sets revoked_at once; revoking again keeps the first time.
// It reads the key first (the audit trail's "before"), then writes it on
// the condition that nobody revoked it in between.
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (*auth.Key, error) {
	for {
		k, err := s.GetKey(ctx, id)
		if err != nil || k.RevokedAt != nil {
			return k, err
		}
		k.RevokedAt = &at
		c := expression.AttributeExists(expression.Name(attrPK)).And(expression.AttributeNotExists(expression.Name("revoked_at")))
		p, err := s.put(toKeyItem(k), &c)
		if err != nil {
			return nil, err
		}
		err = s.writeTx(ctx, []types.TransactWriteItem{{Put: p}}, []*apperr.Error{apperr.Race("key %s was revoked concurrently", id)})
		if !errors.Is(err, apperr.ErrLostRace) {
			if err != nil {
				return nil, fmt.Errorf("revoke key: %w", err)
			}
			return k, nil
		}
	}
}
