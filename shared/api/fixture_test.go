package api_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"dunlin/shared/api"
	"dunlin/shared/api/apitest"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/config"
	"dunlin/shared/dbmeter"
	"dunlin/shared/dunning"
	"dunlin/shared/links"
	"dunlin/shared/mailer"
	"dunlin/shared/outbound"
	"dunlin/shared/secrets"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/testenv"
)

func sesClient(t *testing.T) *sesv2.Client {
	return sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(testenv.SESEndpoint(t)),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
}

// testWriter sends the API's logs to the test's output.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

type fixture struct {
	*apitest.Client
	server *api.Server
	keys   map[auth.Role]string // a live key per role
	auth   *auth.Service
	clock  *testenv.Clock
	links  *links.Signer
}

// newFixture wires the API on its own table, with one key per role and a
// clock fixed at 2026-11-23 10:00 UTC. The firm is in Europe/London.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, func(s billing.Store) billing.Store { return s })
}

// newFixtureWith is newFixture with the billing store wrapped, to inject faults.
func newFixtureWith(t *testing.T, wrap func(billing.Store) billing.Store) *fixture {
	t.Helper()
	return newFixtureOn(t, testenv.NewStore(t), wrap)
}

// newMeteredFixture is newFixture with every DynamoDB call counted.
func newMeteredFixture(t *testing.T) (*fixture, *dbmeter.Meter) {
	t.Helper()
	st, m := testenv.NewMeteredStore(t)
	return newFixtureOn(t, st, func(s billing.Store) billing.Store { return s }), m
}

func newFixtureOn(t *testing.T, st *store.Store, wrap func(billing.Store) billing.Store) *fixture {
	t.Helper()
	clk := testenv.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))
	bill, err := billing.NewService(wrap(st), billing.Firm{Timezone: "Europe/London", DefaultCurrency: "GBP", DefaultTermsDays: 30}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	bill.SetIndexLag(0) // DynamoDB Local's indexes are never behind
	keys := auth.NewService(st, clk.Now)
	keys.CacheFor = config.Defaults.KeyCache // as deployed
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	sw := sweep.New(st, &mailer.SES{Client: sesClient(t)}, sweep.Settings{
		FirmName: "Test Firm", FirmTimezone: "Europe/London", From: "ar@firm.example",
		CollectionsEmail: "collections@firm.example", Window: dunning.DefaultWindow(), Shards: store.QueueShards, Clock: clk.Now, Books: bill,
	}, log)
	signer := &links.Signer{Secrets: secrets.Static{"test-link-secret"}, BaseURL: "https://dunlin.test"}
	eps := outbound.NewService(st, clk.Now)
	eps.AllowLoopbackHTTP = true // test deliveries go to httptest receivers
	srv := api.New(api.Deps{Billing: bill, Keys: keys, Idempotency: st.Idempotency(), Policies: st, Sweeper: sw, Log: log, Now: clk.Now, FirmName: "Test Firm", Links: signer,
		Endpoints: eps})
	f := &fixture{server: srv, keys: map[auth.Role]string{}, auth: keys, clock: clk, links: signer}
	for _, r := range auth.Roles {
		token, _, err := keys.Create(context.Background(), "test "+string(r), r)
		if err != nil {
			t.Fatal(err)
		}
		f.keys[r] = token
	}
	f.Client = &apitest.Client{T: t, Handler: srv, Key: f.keys[auth.Admin]}
	return f
}

// mustCreate posts body to path, expects 201 and returns the decoded object.
func (f *fixture) mustCreate(path string, body any) map[string]any {
	f.T.Helper()
	res := f.Do("POST", path, body)
	if res.Status != 201 {
		f.T.Fatalf("POST %s = %d %s", path, res.Status, res.Body)
	}
	return res.Map(f.T)
}

func (f *fixture) customer(extra map[string]any) string {
	f.T.Helper()
	body := map[string]any{"name": "Acme GmbH", "email": "ap@acme.example", "currency": "EUR", "timezone": "Europe/Berlin"}
	for k, v := range extra {
		body[k] = v
	}
	return f.mustCreate("/v1/customers", body)["id"].(string)
}
