package lambdalog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
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
