package auth

import (
	"strings"
	"testing"
	"time"
)

func TestGeneratedTokenParsesAndVerifies(t *testing.T) {
	token, key, err := Generate("books sync", Integration, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := ParseToken(token)
	if !ok || id != key.ID {
		t.Fatalf("ParseToken(%q) = %q, ok=%v; want id %q", token, id, ok, key.ID)
	}
	if !key.Verify(secret) {
		t.Error("the key's own secret does not verify")
	}
	last := "A"
	if strings.HasSuffix(secret, "A") {
		last = "B"
	}
	if key.Verify(secret[:len(secret)-1]+last) || key.Verify("") {
		t.Error("a wrong secret verifies")
	}
	if strings.Contains(string(key.SecretHash), secret) {
		t.Error("the stored key holds the secret")
	}
}

func TestParseTokenRejectsMalformedTokens(t *testing.T) {
	token, _, _ := Generate("x", Viewer, time.Now())
	for _, bad := range []string{"", "dk_", "Bearer " + token, strings.TrimPrefix(token, "dk_"), "dk_key_123_abc", token[:len(token)-53]} {
		if _, _, ok := ParseToken(bad); ok {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
}

func TestGenerateValidatesNameAndRole(t *testing.T) {
	if _, _, err := Generate("", Admin, time.Now()); err == nil {
		t.Error("empty name accepted")
	}
	if _, _, err := Generate("x", Role("root"), time.Now()); err == nil {
		t.Error("unknown role accepted")
	}
}
