// Command hello is the cold-start baseline: the smallest Go function
// aws-lambda-go can run. bench/coldstart measures each Dunlin function
// against it, so what it reports is what Dunlin adds to a Go Lambda.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, e json.RawMessage) (string, error) { return "hello", nil })
}
