package lambdalog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

func TestRequestIDOnEveryLine(t *testing.T) {
	var out bytes.Buffer
	log := New(&out, slog.LevelInfo).With("fn", "streamer")
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	log.InfoContext(ctx, "hello", "n", 1)
	log.DebugContext(ctx, "hidden")
	log.Info("no context")
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("got %d lines: %s", len(lines), out.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &second); err != nil {
		t.Fatal(err)
	}
	if first["requestId"] != "req-1" || first["fn"] != "streamer" || first["msg"] != "hello" {
		t.Errorf("first line = %v", first)
	}
	if _, ok := second["requestId"]; ok {
		t.Errorf("line without a Lambda context has a requestId: %v", second)
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"": slog.LevelInfo, "trace": slog.LevelDebug, "DEBUG": slog.LevelDebug,
		"Warn": slog.LevelWarn, "ERROR": slog.LevelError, "FATAL": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("ParseLevel(loud) succeeded")
	}
}

func TestLevelFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    slog.Level
		wantErr string
	}{
		{"nothing set", nil, slog.LevelInfo, ""},
		{"Lambda's level", map[string]string{"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, slog.LevelDebug, ""},
		{"LOG_LEVEL wins over Lambda's TRACE", map[string]string{"LOG_LEVEL": "WARN", "AWS_LAMBDA_LOG_LEVEL": "TRACE"}, slog.LevelWarn, ""},
		{"FATAL", map[string]string{"LOG_LEVEL": "FATAL"}, slog.LevelError, ""},
		{"empty LOG_LEVEL falls back", map[string]string{"LOG_LEVEL": " ", "AWS_LAMBDA_LOG_LEVEL": "ERROR"}, slog.LevelError, ""},
		{"bad LOG_LEVEL", map[string]string{"LOG_LEVEL": "LOUD"}, slog.LevelInfo, `LOG_LEVEL: unknown log level "LOUD"`},
		{"bad Lambda level", map[string]string{"AWS_LAMBDA_LOG_LEVEL": "verbose"}, slog.LevelInfo, `AWS_LAMBDA_LOG_LEVEL: unknown log level "verbose"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LevelFromEnv(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if got != tc.want {
				t.Errorf("level: got %v, want %v", got, tc.want)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if tc.wantErr == "" && gotErr != "" || tc.wantErr != "" && !strings.Contains(gotErr, tc.wantErr) {
				t.Errorf("error: got %q, want %q", gotErr, tc.wantErr)
			}
		})
	}
}
