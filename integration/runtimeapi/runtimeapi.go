package runtimeapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config describes one function.
type Config struct {
	// Name is the function name (AWS_LAMBDA_FUNCTION_NAME).
	Name string
	// Bootstrap is the path of the executable.
	Bootstrap string
	// Env is the function's environment, on top of the runtime's own.
	Env map[string]string
	// Timeout is the invocation timeout.
	Timeout time.Duration
	// Output receives the process's stdout and stderr (its logs).
	Output io.Writer
}

// Result is the outcome of one invocation.
type Result struct {
	RequestID string
	// Payload is the response body of a successful invocation.
	Payload []byte
	// Error is set when the function returned an error, crashed or timed
	// out; Payload is then empty.
	Error *FunctionError
	// ColdStart is set when the invocation started a new process.
	ColdStart bool
}

// FunctionError is a failed invocation as Lambda reports it.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Function is one execution environment.
type Function struct {
	cfg      Config
	mu       sync.Mutex // one invocation at a time
	srv      *http.Server
	addr     string
	next     chan *invocation
	cur      *invocation
	curMu    sync.Mutex
	proc     *exec.Cmd
	exited   chan struct{}
	initErr  chan *FunctionError
	killHook func(requestID string) bool
	starts   int
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan Result
	once     sync.Once
	// killed marks an invocation KillWhen chose: whatever its process
	// answers before the kill lands is ignored, so it always fails.
	killed atomic.Bool
}

func (inv *invocation) finish(r Result) {
	if inv.killed.Load() {
		return
	}
	inv.once.Do(func() { inv.done <- r })
}

