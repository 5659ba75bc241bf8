// Command sweep is the scheduled Lambda function that sends dunning emails.
// EventBridge Scheduler invokes it with {"time": "<scheduled time>"}; the
// sweep runs as of that instant, so a replayed or late invocation behaves
// as the one that was scheduled.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"dunlin/shared/app"
	"dunlin/shared/config"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := config.FromEnv()
	if err != nil {
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	a, err := app.New(context.Background(), cfg, log, time.Now)
	if err != nil {
		log.Error("start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(app.SweepHandler(a.Sweeper, log))
}

