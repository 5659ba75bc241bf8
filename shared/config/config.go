// Package config reads Dunlin's settings from the environment and builds
// AWS SDK clients from them.
//
// The same variables configure the Lambda functions (template.yaml sets them)
// and the local stack (the dunlin CLI sets them). Endpoint overrides exist
// only for local servers; in AWS they are unset and the SDK's defaults apply.
package config

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"dunlin/shared/billing"
	"dunlin/shared/dunning"
)

// Config is every setting a Dunlin process needs.
type Config struct {
	Table            string // DUNLIN_TABLE
	Region           string // AWS_REGION (set by Lambda)
	DynamoDBEndpoint string // DUNLIN_DYNAMODB_ENDPOINT: local DynamoDB only
	SESEndpoint      string // DUNLIN_SES_ENDPOINT: local SES only
	Firm             billing.Firm
	FirmName         string // DUNLIN_FIRM_NAME
	Sender           string // DUNLIN_SENDER: the From address, a verified SES identity
	ReplyTo          string // DUNLIN_REPLY_TO
	CollectionsEmail string // DUNLIN_COLLECTIONS_EMAIL: receives escalations and the alert digest
	// DigestHour is the firm-local hour from which the daily alert digest
	// goes to CollectionsEmail (DUNLIN_DIGEST_HOUR, 0-23, default 7; "off"
	// or -1 sends none).
	DigestHour int
	// MaxEmailsPerRun caps the emails one sweep sends
	// (DUNLIN_MAX_EMAILS_PER_RUN, default 1000): a bug, or a flood of
	// invoices posted by a hostile or broken client, cannot mail-bomb
	// anyone; the next run goes on where this one stopped.
	MaxEmailsPerRun int
	// SESMaxSendRate is the most emails a second the sweep sends
	// (DUNLIN_SES_MAX_SEND_RATE, default 14, the usual rate out of the
	// sandbox; the sandbox's is 1). Each run also reads the account's own
	// maximum send rate from SES and keeps to the lower of the two; 0
	// leaves the account's rate as the only limit.
	SESMaxSendRate float64
	// SESConfigurationSet names the SES configuration set emails are sent
	// with (DUNLIN_SES_CONFIGURATION_SET; the template makes one), whose
	// events (bounces, complaints, deliveries) reach the mailevents
	// function. Empty sends without one.
	SESConfigurationSet string
	// KeyCache is how long a function trusts an API key it has read
	// before reading it again (DUNLIN_KEY_CACHE_SECONDS, default 30; 0
	// reads it on every request). A key revoked elsewhere keeps working
	// in a running function for at most this long.
	KeyCache time.Duration
	// Send window (customer-local): DUNLIN_SEND_HOURS "9-18",
	// DUNLIN_SEND_DAYS "Mon-Fri" or "Mon,Tue,Sat", DUNLIN_HOLIDAYS "GB",
	// DUNLIN_CLOSED_DAYS "2026-12-24,2026-12-31".
	Window dunning.Window
	// Webhook signing secrets, comma-separated (several during a rotation):
	// either the SSM SecureString parameter that holds them
	// (DUNLIN_STRIPE_WEBHOOK_SECRETS_PARAM, DUNLIN_GENERIC_WEBHOOK_SECRETS_PARAM),
	// as deployed, or the secrets themselves (DUNLIN_STRIPE_WEBHOOK_SECRETS,
	// DUNLIN_GENERIC_WEBHOOK_SECRETS), as the local stack uses.
	Webhooks struct {
		StripeParam, GenericParam     string
		StripeSecrets, GenericSecrets string
	}
	// Customers' statement pages: PublicURL (DUNLIN_PUBLIC_URL) is where
	// the API answers, for the links in emails; the links are signed with
	// the secrets in the SSM parameter DUNLIN_LINK_SECRETS_PARAM (deployed)
	// or DUNLIN_LINK_SECRETS (local). Without secrets there are no pages;
	// without a URL, emails carry no link.
	PublicURL                     string
	LinkSecretsParam, LinkSecrets string
	// OutboundAllowLoopback accepts http:// endpoint URLs on 127.0.0.1,
	// ::1 or localhost (DUNLIN_OUTBOUND_ALLOW_LOOPBACK=true): the local
	// stack sets it so a receiver on the developer's machine can be
	// registered. The template never sets it: deployed, endpoints are https.
	OutboundAllowLoopback bool
	// DetailedMetrics writes every metric (DUNLIN_DETAILED_METRICS, true
	// by default); false writes only those the template's alarms watch,
	// within CloudWatch's ten free custom metrics.
	DetailedMetrics bool

	// DynamoDBOptions are applied to the DynamoDB client after the
	// settings above. Never read from the environment: benchmarks and
	// tests use it to count or capture what the client sends.
	DynamoDBOptions []func(*dynamodb.Options)
}

// Defaults are the values used when a variable is unset.
var Defaults = Config{
	Table:            "dunlin",
	Region:           "us-east-1",
	FirmName:         "Example Ltd",
	Sender:           "receivables@example.com",
	CollectionsEmail: "collections@example.com",
	DigestHour:       7,
	MaxEmailsPerRun:  1000,
	SESMaxSendRate:   14,
	KeyCache:         30 * time.Second,
	DetailedMetrics:  true,
	Window:           dunning.DefaultWindow(),
	Firm: billing.Firm{
		Timezone:         "UTC",
		DefaultCurrency:  "EUR",
		DefaultTermsDays: 30,
	},
}

