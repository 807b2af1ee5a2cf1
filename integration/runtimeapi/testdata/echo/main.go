// Command echo is a Lambda function for the emulator's tests.
package main

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

func main() {
	if os.Getenv("FAIL_INIT") != "" {
		os.Exit(3)
	}
	lambda.Start(func(ctx context.Context, in string) (string, error) {
		switch in {
		case "error":
			return "", errors.New("asked to fail")
		case "sleep":
			time.Sleep(time.Minute)
		case "crash":
			os.Exit(2)
		case "deadline":
			d, _ := ctx.Deadline()
			return d.UTC().Format(time.RFC3339Nano), nil
		}
		lc, _ := lambdacontext.FromContext(ctx)
		return strings.ToUpper(in) + " " + lc.AwsRequestID + " " + os.Getenv("GREETING"), nil
	})
}
