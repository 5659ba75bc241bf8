package app_test

import (
	"context"
	"encoding/base64"
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
	"github.com/stripe/stripe-go/v85/webhook"
	"github.com/xuri/excelize/v2"

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

// newApp wires an App as a Lambda function would, from environment
// variables (plus a fresh table on DynamoDB Local).
func newApp(t *testing.T, env map[string]string) *app.App {
	t.Helper()
	_, table := testenv.NewTable(t)
	env["DUNLIN_TABLE"], env["DUNLIN_DYNAMODB_ENDPOINT"] = table, testenv.DynamoDBEndpoint(t)
	cfg, err := config.FromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLambdaAdapterServesSampleEvents runs the same wiring as functions/api
// (config from the environment, app.New, the algnhsa adapter for HTTP API
// payload 2.0) on the sample events in events/.
func TestLambdaAdapterServesSampleEvents(t *testing.T) {
	t.Parallel()
	a := newApp(t, map[string]string{"DUNLIN_FIRM_TIMEZONE": "Europe/Dublin", "DUNLIN_DEFAULT_CURRENCY": "EUR"})
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

// TestWebhooksLambdaVerifiesTheRawBody runs the webhooks function's wiring
// on an API Gateway event: the signature is checked on the exact bytes
// Stripe sent, whether API Gateway passes them as text or base64.
func TestWebhooksLambdaVerifiesTheRawBody(t *testing.T) {
	t.Parallel()
	a := newApp(t, map[string]string{"DUNLIN_STRIPE_WEBHOOK_SECRETS": "whsec_lambda_test"})
	h := algnhsa.New(a.Webhooks(), &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})
	body, err := os.ReadFile(filepath.Join("..", "..", "events", "stripe-charge-refunded.json"))
	if err != nil {
		t.Fatal(err)
	}
	event := func(body []byte, signature string, base64Encoded bool) []byte {
		req := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: "POST /v1/webhooks/stripe", RawPath: "/v1/webhooks/stripe",
			Headers: map[string]string{"content-type": "application/json; charset=utf-8", "stripe-signature": signature},
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "wh-1", Stage: "$default",
				HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/v1/webhooks/stripe"}},
			Body: string(body), IsBase64Encoded: base64Encoded,
		}
		if base64Encoded {
			req.Body = base64.StdEncoding.EncodeToString(body)
		}
		out, _ := json.Marshal(req)
		return out
	}
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_lambda_test"}).Header
	for _, b64 := range []bool{false, true} {
		if res := invoke(t, h, event(body, sig, b64)); res.StatusCode != 200 {
			t.Errorf("signed event (base64 %v) = %d %s", b64, res.StatusCode, res.Body)
		}
	}
	tampered := []byte(strings.Replace(string(body), `"amount_refunded": 5000`, `"amount_refunded": 50000`, 1))
	if res := invoke(t, h, event(tampered, sig, false)); res.StatusCode != 400 {
		t.Errorf("tampered event = %d %s", res.StatusCode, res.Body)
	}
	if _, err := a.Store.GetPaymentByRef(context.Background(), "stripe", "pi_3SampleA"); err != nil {
		t.Errorf("the signed refund left no record: %v", err)
	}
}

// TestAnExcelImportThroughLambda: API Gateway hands a binary body to the
// function base64-encoded; an .xlsx import arrives through the adapter
// intact.
func TestAnExcelImportThroughLambda(t *testing.T) {
	t.Parallel()
	a := newApp(t, map[string]string{})
	token, _, err := a.Keys.Create(context.Background(), "lambda import", auth.Integration)
	if err != nil {
		t.Fatal(err)
	}
	f := excelize.NewFile()
	for i, r := range [][]any{{"Customer Number", "Company", "Email", "Credit Limit"}, {"C-7", "Lambda Ltd", "ap@lambda.example", 2500.5}} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var book strings.Builder
	enc := base64.NewEncoder(base64.StdEncoding, &book)
	if err := f.Write(enc); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(loadEvent(t, "api-create-customer.json", token), &ev); err != nil {
		t.Fatal(err)
	}
	ev.RawPath, ev.RequestContext.HTTP.Path, ev.RawQueryString = "/v1/imports", "/v1/imports", "kind=customers"
	ev.Headers["content-type"] = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	delete(ev.Headers, "idempotency-key")
	ev.Body, ev.IsBase64Encoded = book.String(), true
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	res := invoke(t, algnhsa.New(a.API, &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2}), payload)
	if res.StatusCode != 200 || !strings.Contains(res.Body, `"created":1`) {
		t.Fatalf("import through Lambda = %d %s", res.StatusCode, res.Body)
	}
	page, err := a.Billing.FindCustomerByExternalID(context.Background(), "C-7")
	if err != nil || len(page.Items) != 1 || *page.Items[0].CreditLimit != 250050 {
		t.Errorf("C-7 = %+v %v", page.Items, err)
	}
}
