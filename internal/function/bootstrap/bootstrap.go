package bootstrap

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/lambdalog"
)

// Setup is what Start hands a function's constructor: the AWS
// configuration and the function's logger, and the telemetry options for
// its handler.
type Setup struct {
	// AWS is the SDK configuration read from the environment, for the
	// function's clients.
	AWS aws.Config
	// Log is the function's logger, at the configured level.
	Log *slog.Logger

	stdout       io.Writer
	functionName string
}

// Telemetry returns the options that make a handler log to the
// function's logger and write its metrics, in namespace and with the
// FunctionName dimension the stack's alarms and dashboard select on, as
// EMF lines on standard output, where Lambda's log stream picks them up.
func (s Setup) Telemetry(namespace string) []function.Option {
	metrics := emf.New(s.stdout, namespace, emf.WithDimension("FunctionName", s.functionName))
	return []function.Option{function.WithLogger(s.Log), function.WithMetrics(metrics)}
}

// Start is a function's main. It builds the logger at the level
// LOG_LEVEL or AWS_LAMBDA_LOG_LEVEL sets (logging a bad value, then using
// INFO), reads the configuration with load, loads the AWS configuration,
// builds the handler with build and hands it to lambda.Start. It never
// returns: when the configuration or the handler cannot be built, the
// error, which names every bad variable, is logged once as
// "<name> not started" and the process exits with status 1, so that Lambda
// reports an initialization error instead of running a misconfigured
// function.
func Start[C any](name string, load func(lookup func(string) (string, bool)) (C, error), build func(Setup, C) (lambda.Handler, error)) {
	h, err := bootstrap(process{lookup: os.LookupEnv, stdout: os.Stdout, loadAWS: loadAWS}, name, load, build)
	if err != nil {
		os.Exit(1) // logged by bootstrap
	}
	lambda.Start(h)
}

// process is what Start reads from the process it runs in; tests give
// their own.
type process struct {
	lookup  func(string) (string, bool)
	stdout  io.Writer
	loadAWS func(context.Context) (aws.Config, error)
}

func loadAWS(ctx context.Context) (aws.Config, error) { return config.LoadDefaultConfig(ctx) }

// bootstrap does all of Start but the exit and lambda.Start, and logs the
// error it returns.
func bootstrap[C any](p process, name string, load func(func(string) (string, bool)) (C, error), build func(Setup, C) (lambda.Handler, error)) (lambda.Handler, error) {
	level, levelErr := lambdalog.LevelFromEnv(p.lookup)
	log := lambdalog.New(p.stdout, level)
	if levelErr != nil {
		log.Warn("log level not understood", "error", levelErr.Error())
	}
	h, err := construct(p, log, load, build)
	if err != nil {
		log.Error(name+" not started", "error", err.Error())
		return nil, err
	}
	return h, nil
}

func construct[C any](p process, log *slog.Logger, load func(func(string) (string, bool)) (C, error), build func(Setup, C) (lambda.Handler, error)) (lambda.Handler, error) {
	cfg, err := load(p.lookup)
	if err != nil {
		return nil, err
	}
	awsCfg, err := p.loadAWS(context.Background())
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	name, _ := p.lookup("AWS_LAMBDA_FUNCTION_NAME")
	return build(Setup{AWS: awsCfg, Log: log, stdout: p.stdout, functionName: name}, cfg)
}
