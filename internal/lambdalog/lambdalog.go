package lambdalog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// New returns a JSON logger writing to w at level. Lines logged with a
// context from a Lambda invocation carry its requestId.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

// ParseLevel accepts the level names Lambda's log configuration uses
// (TRACE, DEBUG, INFO, WARN, ERROR, FATAL), in any case; empty is INFO.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TRACE", "DEBUG":
		return slog.LevelDebug, nil
	case "", "INFO":
		return slog.LevelInfo, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "ERROR", "FATAL":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want TRACE, DEBUG, INFO, WARN, ERROR or FATAL)", s)
}

// LevelEnv is the variable that sets the functions' log level. The stack
// sets Lambda's own application log-level filter to TRACE and this one to
// the chosen level: Lambda treats a JSON line without a "level" as INFO
// and drops it under a WARN or higher filter, and the EMF metric lines
// have no level, so filtering in Lambda would erase the metrics
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
const LevelEnv = "LOG_LEVEL"

// LevelFromEnv reads LOG_LEVEL, or else AWS_LAMBDA_LOG_LEVEL (set by
// Lambda's log configuration). A bad value yields INFO and an error naming
// the variable, for the caller to log once the logger exists.
func LevelFromEnv(lookup func(string) (string, bool)) (slog.Level, error) {
	name := LevelEnv
	v, ok := lookup(name)
	if !ok || strings.TrimSpace(v) == "" {
		name = "AWS_LAMBDA_LOG_LEVEL"
		v, _ = lookup(name)
	}
	level, err := ParseLevel(v)
	if err != nil {
		return slog.LevelInfo, fmt.Errorf("%s: %w; logging at INFO", name, err)
	}
	return level, nil
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
