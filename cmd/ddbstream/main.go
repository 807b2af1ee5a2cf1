// Command ddbstream is the pipeline's operator tool: `ddbstream backfill`
// loads a table's state into the lake from a point-in-time export,
// `ddbstream reconcile` compares the lake with the table, `ddbstream
// redrive` delivers again what the functions gave up on, `ddbstream
// replay` delivers a time range's objects again, `ddbstream errors` lists
// the records set aside, and `ddbstream doctor` checks a deployed stack. Run
// `ddbstream --help` for the commands and `ddbstream <command> --help` for
// each one's flags and examples.
//
// This file wires the process to the commands (cli.go): the real AWS
// clients from the standard credential chain, the terminal, and Ctrl-C,
// which stops the command (an export goes on in AWS).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/progress"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], env{
		stdout: os.Stdout, stderr: os.Stderr, terminal: progress.IsTerminal(os.Stderr), connect: connectAWS,
	})
	stop()
	os.Exit(code)
}

// connectAWS builds the clients from the SDK's standard chain: the
// environment (AWS_REGION, AWS_PROFILE, keys, AWS_ENDPOINT_URL_<SERVICE>),
// the shared config and SSO, container and instance roles. It checks
// that a region and credentials exist, so that their absence is reported
// as such rather than as the first call's failure.
func connectAWS(ctx context.Context, region, profile string) (clients, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return clients{}, &remedyError{msg: "load the AWS configuration", err: err,
			remedy: "check --profile (or AWS_PROFILE) and the profile in ~/.aws/config"}
	}
	if cfg.Region == "" {
		return clients{}, &remedyError{msg: "no AWS region", remedy: "give --region, set AWS_REGION, or set a region in the profile"}
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return clients{}, &remedyError{msg: "no AWS credentials", err: err,
			remedy: "sign in (aws sso login, or aws configure), choose a profile with --profile or AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"}
	}
	pathStyle := os.Getenv("S3_FORCE_PATH_STYLE") == "true" // S3-compatible servers, as for the functions
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = pathStyle })
	ddb := dynamodb.NewFromConfig(cfg)
	ops := connectOps(cfg, s3c, ddb)
	return clients{
		stacks:   cloudformation.NewFromConfig(cfg),
		dynamodb: ddb,
		s3:       s3c,
		lambda:   ops.lambda,
		ops:      ops,
	}, nil
}