// Start serves the Runtime API for cfg on a loopback port. The process
// itself starts on the first invocation.
func Start(cfg Config) (*Function, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Output == nil {
		cfg.Output = io.Discard
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Function{cfg: cfg, addr: ln.Addr().String(), next: make(chan *invocation)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", f.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", f.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", f.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", f.handleInitError)
	f.srv = &http.Server{Handler: mux}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// KillWhen makes the emulator kill the process as soon as it has taken an
// invocation for which hook returns true, as a crash mid-batch would: the
// kill follows the handing over of the invocation, not a delay, so the
// invocation always fails with Runtime.ExitError.
func (f *Function) KillWhen(hook func(requestID string) bool) {
	f.curMu.Lock()
	f.killHook = hook
	f.curMu.Unlock()
}

// Kill ends the running process at once, as a crash would; the
// invocation in progress fails and the next one cold starts.
func (f *Function) Kill() {
	f.curMu.Lock()
	proc := f.proc
	f.curMu.Unlock()
	if proc != nil {
		_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
	}
}

// ColdStarts counts processes started.
func (f *Function) ColdStarts() int { f.curMu.Lock(); defer f.curMu.Unlock(); return f.starts }

// Invoke runs one invocation synchronously.
func (f *Function) Invoke(ctx context.Context, payload []byte) (Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cold := false
	if f.proc == nil {
		if err := f.startProcess(); err != nil {
			return Result{}, err
		}
		cold = true
	}
	inv := &invocation{id: newID(), payload: payload, deadline: time.Now().Add(f.cfg.Timeout), done: make(chan Result, 1)}
	select {
	case f.next <- inv:
	case ie := <-f.initErr:
		f.stopProcess()
		return Result{RequestID: inv.id, Error: ie, ColdStart: cold}, nil
	case <-f.exited:
		f.stopProcess()
		return Result{RequestID: inv.id, Error: &FunctionError{Type: "Runtime.ExitError", Message: "process exited before taking the invocation"}, ColdStart: cold}, nil
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	timer := time.NewTimer(time.Until(inv.deadline))
	defer timer.Stop()
	var r Result
	select {
	case r = <-inv.done:
	case <-f.exited:
		r = Result{RequestID: inv.id, Error: &FunctionError{Type: "Runtime.ExitError", Message: "process exited during the invocation"}}
		f.stopProcess()
	case <-timer.C:
		r = Result{RequestID: inv.id, Error: &FunctionError{Type: "Sandbox.Timedout", Message: fmt.Sprintf("Task timed out after %.2f seconds", f.cfg.Timeout.Seconds())}}
		f.stopProcess()
	case <-ctx.Done():
		f.stopProcess()
		return Result{}, ctx.Err()
	}
	f.curMu.Lock()
	f.cur = nil
	f.curMu.Unlock()
	r.ColdStart = cold
	return r, nil
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (f *Function) startProcess() error {
	cmd := exec.Command(f.cfg.Bootstrap)
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + f.addr,
		"AWS_LAMBDA_FUNCTION_NAME=" + f.cfg.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + f.cfg.Name,
		"_HANDLER=bootstrap",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.TempDir(),
	}
	for k, v := range f.cfg.Env {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f.cfg.Output, f.cfg.Output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", f.cfg.Bootstrap, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	f.curMu.Lock()
	f.proc, f.exited, f.initErr = cmd, exited, make(chan *FunctionError, 1)
	f.starts++
	f.curMu.Unlock()
	return nil
}

func (f *Function) stopProcess() {
	f.curMu.Lock()
	proc, exited := f.proc, f.exited
	f.proc, f.cur = nil, nil
	f.curMu.Unlock()
	if proc == nil {
		return
	}
	_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
	<-exited
}

// Close stops the process and the API server.
func (f *Function) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopProcess()
	return f.srv.Close()
}

func (f *Function) handleNext(w http.ResponseWriter, r *http.Request) {
	var inv *invocation
	select {
	case inv = <-f.next:
	case <-r.Context().Done():
		return
	}
	f.curMu.Lock()
	f.cur = inv
	hook, proc := f.killHook, f.proc
	f.curMu.Unlock()
	w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:000000000000:function:"+f.cfg.Name)
	w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
	w.Header().Set("Content-Type", "application/json")
	kill := hook != nil && proc != nil && hook(inv.id)
	inv.killed.Store(kill)
	_, _ = w.Write(inv.payload)
	if kill {
		// The whole invocation is on its way to the process before the
		// kill, so the crash is one mid-invocation (Invoke reports the
		// exit), never one before the invocation was taken.
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		_ = syscall.Kill(-proc.Process.Pid, syscall.SIGKILL)
	}
}

func (f *Function) current(id string) *invocation {
	f.curMu.Lock()
	defer f.curMu.Unlock()
	if f.cur != nil && f.cur.id == id {
		return f.cur
	}
	return nil
}

func (f *Function) handleResponse(w http.ResponseWriter, r *http.Request) {
	inv := f.current(r.PathValue("id"))
	if inv == nil {
		http.Error(w, `{"errorMessage":"unknown or finished request"}`, http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if len(body) > 6<<20 {
		inv.finish(Result{RequestID: inv.id, Error: &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: "response exceeds 6 MB"}})
	} else {
		inv.finish(Result{RequestID: inv.id, Payload: body})
	}
	w.WriteHeader(http.StatusAccepted)
}

func (f *Function) handleError(w http.ResponseWriter, r *http.Request) {
	inv := f.current(r.PathValue("id"))
	if inv == nil {
		http.Error(w, `{"errorMessage":"unknown or finished request"}`, http.StatusBadRequest)
		return
	}
	inv.finish(Result{RequestID: inv.id, Error: readError(r)})
	w.WriteHeader(http.StatusAccepted)
}

func (f *Function) handleInitError(w http.ResponseWriter, r *http.Request) {
	f.curMu.Lock()
	ch := f.initErr
	f.curMu.Unlock()
	if ch != nil {
		select {
		case ch <- readError(r):
		default:
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func readError(r *http.Request) *FunctionError {
	var fe FunctionError
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(body, &fe) != nil || fe.Message == "" {
		fe.Message = strings.TrimSpace(string(bytes.TrimSpace(body)))
	}
	if fe.Type == "" {
		fe.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type")
	}
	return &fe
}
