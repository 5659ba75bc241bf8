// Package auth holds API keys and roles.
//
// A key is shown to its owner once, as "dk_<id>_<secret>", and stored only as
// the SHA-256 hash of its secret. The secret is 32 random bytes, so a plain
// hash is enough (no password-style stretching is needed), and verification
// compares hashes in constant time.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"time"

	"dunlin/shared/apperr"
	"dunlin/shared/ids"
)

// Role says what a key may do. Each API route lists the roles it allows.
type Role string

const (
	Admin       Role = "admin"       // everything, including keys and settings
	Collector   Role = "collector"   // reads everything, works customers (contacts, promises)
	Viewer      Role = "viewer"      // reads only
	Integration Role = "integration" // the firm's books or ERP: writes customers and invoices
)

// Roles lists every role, for validation and for tests that walk them all.
var Roles = []Role{Admin, Collector, Viewer, Integration}

// ParseRole checks a role name.
func ParseRole(s string) (Role, bool) {
	for _, r := range Roles {
		if string(r) == s {
			return r, true
		}
	}
	return "", false
}

// Key is a stored API key. It never holds the secret itself.
type Key struct {
	ID         string
	Name       string
	Role       Role
	SecretHash []byte
	CreatedAt  time.Time
	RevokedAt  *time.Time
	// LastUsedAt is when the key last authenticated a request, to the
	// hour: it is written at most once an hour, not on every request.
	LastUsedAt *time.Time
}

// touchEvery is how stale LastUsedAt may grow before a request renews it.
const touchEvery = time.Hour

const keyPrefix = "dk_"

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Generate makes a new key. It returns the token to give the user (shown
// once) and the Key to store.
func Generate(name string, role Role, now time.Time) (token string, key *Key, err error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return "", nil, apperr.Invalidf("name", "name is required (at most 100 characters)")
	}
	if _, ok := ParseRole(string(role)); !ok {
		return "", nil, apperr.Invalidf("role", "role must be one of admin, collector, viewer, integration")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	secret := secretEncoding.EncodeToString(b[:])
	key = &Key{
		ID:         ids.New("key_", now),
		Name:       name,
		Role:       role,
		SecretHash: hash(secret),
		CreatedAt:  now.UTC(),
	}
	return keyPrefix + key.ID + "_" + secret, key, nil
}

// ParseToken splits a token into the key id and the secret.
func ParseToken(token string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(token, keyPrefix)
	if !found {
		return "", "", false
	}
	// The id itself contains one underscore ("key_...").
	i := strings.LastIndexByte(rest, '_')
	if i < 0 {
		return "", "", false
	}
	id, secret = rest[:i], rest[i+1:]
	if !ids.Valid("key_", id) || secret == "" {
		return "", "", false
	}
	return id, secret, true
}

// Verify reports, in constant time, whether secret belongs to k.
func (k *Key) Verify(secret string) bool {
	return subtle.ConstantTimeCompare(hash(secret), k.SecretHash) == 1
}

// Store persists keys. GetKey returns NotFound for unknown ids.
type Store interface {
	CreateKey(ctx context.Context, k *Key) error
	GetKey(ctx context.Context, id string) (*Key, error)
	ListKeys(ctx context.Context) ([]*Key, error)
	// RevokeKey marks the key revoked at the given time; NotFound if unknown.
	// Revoking twice keeps the first time.
	RevokeKey(ctx context.Context, id string, at time.Time) (*Key, error)
	// TouchKey sets LastUsedAt to at unless it is already after
	// staleBefore (then it does nothing).
	TouchKey(ctx context.Context, id string, at, staleBefore time.Time) error
}

// Service issues and checks keys.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a key service on store with clock now.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// Create issues a new key and returns its token. Errors: Invalid.
func (s *Service) Create(ctx context.Context, name string, role Role) (string, *Key, error) {
	token, key, err := Generate(name, role, s.now())
	if err != nil {
		return "", nil, err
	}
	if err := s.store.CreateKey(ctx, key); err != nil {
		return "", nil, err
	}
	return token, key, nil
}

// Authenticate returns the live key a token belongs to.
// Errors: Unauthorized for anything but a valid, unrevoked key; the message
// does not say which, so probing learns nothing.
func (s *Service) Authenticate(ctx context.Context, token string) (*Key, error) {
	denied := apperr.New(apperr.Unauthorized, "a valid API key is required: Authorization: Bearer <key>")
	id, secret, ok := ParseToken(token)
	if !ok {
		return nil, denied
	}
	k, err := s.store.GetKey(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, denied
	}
	if err != nil {
		return nil, err
	}
	if !k.Verify(secret) || k.RevokedAt != nil {
		return nil, denied
	}
	if now := s.now().UTC(); k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= touchEvery {
		// Best effort: a key that works must not stop working because its
		// last-used time could not be written (throttling, say).
		if err := s.store.TouchKey(ctx, k.ID, now, now.Add(-touchEvery)); err == nil {
			k.LastUsedAt = &now
		}
	}
	return k, nil
}

// Live returns the key with id if it exists and is not revoked: a session
// that stands for a key checks it on every request. Errors: Unauthorized.
func (s *Service) Live(ctx context.Context, id string) (*Key, error) {
	denied := apperr.New(apperr.Unauthorized, "the key this session stands for is no longer valid")
	if !ids.Valid("key_", id) {
		return nil, denied
	}
	k, err := s.store.GetKey(ctx, id)
	if apperr.Is(err, apperr.NotFound) || err == nil && k.RevokedAt != nil {
		return nil, denied
	}
	return k, err
}

// List returns every key, revoked ones included.
func (s *Service) List(ctx context.Context) ([]*Key, error) { return s.store.ListKeys(ctx) }

// Revoke disables a key for good. Errors: NotFound.
func (s *Service) Revoke(ctx context.Context, id string) (*Key, error) {
	if !ids.Valid("key_", id) {
		return nil, apperr.NotFoundf("no key %q", id)
	}
	return s.store.RevokeKey(ctx, id, s.now().UTC())
}
