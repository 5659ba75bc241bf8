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
	"sync"
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
	// staleBefore (then it does nothing): a time exactly staleBefore is
	// stale, as Authenticate judges it.
	TouchKey(ctx context.Context, id string, at, staleBefore time.Time) error
}

// Service issues and checks keys.
type Service struct {
	store Store
	now   func() time.Time

	// CacheFor is how long a live key read from the store is trusted
	// before it is read again; zero reads it on every request. Reading the
	// key was the one extra DynamoDB round trip on every API call (a GET
	// by id did two reads instead of one). The price: a key revoked by
	// another process (another Lambda instance, or the CLI) keeps working
	// here until its entry is this old. A key revoked through this Service
	// stops at once. Only live keys are cached, never a miss, so a new key
	// works at once and unknown ids cannot fill the cache.
	CacheFor time.Duration

	mu    sync.Mutex
	cache map[string]cachedKey
	// revoked holds the keys revoked through this Service, so a request
	// that read one just before its revocation cannot cache it again.
	revoked map[string]bool
}

type cachedKey struct {
	key  Key
	read time.Time
}

// maxCached bounds the cache; a firm has a handful of keys.
const maxCached = 1000

// NewService returns a key service on store with clock now.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// getKey reads a key, from the cache while its entry is fresh. It returns
// a copy, so callers may not change what other requests see.
func (s *Service) getKey(ctx context.Context, id string) (*Key, error) {
	if s.CacheFor > 0 {
		s.mu.Lock()
		c, ok := s.cache[id]
		s.mu.Unlock()
		if age := s.now().Sub(c.read); ok && age >= 0 && age < s.CacheFor {
			k := c.key
			return &k, nil
		}
	}
	read := s.now()
	k, err := s.store.GetKey(ctx, id)
	if err != nil || k.RevokedAt != nil {
		s.forget(id)
		return k, err
	}
	s.remember(k, read)
	return k, nil
}

func (s *Service) remember(k *Key, read time.Time) {
	if s.CacheFor <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked[k.ID] {
		return
	}
	if s.cache == nil || len(s.cache) >= maxCached {
		s.cache = make(map[string]cachedKey)
	}
	s.cache[k.ID] = cachedKey{key: *k, read: read}
}

func (s *Service) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, id)
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
	k, err := s.getKey(ctx, id)
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
			s.touched(k.ID, now)
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
	k, err := s.getKey(ctx, id)
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
	s.mu.Lock()
	if s.revoked == nil || len(s.revoked) >= maxCached {
		s.revoked = make(map[string]bool)
	}
	s.revoked[id] = true
	delete(s.cache, id)
	s.mu.Unlock()
	return s.store.RevokeKey(ctx, id, s.now().UTC())
}

// touched records a renewed last-used time in the cached entry, so the
// next request does not write it again.
func (s *Service) touched(id string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[id]; ok {
		c.key.LastUsedAt = &at
		s.cache[id] = c
	}
}
