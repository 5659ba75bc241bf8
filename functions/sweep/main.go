// Command sweep is the scheduled Lambda function that sends dunning emails.
// EventBridge Scheduler invokes it with {"time": "<scheduled time>"}; the
// sweep runs as of that instant, so a retried or late invocation behaves
// as the one that was scheduled.
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
	lambda.Start(app.SweepHandler(a.Sweeper, log))
}
