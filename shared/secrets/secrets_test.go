package secrets

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// parameters stands in for Parameter Store: the value and a call count.
type parameters struct {
	value string
	calls int
	fail  error
}

func (p *parameters) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	p.calls++
	if p.fail != nil {
		return nil, p.fail
	}
	if !aws.ToBool(in.WithDecryption) {
		return &ssm.GetParameterOutput{Parameter: &types.Parameter{Value: aws.String("ciphertext")}}, nil
	}
	return &ssm.GetParameterOutput{Parameter: &types.Parameter{Value: aws.String(p.value)}}, nil
}

func TestSSMSecretsAreDecryptedSplitAndCachedUntilTheyGoStale(t *testing.T) {
	ps := &parameters{value: " whsec_new , whsec_old ,"}
	s := &SSM{Client: ps, Name: "/dunlin/stripe", TTL: 50 * time.Millisecond}
	for range 3 {
		got, err := s.Secrets(context.Background())
		if err != nil || len(got) != 2 || got[0] != "whsec_new" || got[1] != "whsec_old" {
			t.Fatalf("secrets = %q, %v", got, err)
		}
	}
	if ps.calls != 1 {
		t.Errorf("%d reads for three uses within the TTL", ps.calls)
	}
	ps.value = "whsec_rotated"
	time.Sleep(60 * time.Millisecond)
	if got, _ := s.Secrets(context.Background()); len(got) != 1 || got[0] != "whsec_rotated" {
		t.Errorf("after the TTL: %q", got)
	}
	ps.fail = errors.New("throttled")
	time.Sleep(60 * time.Millisecond)
	if _, err := s.Secrets(context.Background()); err == nil {
		t.Error("a failed read returned no error")
	}
}
