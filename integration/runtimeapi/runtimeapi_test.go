package runtimeapi

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/echo")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func TestInvocations(t *testing.T) {
	bin := build(t)
	var logs bytes.Buffer
	f, err := Start(Config{Name: "echo", Bootstrap: bin, Timeout: 2 * time.Second, Env: map[string]string{"GREETING": "hi"}, Output: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()

	r, err := f.Invoke(ctx, []byte(`"abc"`))
	if err != nil || r.Error != nil || !r.ColdStart || !strings.HasPrefix(string(r.Payload), `"ABC `+r.RequestID+` hi"`) {
		t.Fatalf("echo: %+v, %v (%s)", r, err, r.Payload)
	}
	r, _ = f.Invoke(ctx, []byte(`"deadline"`))
	if r.ColdStart || string(r.Payload) != `"2s"` {
		t.Errorf("deadline: %s (cold %v)", r.Payload, r.ColdStart)
	}
	r, _ = f.Invoke(ctx, []byte(`"error"`))
	if r.Error == nil || r.Error.Message != "asked to fail" || r.Error.Type != "errorString" {
		t.Errorf("error: %+v", r.Error)
	}
	r, _ = f.Invoke(ctx, []byte(`"sleep"`))
	if r.Error == nil || r.Error.Type != "Sandbox.Timedout" {
		t.Errorf("timeout: %+v", r.Error)
	}
	r, _ = f.Invoke(ctx, []byte(`"after timeout"`))
	if r.Error != nil || !r.ColdStart {
		t.Errorf("after a timeout the next invocation must cold start: %+v", r)
	}
	r, _ = f.Invoke(ctx, []byte(`"crash"`))
	if r.Error == nil || r.Error.Type != "Runtime.ExitError" {
		t.Errorf("crash: %+v", r.Error)
	}
	f.KillWhen(func(string) bool { return true })
	r, _ = f.Invoke(ctx, []byte(`"sleep"`))
	if r.Error == nil || r.Error.Type != "Runtime.ExitError" {
		t.Errorf("killed: %+v", r.Error)
	}
	f.KillWhen(nil)
	if r, _ = f.Invoke(ctx, []byte(`"ok"`)); r.Error != nil || f.ColdStarts() != 4 {
		t.Errorf("recovery: %+v, %d cold starts", r, f.ColdStarts())
	}
}

func TestInitFailure(t *testing.T) {
	f, err := Start(Config{Name: "echo", Bootstrap: build(t), Env: map[string]string{"FAIL_INIT": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := f.Invoke(context.Background(), []byte(`"x"`))
	if err != nil || r.Error == nil || r.Error.Type != "Runtime.ExitError" {
		t.Fatalf("= %+v, %v", r, err)
	}
}
