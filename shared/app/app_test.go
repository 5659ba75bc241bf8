package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akrylysov/algnhsa"
	"github.com/aws/aws-lambda-go/events"

	"dunlin/shared/app"
	"dunlin/shared/auth"
	"dunlin/shared/config"
	"dunlin/shared/testenv"
)

// loadEvent reads a sample event from events/ and puts a real key in it.
func loadEvent(t *testing.T, name, key string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "REPLACE_WITH_A_KEY", key))
}

func invoke(t *testing.T, h interface {
	Invoke(context.Context, []byte) ([]byte, error)
}, payload []byte) events.APIGatewayV2HTTPResponse {
	t.Helper()
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("decode Lambda response %s: %v", out, err)
	}
	return res
}

// TestLambdaAdapterServesSampleEvents runs the same wiring as functions/api
// (config from the environment, app.New, the algnhsa adapter for HTTP API
// payload 2.0) on the sample events in events/.
func TestLambdaAdapterServesSampleEvents(t *testing.T) {
	t.Parallel()
	_, table := testenv.NewTable(t)
	env := map[string]string{
		"DUNLIN_TABLE":             table,
		"DUNLIN_DYNAMODB_ENDPOINT": testenv.DynamoDBEndpoint(t),
		"DUNLIN_FIRM_TIMEZONE":     "Europe/Dublin",
		"DUNLIN_DEFAULT_CURRENCY":  "EUR",
	}
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := a.Keys.Create(context.Background(), "lambda test", auth.Integration)
	if err != nil {
		t.Fatal(err)
	}
	h := algnhsa.New(a.API, &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})

	create := loadEvent(t, "api-create-customer.json", token)
	res := invoke(t, h, create)
	if res.StatusCode != 201 || !strings.Contains(res.Body, `"name":"Acme GmbH"`) {
		t.Fatalf("create through Lambda = %d %s", res.StatusCode, res.Body)
	}
	if res.Headers["X-Request-Id"] != "Zk3mQj1PDoEEMvB=" {
		t.Errorf("request id %q is not API Gateway's", res.Headers["X-Request-Id"])
	}
	// The event carries an Idempotency-Key: a redelivery replays, not repeats.
	again := invoke(t, h, create)
	if again.StatusCode != 201 || again.Body != res.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Errorf("redelivered create = %d %s", again.StatusCode, again.Body)
	}

	list := invoke(t, h, loadEvent(t, "api-get-customers.json", token))
	var body struct {
		Data []struct{ Name, Currency string }
	}
	if err := json.Unmarshal([]byte(list.Body), &body); err != nil || list.StatusCode != 200 {
		t.Fatalf("list through Lambda = %d %s", list.StatusCode, list.Body)
	}
	if len(body.Data) != 1 || body.Data[0].Name != "Acme GmbH" || body.Data[0].Currency != "EUR" {
		t.Errorf("listed %+v", body.Data)
	}

	unauth := invoke(t, h, loadEvent(t, "api-get-customers.json", "dk_wrong"))
	if unauth.StatusCode != 401 {
		t.Errorf("bad key through Lambda = %d", unauth.StatusCode)
	}
}

func TestConfigRejectsBadSettings(t *testing.T) {
	t.Parallel()
	_, err := config.FromLookup(func(k string) (string, bool) {
		return map[string]string{"DUNLIN_DEFAULT_TERMS_DAYS": "thirty"}[k], k == "DUNLIN_DEFAULT_TERMS_DAYS"
	})
	if err == nil {
		t.Error("non-numeric terms accepted")
	}
	for name, env := range map[string]map[string]string{
		"an unknown firm zone": {"DUNLIN_FIRM_TIMEZONE": "Europe/Atlantis"},
		"an unknown currency":  {"DUNLIN_DEFAULT_CURRENCY": "ZZZ"},
		"terms beyond a year":  {"DUNLIN_DEFAULT_TERMS_DAYS": "500"},
	} {
		cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatal(err)
		}
		cfg.DynamoDBEndpoint = "http://127.0.0.1:1" // never contacted: New does no I/O
		if _, err := app.New(context.Background(), cfg, slog.Default(), time.Now); err == nil {
			t.Errorf("%s: app.New accepted it", name)
		}
	}
}
