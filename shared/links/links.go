// Package links signs and checks the links in dunning emails that open a
// customer's statement page without a sign-in. A link names one customer
// and when it stops working, signed with HMAC-SHA256 under the firm's
// secret; it opens that customer's page and nothing else.
package links

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TTL is how long a link works: long enough for a slow payer to come
// back to an email, short enough that an old email opens nothing.
const TTL = 30 * 24 * time.Hour

var (
	ErrInvalid = errors.New("link is not valid")
	ErrExpired = errors.New("link has expired")
)

// Secrets gives the signing secrets, newest first (see package secrets):
// links are signed with the first and accepted under any, for rotation.
type Secrets interface {
	Secrets(ctx context.Context) ([]string, error)
}

// Signer makes and checks links' tokens.
type Signer struct {
	Secrets Secrets
	BaseURL string // where the API answers, e.g. https://abc.execute-api.eu-west-1.amazonaws.com
}

func mac(secret, customerID string, expires int64) string {
	h := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(h, "dunlin-statement|%s|%d", customerID, expires)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Token signs a token for customerID, valid until now+TTL.
func (s *Signer) Token(ctx context.Context, customerID string, now time.Time) (string, error) {
	secrets, err := s.Secrets.Secrets(ctx)
	if err != nil {
		return "", fmt.Errorf("link secret: %w", err)
	}
	if len(secrets) == 0 {
		return "", errors.New("link secret: none configured")
	}
	exp := now.Add(TTL).Unix()
	return customerID + "." + strconv.FormatInt(exp, 10) + "." + mac(secrets[0], customerID, exp), nil
}

// URL is the statement page's address for customerID ("" without a base
// URL: emails then carry no link).
func (s *Signer) URL(ctx context.Context, customerID string, now time.Time) (string, error) {
	if s == nil || s.BaseURL == "" {
		return "", nil
	}
	tok, err := s.Token(ctx, customerID, now)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s.BaseURL, "/") + "/s/" + tok, nil
}

// Check returns the customer a token was signed for. ErrInvalid for a
// token not signed under any current secret, ErrExpired for one past its
// time.
func (s *Signer) Check(ctx context.Context, token string, now time.Time) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > 200 {
		return "", ErrInvalid
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", ErrInvalid
	}
	secrets, err := s.Secrets.Secrets(ctx)
	if err != nil {
		return "", fmt.Errorf("link secret: %w", err)
	}
	for _, sec := range secrets {
		if hmac.Equal([]byte(mac(sec, parts[0], exp)), []byte(parts[2])) {
			if now.Unix() > exp {
				return "", ErrExpired
			}
			return parts[0], nil
		}
	}
	return "", ErrInvalid
}
