// Command mailevents is the Lambda function that records what SES says
// became of Dunlin's emails: bounces, complaints, deliveries and
// rejections, published by the configuration set to EventBridge.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"dunlin/shared/app"
	"dunlin/shared/mailevents"
)

func main() {
	a, log, err := app.Load(context.Background())
	if err != nil {
		log.Error("cold start", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(mailevents.Handler(a.Billing, log))
}
