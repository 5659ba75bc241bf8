// Package app wires Dunlin together from a Config: AWS clients, the store,
// the services and the HTTP API. The Lambda functions, the CLI's local stack
// and the end-to-end tests all build the same App, so what is tested locally
// is what runs in AWS.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"golang.org/x/time/rate"

	"dunlin/shared/api"
	"dunlin/shared/auth"
	"dunlin/shared/billing"
	"dunlin/shared/config"
	"dunlin/shared/dashboard"
	"dunlin/shared/links"
	"dunlin/shared/logs"
	"dunlin/shared/mailer"
	"dunlin/shared/outbound"
	"dunlin/shared/secrets"
	"dunlin/shared/store"
	"dunlin/shared/sweep"
	"dunlin/shared/webhooks"
)

// App is a wired Dunlin.
type App struct {
	Config  config.Config
	Store   *store.Store
	Billing *billing.Service
	Keys    *auth.Service
	API     *api.Server
	Sweeper *sweep.Sweeper
	// Outbound delivers outbound events to the firm's endpoints.
	Outbound *outbound.Runner
	aws      aws.Config
	log      *slog.Logger
}

// New builds an App. It makes no network calls: clients connect lazily, so
// a Lambda cold start does no I/O here.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, now func() time.Time) (*App, error) {
	awsCfg, err := cfg.AWS(ctx)
	if err != nil {
		return nil, err
	}
	st := store.New(cfg.DynamoDB(awsCfg), cfg.Table)
	bill, err := billing.NewService(st, cfg.Firm, now)
	if err != nil {
		return nil, fmt.Errorf("configure billing: %w", err)
	}
	if cfg.DynamoDBEndpoint != "" {
		bill.SetIndexLag(0) // DynamoDB Local's indexes are never behind
	}
	keys := auth.NewService(st, now)
	keys.CacheFor = cfg.KeyCache
	// One secret signs customers' statement links and the dashboard's
	// sessions (each under its own label).
	linkSecrets := webhookSecrets(awsCfg, cfg.LinkSecretsParam, cfg.LinkSecrets)
	var signer *links.Signer
	if cfg.LinkSecretsParam != "" || cfg.LinkSecrets != "" {
		signer = &links.Signer{Secrets: linkSecrets, BaseURL: cfg.PublicURL}
	}
	var pace *rate.Limiter
	if cfg.SESMaxSendRate > 0 {
		pace = rate.NewLimiter(rate.Limit(cfg.SESMaxSendRate), 1)
	}
	sw := sweep.New(st, &mailer.SES{Client: cfg.SES(awsCfg), Pace: pace, MaxRate: cfg.SESMaxSendRate, ConfigurationSet: cfg.SESConfigurationSet}, sweep.Settings{
		FirmName: cfg.FirmName, FirmTimezone: cfg.Firm.Timezone, From: cfg.Sender, ReplyTo: cfg.ReplyTo,
		CollectionsEmail: cfg.CollectionsEmail, Window: cfg.Window, Shards: store.QueueShards, Books: bill,
		Digest: cfg.DigestHour >= 0, DigestHour: max(cfg.DigestHour, 0), Links: signer, MaxEmails: cfg.MaxEmailsPerRun,
	}, log)
	endpoints := outbound.NewService(st, now)
	endpoints.AllowLoopbackHTTP = cfg.OutboundAllowLoopback
	srv := api.New(api.Deps{Billing: bill, Keys: keys, Idempotency: st.Idempotency(), Policies: st,
		Sweeper: sw, Log: log, Now: now, FirmName: cfg.FirmName, Links: signer, Endpoints: endpoints})
	srv.Mount(dashboard.Prefix, dashboard.Home, dashboard.New(dashboard.Deps{Billing: bill, Keys: keys, Policies: st, Sweeper: sw, API: srv,
		Secrets: linkSecrets, Log: log, Now: now, FirmName: cfg.FirmName}))
	return &App{
		aws:      awsCfg,
		log:      log,
		Sweeper:  sw,
		Outbound: &outbound.Runner{Store: st, Now: now, Log: log, AllowLoopback: cfg.OutboundAllowLoopback},
		Config:   cfg,
		Store:    st,
		Billing:  bill,
		Keys:     keys,
		API:      srv,
	}, nil
}

// Webhooks returns the handler of /v1/webhooks/...: its own function in
// AWS, beside the API in the local stack. It is built on request, not in
// New, so the api and sweep binaries do not link the provider SDKs.
func (a *App) Webhooks() *webhooks.Handler {
	cfg := a.Config.Webhooks
	return webhooks.New(a.Billing, webhookSecrets(a.aws, cfg.StripeParam, cfg.StripeSecrets),
		webhookSecrets(a.aws, cfg.GenericParam, cfg.GenericSecrets), a.log)
}

// webhookSecrets reads secrets (webhook signing, statement links) from the
// SSM parameter when one is named (as deployed), else takes them as given
// (the local stack).
func webhookSecrets(awsCfg aws.Config, param, list string) webhooks.Secrets {
	if param != "" {
		return &secrets.SSM{Client: ssm.NewFromConfig(awsCfg), Name: param}
	}
	return secrets.Static(secrets.Split(list))
}

// Load builds the App a Lambda function runs: configuration from the
// environment, the real clock, JSON logs. Any error aborts the cold start.
func Load(ctx context.Context) (*App, *slog.Logger, error) {
	LimitMemory()
	log := logs.New(os.Stderr, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, log, fmt.Errorf("configuration: %w", err)
	}
	if !cfg.DetailedMetrics {
		metricsOut.Keep = Alarmed
	}
	a, err := New(ctx, cfg, log, time.Now)
	return a, log, err
}

// Alarmed says whether the template's alarms watch a metric published
// under these dimensions: with DetailedMetrics off, the only metrics
// written. Webhook deliveries count only when they failed or were refused
// for their signature, the outcomes alarmed on. TestAlarmsWatchWhatCanFail
// checks every alarm still has its metric.
func Alarmed(metric string, dims map[string]string) bool {
	switch metric {
	case "SweepRuns", "SendsInDoubt", "OutboundDeliveriesFailed":
		return len(dims) == 1 && dims["Function"] != ""
	case "WebhookEvents":
		o := dims["Outcome"]
		return len(dims) == 2 && dims["Function"] != "" && (o == webhooks.OutcomeFailed || o == webhooks.OutcomeRejectedSignature)
	}
	return false
}
