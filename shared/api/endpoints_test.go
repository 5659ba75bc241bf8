package api_test

import (
	"strings"
	"testing"

	"dunlin/shared/auth"
)

// TestRegisteringAnEndpointShowsItsSecretOnce: the create response holds
// the signing secret; a retry with the same Idempotency-Key registers
// nothing more and does not repeat the secret; lists and reads never
// show it.
func TestRegisteringAnEndpointShowsItsSecretOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	body := map[string]any{"url": "https://erp.example.com/dunlin", "events": []string{"payment.applied", "promise.broken"}, "description": "ERP"}
	first := f.Do("POST", "/v1/endpoints", body, "Idempotency-Key", "ep-1")
	if first.Status != 201 {
		t.Fatalf("register = %d %s", first.Status, first.Body)
	}
	ep := first.Map(t)
	secret, _ := ep["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) != len("whsec_")+64 {
		t.Errorf("secret %q", secret)
	}
	again := f.Do("POST", "/v1/endpoints", body, "Idempotency-Key", "ep-1")
	if again.Status != 409 || strings.Contains(string(again.Body), secret) || !strings.Contains(string(again.Body), "endpoint") {
		t.Errorf("retry = %d %s; want 409 without the secret", again.Status, again.Body)
	}
	list := f.Do("GET", "/v1/endpoints", nil)
	if data := list.Map(t)["data"].([]any); len(data) != 1 || strings.Contains(string(list.Body), secret) {
		t.Errorf("list = %s; want the one endpoint, no secret", list.Body)
	}
	id := ep["id"].(string)
	got := f.Do("GET", "/v1/endpoints/"+id, nil)
	if got.Status != 200 || strings.Contains(string(got.Body), "secret") || got.Map(t)["url"] != "https://erp.example.com/dunlin" {
		t.Errorf("get = %d %s", got.Status, got.Body)
	}
	off := f.Do("PATCH", "/v1/endpoints/"+id, map[string]any{"disabled": true, "events": []string{"*"}})
	if m := off.Map(t); off.Status != 200 || m["disabled"] != true || len(m["events"].([]any)) != 1 || m["events"].([]any)[0] != "*" {
		t.Errorf("disable = %d %s", off.Status, off.Body)
	}
	if log := f.Do("GET", "/v1/endpoints/"+id+"/deliveries", nil); log.Status != 200 || len(log.Map(t)["data"].([]any)) != 0 {
		t.Errorf("deliveries = %d %s", log.Status, log.Body)
	}
	if res := f.As(f.keys[auth.Integration]).Do("GET", "/v1/endpoints", nil); res.Status != 403 {
		t.Errorf("an integration key listed endpoints: %d", res.Status)
	}
	if trail := f.Do("GET", "/v1/audit?entity="+id, nil); trail.Status != 200 || len(trail.Map(t)["data"].([]any)) != 2 || strings.Contains(string(trail.Body), secret) {
		t.Errorf("audit trail = %d %s; want the create and the change, never the secret", trail.Status, trail.Body)
	}
	if res := f.Do("DELETE", "/v1/endpoints/"+id, nil); res.Status != 200 {
		t.Errorf("delete = %d %s", res.Status, res.Body)
	}
	if res := f.Do("GET", "/v1/endpoints/"+id, nil); res.Status != 404 {
		t.Errorf("get after delete = %d", res.Status)
	}
	if res := f.Do("GET", "/v1/endpoints/end_nope/deliveries", nil); res.Status != 404 {
		t.Errorf("deliveries of no endpoint = %d", res.Status)
	}
}
