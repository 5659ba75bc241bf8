package dashboard

import (
	"strings"
	"testing"
	"time"
)

func TestSessionCookies(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	exp := now.Add(SessionTTL)
	v := signSession("s1", "key_01ABC", exp)
	if id, err := checkSession([]string{"s1"}, v, now); err != nil || id != "key_01ABC" {
		t.Fatalf("a fresh session: %q, %v", id, err)
	}
	// Rotation: a cookie signed under the old secret still works while the
	// old secret is listed after the new one.
	if id, err := checkSession([]string{"s2", "s1"}, v, now); err != nil || id != "key_01ABC" {
		t.Errorf("after rotation: %q, %v", id, err)
	}
	parts := strings.Split(v, ".")
	for name, bad := range map[string]string{
		"another secret":     signSession("s3", "key_01ABC", exp),
		"another key":        "key_01XYZ." + parts[1] + "." + parts[2],
		"a later expiry":     parts[0] + "." + "9999999999" + "." + parts[2],
		"no signature":       parts[0] + "." + parts[1],
		"an empty signature": parts[0] + "." + parts[1] + ".",
		"empty":              "",
		"too long":           strings.Repeat("a", 400),
		"no key":             "." + parts[1] + "." + parts[2],
	} {
		if _, err := checkSession([]string{"s1"}, bad, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := checkSession([]string{"s1"}, v, exp); err == nil {
		t.Errorf("accepted at its expiry")
	}
	if _, err := checkSession([]string{"s1"}, v, exp.Add(-time.Second)); err != nil {
		t.Errorf("refused a second before its expiry: %v", err)
	}
}

func TestCSRFTokensAreBoundToTheSession(t *testing.T) {
	a, b := signSession("s1", "key_A", time.Unix(2e9, 0)), signSession("s1", "key_B", time.Unix(2e9, 0))
	tok := csrfToken("s1", a)
	if !csrfValid([]string{"s1"}, a, tok) || !csrfValid([]string{"s2", "s1"}, a, tok) {
		t.Errorf("a session's own token was refused")
	}
	if csrfValid([]string{"s1"}, b, tok) || csrfValid([]string{"s1"}, a, "") || csrfValid([]string{"s9"}, a, tok) {
		t.Errorf("a token was accepted for another session, empty, or under another secret")
	}
}

func TestReturnAddressesStayInside(t *testing.T) {
	for in, want := range map[string]string{
		"/app/customers?x=1":   "/app/customers?x=1",
		"https://evil.example": "/app/overview",
		"//evil.example/app/":  "/app/overview",
		"/app/\\evil":          "/app/overview",
		"/v1/keys":             "/app/overview",
		"":                     "/app/overview",
		"/app/\r\nSet-Cookie:": "/app/overview",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
