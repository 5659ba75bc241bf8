package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

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
}

func (it *keyItem) key() *auth.Key {
	return &auth.Key{ID: it.ID, Name: it.Name, Role: auth.Role(it.Role), SecretHash: it.SecretHash, CreatedAt: it.CreatedAt, RevokedAt: it.RevokedAt}
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
	if _, err := s.db.PutItem(ctx, putInput(p)); err != nil {
		return fmt.Errorf("create key: %w", wrap(err))
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
func (s *Store) RevokeKey(ctx context.Context, id string, at time.Time) (*auth.Key, error) {
	e, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("revoked_at"), expression.IfNotExists(expression.Name("revoked_at"), expression.Value(at)))).
		WithCondition(expression.AttributeExists(expression.Name(attrPK))).
		Build()
	if err != nil {
		return nil, fmt.Errorf("build revoke: %w", err)
	}
	res, err := s.db.UpdateItem(ctx, updateInput(s.table, apiKeyKey(id), e))
	if apperr.Is(wrap(err), apperr.Conflict) {
		return nil, apperr.NotFoundf("no key %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("revoke key: %w", wrap(err))
	}
	var it keyItem
	if err := unmarshal(res.Attributes, &it); err != nil {
		return nil, err
	}
	return it.key(), nil
}
