// Command outbound is the scheduled Lambda function that delivers
// outbound events: it fans new events out to the firm's endpoints and
// sends every delivery that is due, signed, retrying failures with
// backoff.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dunlin/shared/app"
)

func main() {
	a, log, err := app.Load(context.Background())
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(app.OutboundHandler(a.Outbound, log))
}
