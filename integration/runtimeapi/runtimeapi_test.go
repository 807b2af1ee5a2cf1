package runtimeapi

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
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

// outcome is what a test expects of one invocation; an empty ErrorType
// expects success.
type outcome struct {
	ErrorType, ErrorMessage string
	ColdStart               bool
}

func expectOutcome(t *testing.T, step string, r Result, expect outcome) {
	t.Helper()
	gotType, gotMessage := "", ""
	if r.Error != nil {
		gotType, gotMessage = r.Error.Type, r.Error.Message
	}
	if gotType != expect.ErrorType {
		t.Errorf("%s: error type: got %q (%v), expect %q", step, gotType, r.Error, expect.ErrorType)
	}
	if expect.ErrorMessage != "" && gotMessage != expect.ErrorMessage {
		t.Errorf("%s: error message: got %q, expect %q", step, gotMessage, expect.ErrorMessage)
	}
	if r.ColdStart != expect.ColdStart {
		t.Errorf("%s: cold start: got %v, expect %v", step, r.ColdStart, expect.ColdStart)
	}
}

func TestInvocations(t *testing.T) {
	bin := build(t)
	var logs bytes.Buffer
	const timeout = 2 * time.Second
	f, err := Start(Config{Name: "echo", Bootstrap: bin, Timeout: timeout, Env: map[string]string{"GREETING": "hi"}, Output: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	invoke := func(payload string) Result {
		t.Helper()
		r, err := f.Invoke(ctx, []byte(strconv.Quote(payload)))
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		return r
	}

	r := invoke("abc")
	expectOutcome(t, "echo", r, outcome{ColdStart: true})
	if expect := strconv.Quote("ABC " + r.RequestID + " hi"); string(r.Payload) != expect {
		t.Errorf("echo: payload: got %s, expect %s", r.Payload, expect)
	}

	// The deadline is the invocation's start plus the timeout, to the
	// millisecond: compared with the start's bounds, not with a clock read
	// inside the function, so a slow machine cannot move it.
	before := time.Now()
	r = invoke("deadline")
	after := time.Now()
	expectOutcome(t, "deadline", r, outcome{})
	var deadline string
	if err := unquote(r.Payload, &deadline); err != nil {
		t.Fatalf("deadline: payload %s: %v", r.Payload, err)
	}
	got, err := time.Parse(time.RFC3339Nano, deadline)
	if err != nil {
		t.Fatalf("deadline: %v", err)
	}
	if earliest := before.Add(timeout).Truncate(time.Millisecond); got.Before(earliest) {
		t.Errorf("deadline: got %s, expect no earlier than %s", got, earliest)
	}
	if latest := after.Add(timeout); got.After(latest) {
		t.Errorf("deadline: got %s, expect no later than %s", got, latest)
	}

	expectOutcome(t, "error", invoke("error"), outcome{ErrorType: "errorString", ErrorMessage: "asked to fail"})
	expectOutcome(t, "timeout", invoke("sleep"), outcome{ErrorType: "Sandbox.Timedout"})
	// After a timeout the process is gone: the next invocation cold starts.
	expectOutcome(t, "after timeout", invoke("after timeout"), outcome{ColdStart: true})
	expectOutcome(t, "crash", invoke("crash"), outcome{ErrorType: "Runtime.ExitError"})
	f.KillWhen(func(string) bool { return true })
	expectOutcome(t, "killed", invoke("sleep"), outcome{ErrorType: "Runtime.ExitError", ColdStart: true})
	f.KillWhen(nil)
	expectOutcome(t, "recovery", invoke("ok"), outcome{ColdStart: true})
	if got := f.ColdStarts(); got != 4 {
		t.Errorf("cold starts: got %d, expect 4", got)
	}
}

// TestKilledInvocationFailsEvenIfAnswered kills an invocation the
// function answers at once: the answer must not win over the kill.
func TestKilledInvocationFailsEvenIfAnswered(t *testing.T) {
	f, err := Start(Config{Name: "echo", Bootstrap: build(t), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.KillWhen(func(string) bool { return true })
	for i := range 5 {
		r, err := f.Invoke(context.Background(), []byte(`"fast"`))
		if err != nil {
			t.Fatal(err)
		}
		expectOutcome(t, "killed "+strconv.Itoa(i+1), r, outcome{ErrorType: "Runtime.ExitError", ColdStart: true})
	}
}

func TestInitFailure(t *testing.T) {
	f, err := Start(Config{Name: "echo", Bootstrap: build(t), Env: map[string]string{"FAIL_INIT": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := f.Invoke(context.Background(), []byte(`"x"`))
	if err != nil {
		t.Fatal(err)
	}
	expectOutcome(t, "init failure", r, outcome{ErrorType: "Runtime.ExitError", ColdStart: true})
}

func unquote(b []byte, s *string) (err error) {
	*s, err = strconv.Unquote(string(b))
	return err
}
