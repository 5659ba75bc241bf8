// Command api is the Lambda function behind the HTTP API: the API's
// net/http handler, adapted to API Gateway HTTP API (payload format 2.0).
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
	algnhsa.ListenAndServe(a.API, &algnhsa.Options{RequestType: algnhsa.RequestTypeAPIGatewayV2})
}
