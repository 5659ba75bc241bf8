package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"dunlin/shared/apperr"
	"dunlin/shared/dunning"
)

// policyItem is a dunning policy: PK POLICY#<name>; GSI2 lists them.
type policyItem struct {
	PK        string         `dynamodbav:"PK"`
	SK        string         `dynamodbav:"SK"`
	GSI2PK    string         `dynamodbav:"GSI2PK"`
	GSI2SK    string         `dynamodbav:"GSI2SK"`
	Policy    dunning.Policy `dynamodbav:"policy"`
	UpdatedAt time.Time      `dynamodbav:"updated_at"`
}

func policyKey(name string) key { return key{prefixPolicy + name, "POLICY"} }

// GetPolicy reads a stored policy. The built-in standard ladder applies when
// no policy named "standard" has been stored. Errors: NotFound.
func (s *Store) GetPolicy(ctx context.Context, name string) (*dunning.Policy, error) {
	if name == "" {
		name = dunning.DefaultPolicyName
	}
	var it policyItem
	found, err := s.getItem(ctx, policyKey(name), &it)
	if err != nil {
		return nil, fmt.Errorf("get policy %s: %w", name, err)
	}
	if !found {
		if name == dunning.DefaultPolicyName {
			p := dunning.Standard()
			return &p, nil
		}
		return nil, apperr.NotFoundf("no policy %q", name)
	}
	return &it.Policy, nil
}

// PutPolicy creates or replaces a policy.
func (s *Store) PutPolicy(ctx context.Context, p *dunning.Policy, now time.Time) error {
	k := policyKey(p.Name)
	pp, err := s.put(policyItem{PK: k.PK, SK: k.SK, GSI2PK: "POLICY", GSI2SK: p.Name, Policy: *p, UpdatedAt: now}, nil)
	if err != nil {
		return err
	}
	if err := s.writeTx(ctx, []types.TransactWriteItem{{Put: pp}}, nil); err != nil {
		return fmt.Errorf("put policy %s: %w", p.Name, err)
	}
	return nil
}

// ListPolicies returns every stored policy by name, with the built-in
// standard ladder first when it has not been replaced.
func (s *Store) ListPolicies(ctx context.Context) ([]*dunning.Policy, error) {
	var out []*dunning.Policy
	hasStandard := false
	err := runTyped(ctx, s, newIndexQuery(indexByKind, "POLICY", 100), "", func(it *policyItem) *dunning.Policy { return &it.Policy }, func(p *dunning.Policy, _ string) bool {
		hasStandard = hasStandard || p.Name == dunning.DefaultPolicyName
		out = append(out, p)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	if !hasStandard {
		std := dunning.Standard()
		out = append([]*dunning.Policy{&std}, out...)
	}
	return out, nil
}
