package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"dunlin/shared/app"
)

// runSweep runs one sweep against the local stack (or, with --aws, the
// deployed table and SES), as of --now.
func runSweep(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	app.LimitMemory() // as in the sweep function, when run with Lambda's variables
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf stackFlags
	sf.register(fs)
	nowFlag := fs.String("now", "", "run as of this instant, RFC 3339 (e.g. 2026-12-21T10:00:00+08:00); default: now")
	ses := fs.String("ses-endpoint", envOr("DUNLIN_SES_ENDPOINT", "http://127.0.0.1:8005"), "SES endpoint of the local stack (env DUNLIN_SES_ENDPOINT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	now := time.Now()
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			return fmt.Errorf("--now %q: want RFC 3339, e.g. 2026-12-21T10:00:00+08:00", *nowFlag)
		}
		now = t
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	if !sf.aws {
		cfg.SESEndpoint = *ses
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)), func() time.Time { return now })
	if err != nil {
		return err
	}
	sum, err := a.Sweeper.Run(ctx, now)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}