// FromEnv reads the configuration from environment variables, starting from
// Defaults. It fails on values that cannot be parsed.
func FromEnv() (Config, error) { return FromLookup(os.LookupEnv) }

// FromLookup is FromEnv with a custom variable source, for tests.
func FromLookup(lookup func(string) (string, bool)) (Config, error) {
	c := Defaults
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok && v != "" {
			*dst = v
		}
	}
	str("DUNLIN_TABLE", &c.Table)
	str("AWS_REGION", &c.Region)
	str("DUNLIN_DYNAMODB_ENDPOINT", &c.DynamoDBEndpoint)
	str("DUNLIN_SES_ENDPOINT", &c.SESEndpoint)
	str("DUNLIN_SES_CONFIGURATION_SET", &c.SESConfigurationSet)
	str("DUNLIN_FIRM_NAME", &c.FirmName)
	str("DUNLIN_FIRM_TIMEZONE", &c.Firm.Timezone)
	str("DUNLIN_DEFAULT_CURRENCY", &c.Firm.DefaultCurrency)
	str("DUNLIN_SENDER", &c.Sender)
	str("DUNLIN_REPLY_TO", &c.ReplyTo)
	str("DUNLIN_COLLECTIONS_EMAIL", &c.CollectionsEmail)
	str("DUNLIN_STRIPE_WEBHOOK_SECRETS_PARAM", &c.Webhooks.StripeParam)
	str("DUNLIN_GENERIC_WEBHOOK_SECRETS_PARAM", &c.Webhooks.GenericParam)
	str("DUNLIN_STRIPE_WEBHOOK_SECRETS", &c.Webhooks.StripeSecrets)
	str("DUNLIN_GENERIC_WEBHOOK_SECRETS", &c.Webhooks.GenericSecrets)
	str("DUNLIN_PUBLIC_URL", &c.PublicURL)
	str("DUNLIN_LINK_SECRETS_PARAM", &c.LinkSecretsParam)
	str("DUNLIN_LINK_SECRETS", &c.LinkSecrets)
	w, err := parseWindow(lookup)
	if err != nil {
		return Config{}, err
	}
	c.Window = w
	if v, ok := lookup("DUNLIN_DIGEST_HOUR"); ok && v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case v == "off":
			c.DigestHour = -1
		case err != nil || n < -1 || n > 23:
			return Config{}, fmt.Errorf("DUNLIN_DIGEST_HOUR=%q: an hour from 0 to 23, or off", v)
		default:
			c.DigestHour = n
		}
	}
	if v, ok := lookup("DUNLIN_MAX_EMAILS_PER_RUN"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Config{}, fmt.Errorf("DUNLIN_MAX_EMAILS_PER_RUN=%q: a whole number of emails, at least 1", v)
		}
		c.MaxEmailsPerRun = n
	}
	if v, ok := lookup("DUNLIN_SES_MAX_SEND_RATE"); ok && v != "" {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || n < 0 || n > 10000 {
			return Config{}, fmt.Errorf("DUNLIN_SES_MAX_SEND_RATE=%q: emails a second, e.g. 14; 0 for the SES account's rate alone", v)
		}
		c.SESMaxSendRate = n
	}
	if v, ok := lookup("DUNLIN_KEY_CACHE_SECONDS"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3600 {
			return Config{}, fmt.Errorf("DUNLIN_KEY_CACHE_SECONDS=%q: whole seconds from 0 to 3600", v)
		}
		c.KeyCache = time.Duration(n) * time.Second
	}
	if v, ok := lookup("DUNLIN_OUTBOUND_ALLOW_LOOPBACK"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("DUNLIN_OUTBOUND_ALLOW_LOOPBACK=%q: true or false", v)
		}
		c.OutboundAllowLoopback = b
	}
	if v, ok := lookup("DUNLIN_DETAILED_METRICS"); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("DUNLIN_DETAILED_METRICS=%q: true or false", v)
		}
		c.DetailedMetrics = b
	}
	if v, ok := lookup("DUNLIN_DEFAULT_TERMS_DAYS"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return Config{}, fmt.Errorf("DUNLIN_DEFAULT_TERMS_DAYS=%q: not a whole number of days", v)
		}
		c.Firm.DefaultTermsDays = n
	}
	return c, nil
}

// Local reports whether the configuration points at local servers.
func (c Config) Local() bool { return c.DynamoDBEndpoint != "" || c.SESEndpoint != "" }

// AWS loads the SDK configuration. Against local servers it uses fixed dummy
// credentials so nothing probes the real credential chain or instance metadata.
func (c Config) AWS(ctx context.Context) (aws.Config, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(c.Region)}
	if c.Local() {
		opts = append(opts,
			awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")),
			awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled),
		)
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

// DynamoDB returns a DynamoDB client, pointed at DynamoDBEndpoint when set.
func (c Config) DynamoDB(cfg aws.Config) *dynamodb.Client {
	local := func(o *dynamodb.Options) {
		if c.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(c.DynamoDBEndpoint)
			// DynamoDB Local omits the CRC32 header on error responses.
			o.DisableValidateResponseChecksum = true
		}
	}
	return dynamodb.NewFromConfig(cfg, append([]func(*dynamodb.Options){local}, c.DynamoDBOptions...)...)
}

// SES returns an SES v2 client, pointed at SESEndpoint when set.
func (c Config) SES(cfg aws.Config) *sesv2.Client {
	return sesv2.NewFromConfig(cfg, func(o *sesv2.Options) {
		if c.SESEndpoint != "" {
			o.BaseEndpoint = aws.String(c.SESEndpoint)
		}
	})
}
