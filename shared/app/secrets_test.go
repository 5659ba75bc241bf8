package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/testenv"
)

func (f *faultyApp) get(t *testing.T, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestKeysRecordWhenTheyWereLastUsed, to the hour, with at most one write
// an hour per key.
func TestKeysRecordWhenTheyWereLastUsed(t *testing.T) {
	t.Parallel()
	f := newFaultyApp(t, 1)
	ctx := context.Background()
	token, k, err := f.app.Keys.Create(ctx, "reporting", auth.Viewer)
	if err != nil {
		t.Fatal(err)
	}
	lastUsed := func() *time.Time {
		got, err := f.app.Store.GetKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	if lastUsed() != nil {
		t.Fatal("a new key has a last-used time")
	}
	first := f.Now()
	if st := f.get(t, "/v1/customers", token); st != http.StatusOK {
		t.Fatalf("GET: %d", st)
	}
	if got := lastUsed(); got == nil || !got.Equal(first) {
		t.Fatalf("last used %v, want %v", got, first)
	}
	f.Advance(30 * time.Minute)
	f.get(t, "/v1/customers", token)
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("rewritten within the hour: %v", got)
	}
	f.Advance(31 * time.Minute)
	f.get(t, "/v1/customers", token)
	if got := lastUsed(); !got.Equal(f.Now()) {
		t.Errorf("after an hour: last used %v, want %v", got, f.Now())
	}
}

// TestNoSecretIsEverLogged drives every path that handles a key, a webhook
// secret or a signing secret, including failures, and searches the logs.
func TestNoSecretIsEverLogged(t *testing.T) {
	t.Parallel()
	const hookSecret, linkSecret = "whsec_never_in_logs_5b1f", "link_secret_never_in_logs_9c2e"
	f := newFaultyAppWith(t, 2, map[string]string{"DUNLIN_GENERIC_WEBHOOK_SECRETS": hookSecret, "DUNLIN_LINK_SECRETS": linkSecret})
	ctx := context.Background()
	revokedToken, revoked, _ := f.app.Keys.Create(ctx, "leaver", auth.Admin)
	_, _ = f.app.Keys.Revoke(ctx, revoked.ID)
	wrong := f.key[:strings.LastIndexByte(f.key, '_')+1] + "WRONGSECRETWRONGSECRET"
	for _, tok := range []string{f.key, wrong, revokedToken, "dk_garbage"} {
		f.get(t, "/v1/customers", tok)
		f.get(t, "/v1/keys", tok)
	}
	// A key created through the API (its secret is in that one response).
	created := f.post(t, "/v1/keys", "", map[string]any{"name": "new", "role": "viewer"})
	var newKey struct {
		Key string `json:"key"`
	}
	_ = json.Unmarshal([]byte(created.body), &newKey)
	if newKey.Key == "" {
		t.Fatalf("create key: %d %s", created.status, created.body)
	}
	// The dashboard's sign-in, right and wrong.
	for _, tok := range []string{f.key, wrong} {
		res, err := f.srv.Client().PostForm(f.srv.URL+"/app/login", url.Values{"key": {tok}})
		if err == nil {
			res.Body.Close()
		}
	}
	// Webhooks with a good and a bad signature.
	hookSrv := httptest.NewServer(f.app.Webhooks())
	t.Cleanup(hookSrv.Close)
	hooks := hookSrv.URL
	event := []byte(`{"id":"evt-log","type":"payment.succeeded","payment":{"id":"p-log","amount":100,"currency":"EUR","received_on":"2026-11-20","reference":"nothing"}}`)
	for _, header := range []string{webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: event, Secret: hookSecret}).Header, "t=1,v1=" + hookSecret} {
		req, _ := http.NewRequest("POST", hooks+"/v1/webhooks/generic", bytes.NewReader(event))
		req.Header.Set("Dunlin-Signature", header)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	// Failures that log: the database dropping every call.
	f.proxy.Set(testenv.Faults{Reset: 1})
	f.get(t, "/v1/customers", f.key)
	f.post(t, "/v1/customers", "k1", billing.CustomerCreate{Name: "x", Email: "x@y.example"})
	f.proxy.Set(testenv.Faults{})

	logs := f.logs.String()
	if !strings.Contains(logs, "dependency unavailable") {
		t.Fatalf("the failures logged nothing, so the search proves little:\n%s", logs)
	}
	for name, secret := range map[string]string{
		"the admin key": f.key, "its secret": f.key[strings.LastIndexByte(f.key, '_')+1:], "a wrong secret": "WRONGSECRETWRONGSECRET",
		"a revoked key": revokedToken, "a created key": newKey.Key, "the webhook secret": hookSecret, "the link secret": linkSecret,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("%s is in the logs", name)
		}
	}
}
