// Command api is the Lambda function behind the HTTP API: the API's
// net/http handler, adapted to API Gateway HTTP API (payload format 2.0).
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/akrylysov/algnhsa"

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
	algnhsa.ListenAndServe(a.API, &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})
}
