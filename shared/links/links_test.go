package links

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"dunlin/shared/secrets"
)

func TestLinksOpenOneCustomerUntilTheyExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s := &Signer{Secrets: secrets.Static{"new", "old"}, BaseURL: "https://api.example/"}
	tok, err := s.Token(ctx, "cus_1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Check(ctx, tok, now.Add(TTL-time.Second)); err != nil || got != "cus_1" {
		t.Errorf("fresh: %q %v", got, err)
	}
	if _, err := s.Check(ctx, tok, now.Add(TTL+time.Second)); !errors.Is(err, ErrExpired) {
		t.Errorf("old: %v", err)
	}
	// Another customer, a longer life, another secret: all refused.
	parts := strings.Split(tok, ".")
	for _, forged := range []string{
		"cus_2." + parts[1] + "." + parts[2],
		parts[0] + ".99999999999." + parts[2],
		parts[0] + "." + parts[1] + "." + mac("guess", "cus_1", 0),
		"", "a.b", tok + ".x",
	} {
		if _, err := s.Check(ctx, forged, now); !errors.Is(err, ErrInvalid) {
			t.Errorf("forged %q: %v", forged, err)
		}
	}
	// Rotation: a link signed under the old secret still works.
	old := &Signer{Secrets: secrets.Static{"old"}}
	tok2, _ := old.Token(ctx, "cus_3", now)
	if got, err := s.Check(ctx, tok2, now); err != nil || got != "cus_3" {
		t.Errorf("rotated: %q %v", got, err)
	}
	if u, _ := s.URL(ctx, "cus_1", now); !strings.HasPrefix(u, "https://api.example/s/cus_1.") {
		t.Errorf("url %s", u)
	}
	if u, _ := (&Signer{Secrets: secrets.Static{"x"}}).URL(ctx, "cus_1", now); u != "" {
		t.Errorf("no base url: %s", u)
	}
}
