// Package secrets gives webhook signing secrets: fixed ones (the local
// stack, tests) or ones kept in SSM Parameter Store as a SecureString,
// read on first use and re-read every few minutes, so a rotation reaches
// running functions without a deploy and a cold start makes no call.
package secrets

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Static is a fixed list of secrets.
type Static []string

// Secrets returns the list.
func (s Static) Secrets(context.Context) ([]string, error) { return s, nil }

// Split parses a comma-separated list of secrets, dropping blanks.
func Split(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParameterGetter is the part of the SSM client used here.
type ParameterGetter interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, opts ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SSM reads a comma-separated list of secrets from one SecureString parameter.
type SSM struct {
	Client ParameterGetter
	Name   string
	TTL    time.Duration // how long a read is reused; 5 minutes when zero

	mu      sync.Mutex
	cached  []string
	fetched time.Time
}

// Secrets returns the parameter's secrets, from cache while fresh.
func (s *SSM) Secrets(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ttl := s.TTL
	if ttl == 0 {
		ttl = 5 * time.Minute
	}
	if !s.fetched.IsZero() && time.Since(s.fetched) < ttl {
		return s.cached, nil
	}
	out, err := s.Client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(s.Name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("read webhook secrets from SSM parameter %s: %w", s.Name, err)
	}
	s.cached, s.fetched = Split(aws.ToString(out.Parameter.Value)), time.Now()
	return s.cached, nil
}
