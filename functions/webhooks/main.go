// Command webhooks is the Lambda function behind POST /v1/webhooks/stripe
// and POST /v1/webhooks/generic. It has no API key: each delivery's
// signature is its authentication. Signing secrets are read from SSM
// Parameter Store on first use, so the cold start makes no network call.
// Each delivery writes a WebhookEvents metric to the log (EMF).
package main

import (
	"context"
	"os"

	"github.com/akrylysov/algnhsa"

	"dunlin/shared/app"
)

func main() {
	a, log, err := app.Load(context.Background())
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	algnhsa.ListenAndServe(app.WebhooksHandler(a.Webhooks(), log), &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})
}
