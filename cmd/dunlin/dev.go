package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dunlin"
	"dunlin/shared/app"
	"dunlin/shared/apperr"
	"dunlin/shared/auth"
	"dunlin/shared/localstack"
	"dunlin/shared/store"
)

// runDev is `make dev`: DynamoDB Local (data kept on disk) and SES local,
// the table from template.yaml, the API on loopback, and an admin key.
// Ctrl-C stops everything it started.
func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", envOr("DUNLIN_ADDR", "127.0.0.1:8080"), "address the API listens on (env DUNLIN_ADDR)")
	ddbPort := fs.Int("dynamodb-port", envInt("DUNLIN_DYNAMODB_PORT", 8000), "DynamoDB Local port (env DUNLIN_DYNAMODB_PORT)")
	sesPort := fs.Int("ses-port", envInt("DUNLIN_SES_PORT", 8005), "SES local port (env DUNLIN_SES_PORT)")
	table := fs.String("table", envOr("DUNLIN_TABLE", "dunlin"), "table name (env DUNLIN_TABLE)")
	dataDir := fs.String("data-dir", os.Getenv("DUNLIN_DATA_DIR"), "where DynamoDB Local keeps its data (default .dunlin/dynamodb; env DUNLIN_DATA_DIR)")
	demo := fs.Bool("demo", os.Getenv("DEMO") == "1", "load demo customers and invoices, and open the send window around the clock (env DEMO=1)")
	every := fs.Duration("sweep-every", envDuration("DUNLIN_SWEEP_EVERY", time.Minute), "how often the local scheduler runs the sweep; 0 turns it off (env DUNLIN_SWEEP_EVERY)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	home, err := localstack.Home()
	if err != nil {
		return err
	}
	if *dataDir == "" {
		*dataDir = filepath.Join(home, "dynamodb")
	}
	if err := localstack.Install(ctx, home, stderr); err != nil {
		return err
	}
	ddb, err := localstack.StartDynamoDB(ctx, home, localstack.DynamoDBOptions{Port: *ddbPort, DataDir: *dataDir})
	if err != nil {
		return err
	}
	defer ddb.Stop()
	ses, err := localstack.StartSES(ctx, home, *sesPort)
	if err != nil {
		return err
	}
	defer ses.Stop()

	if err := store.EnsureTable(ctx, localstack.LocalDynamoDB(ddb.Endpoint), dunlin.Template, "Table", *table); err != nil {
		return err
	}
	sf := stackFlags{table: *table, endpoint: ddb.Endpoint, region: "us-east-1"}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	cfg.SESEndpoint = ses.Endpoint
	if *demo && os.Getenv("DUNLIN_SEND_HOURS") == "" && os.Getenv("DUNLIN_SEND_DAYS") == "" {
		// So a newcomer sees emails whatever the hour: the demo is not a customer.
		cfg.Window.StartHour, cfg.Window.EndHour = 0, 24
		cfg.Window.Weekdays = []time.Weekday{0, 1, 2, 3, 4, 5, 6}
	}
	if *demo && os.Getenv("DUNLIN_DIGEST_HOUR") == "" {
		cfg.DigestHour = 0 // and the alert digest goes with the first sweep
	}
	// Local webhook secrets, unless given: sign test deliveries with these.
	if cfg.Webhooks.StripeSecrets == "" && cfg.Webhooks.StripeParam == "" {
		cfg.Webhooks.StripeSecrets = devStripeSecret
	}
	if cfg.Webhooks.GenericSecrets == "" && cfg.Webhooks.GenericParam == "" {
		cfg.Webhooks.GenericSecrets = devGenericSecret
	}
	// Customers' statement pages, linked from the emails, on this address.
	if cfg.LinkSecrets == "" && cfg.LinkSecretsParam == "" {
		cfg.LinkSecrets = devLinkSecret
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + *addr
	}
	// A receiver on this machine may be registered as an http:// endpoint.
	if os.Getenv("DUNLIN_OUTBOUND_ALLOW_LOOPBACK") == "" {
		cfg.OutboundAllowLoopback = true
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	a, err := app.New(ctx, cfg, log, time.Now)
	if err != nil {
		return err
	}
	// The key is only valid for this data, so it is kept beside it.
	key, err := devAdminKey(ctx, a.Keys, filepath.Join(*dataDir, "dunlin-admin-key"))
	if err != nil {
		return err
	}
	if *demo {
		n, err := loadDemo(ctx, a)
		if err != nil {
			return fmt.Errorf("demo data: %w", err)
		}
		fmt.Fprintf(stdout, "demo data: %d invoices across %d customers\n", n, len(demoCustomers))
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --addr)", *addr, err)
	}
	// As API Gateway routes them in AWS: webhooks to their function, the rest to the API.
	mux := http.NewServeMux()
	mux.Handle("/v1/webhooks/", a.Webhooks())
	mux.Handle("/", a.API)
	srv := &http.Server{Handler: accessLog(mux, stderr), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	if *every > 0 {
		go schedule(ctx, a, *every, stdout, stderr)
	}
	// Outbound events go every 15 seconds here (every minute in AWS), so
	// a developer's receiver hears of a change quickly.
	go deliverEvents(ctx, a, 15*time.Second, stdout, stderr)
	base := "http://" + ln.Addr().String()
	reused := func(s *localstack.Server) string {
		if s.Reused {
			return " (already running; reused)"
		}
		return ""
	}
	fmt.Fprintf(stdout, `
Dunlin is running locally.

  Dashboard      %s/app/  (sign in with the admin API key below)
  API            %s/v1/  (OpenAPI: %s/v1/openapi.json)
  DynamoDB Local %s%s, table %q, %s
  SES local      %s%s  (sent mail: open it in a browser)
  Sweep          %s
  Admin API key  %s
  Webhooks       %s/v1/webhooks/stripe  (secret %s)
                 %s/v1/webhooks/generic (secret %s)

Try:
  curl -H "Authorization: Bearer %s" %s/v1/customers

Press Ctrl-C to stop.
`, base, base, base, ddb.Endpoint, reused(ddb), *table, dataNote(ddb, *dataDir), ses.Endpoint, reused(ses), sweepNote(*every, cfg.Window.String()), key,
		base, cfg.Webhooks.StripeSecrets, base, cfg.Webhooks.GenericSecrets, key, base)

	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	fmt.Fprintln(stdout, "\nstopping ...")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// devAdminKey reuses the admin key saved by an earlier run if it still
// works, and otherwise creates one and saves it. The file lives in the
// ignored .dunlin folder and only ever holds a key to the local stack.
func devAdminKey(ctx context.Context, keys *auth.Service, path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		token := strings.TrimSpace(string(b))
		k, err := keys.Authenticate(ctx, token)
		if err == nil && k.Role == auth.Admin {
			return token, nil
		}
		if err != nil && !apperr.Is(err, apperr.Unauthorized) {
			return "", err
		}
	}
	token, _, err := keys.Create(ctx, "local admin (dunlin dev)", auth.Admin)
	if err != nil {
		return "", err
	}
	return token, os.WriteFile(path, []byte(token+"\n"), 0o600)
}

// schedule runs the sweep now and then every interval, like the hourly
// schedule in AWS, printing a line per run that did something.
func schedule(ctx context.Context, a *app.App, every time.Duration, stdout, stderr io.Writer) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		sum, err := a.Sweeper.Run(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			fmt.Fprintf(stderr, "sweep: %v\n", err)
		case sum.Sent+sum.InDoubt+sum.Failed+sum.Requeued > 0 || sum.Digest != "":
			fmt.Fprintf(stdout, "%s sweep: %d sent, %d requeued, %d in doubt, %d failed, skipped %v%s\n",
				time.Now().Format("15:04:05"), sum.Sent, sum.Requeued, sum.InDoubt, sum.Failed, sum.Skipped, digestNote(sum.Digest))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// deliverEvents runs outbound event delivery every interval, like the
// one-minute schedule in AWS, printing a line per run that did something.
func deliverEvents(ctx context.Context, a *app.App, every time.Duration, stdout, stderr io.Writer) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		sum, err := a.Outbound.Run(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			fmt.Fprintf(stderr, "outbound events: %v\n", err)
		case sum.Attempted+sum.Cancelled > 0:
			fmt.Fprintf(stdout, "%s outbound events: %d delivered, %d to retry, %d failed, %d cancelled\n",
				time.Now().Format("15:04:05"), sum.Delivered, sum.Retrying, sum.Failed, sum.Cancelled)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// digestNote mentions the alert digest when a run made it.
func digestNote(status string) string {
	if status == "" {
		return ""
	}
	return "; alert digest " + status
}

func sweepNote(every time.Duration, window string) string {
	if every <= 0 {
		return "off (run it with: go run ./cmd/dunlin sweep)"
	}
	return fmt.Sprintf("every %s, send window %s", every, window)
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// dataNote says where DynamoDB Local keeps data; a reused server keeps it
// wherever it was started with, which this process cannot know.
func dataNote(ddb *localstack.Server, dir string) string {
	if ddb.Reused {
		return "data wherever that server keeps it"
	}
	return "data in " + dir
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// accessLog prints one line per request, for watching the local stack.
// Webhook signing secrets of the local stack (DUNLIN_STRIPE_WEBHOOK_SECRETS
// and DUNLIN_GENERIC_WEBHOOK_SECRETS override them). They guard nothing
// but loopback test data.
const (
	devStripeSecret  = "whsec_dunlin_local_dev"
	devGenericSecret = "dunlin_local_generic_dev"
	devLinkSecret    = "dunlin_local_link_dev" // signs links to statement pages (DUNLIN_LINK_SECRETS)
)

func accessLog(next http.Handler, w io.Writer) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sr := &statusRecorder{ResponseWriter: rw, status: http.StatusOK}
		next.ServeHTTP(sr, r)
		fmt.Fprintf(w, "%s %s %s %d %s\n", start.Format("15:04:05"), r.Method, r.URL.RequestURI(), sr.status, time.Since(start).Round(time.Millisecond))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
