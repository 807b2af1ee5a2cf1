package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Tools locates what install-tools.sh put in .local/.
type Tools struct {
	Java, DynamoDBLocalDir, Versitygw string
}

// FindTools checks the tools under root (the repository).
func FindTools(root string) (Tools, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return Tools{}, err
	}
	t := Tools{DynamoDBLocalDir: filepath.Join(root, ".local", "dynamodb-local"), Versitygw: filepath.Join(root, ".local", "bin", "versitygw")}
	java, err := exec.LookPath("java")
	if err != nil {
		return t, errors.New("java not found: run integration/scripts/install-tools.sh (make tools)")
	}
	t.Java = java
	for _, p := range []string{filepath.Join(t.DynamoDBLocalDir, "DynamoDBLocal.jar"), t.Versitygw} {
		if _, err := os.Stat(p); err != nil {
			return t, fmt.Errorf("%s missing: run integration/scripts/install-tools.sh (make tools)", p)
		}
	}
	return t, nil
}

// Service is a background process of the local pipeline.
type Service struct {
	Name string
	Addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// freePort returns a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startLimit bounds how long a service may take to listen: a safety net
// for a service that hangs, not a wait.
const startLimit = 60 * time.Second

// dialEvery paces the attempts to connect to a starting service. Neither
// DynamoDB Local nor versitygw says when it listens, so Start tries to
// connect until it can: the connection, not the interval, decides.
const dialEvery = 100 * time.Millisecond

// startService runs cmd in its own process group, its output to log, and
// returns once addr accepts connections, or fails at once if the process
// exits first.
func startService(ctx context.Context, name, addr string, cmd *exec.Cmd, log io.Writer) (*Service, error) {
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &Service{Name: name, Addr: addr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	ctx, cancel := context.WithTimeout(ctx, startLimit)
	defer cancel()
	retry := time.NewTicker(dialEvery)
	defer retry.Stop()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("%s exited while starting (see its log)", name)
		case <-ctx.Done():
			s.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%s did not listen on %s within %s: %w", name, addr, startLimit, ctx.Err())
			}
			return nil, ctx.Err()
		case <-retry.C:
		}
	}
}

// stopGrace is how long a service may take to exit after SIGTERM before
// it is killed: shutdown behaviour, which no test waits on.
const stopGrace = 5 * time.Second

// Stop ends the service and its children and returns once it has exited.
func (s *Service) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	select {
	case <-s.done:
	case <-grace.C:
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// StartDynamoDBLocal runs DynamoDB Local in memory.
func StartDynamoDBLocal(ctx context.Context, t Tools, log io.Writer) (*Service, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(t.Java, "-Xmx512m", "-Djava.library.path="+filepath.Join(t.DynamoDBLocalDir, "DynamoDBLocal_lib"),
		"-jar", filepath.Join(t.DynamoDBLocalDir, "DynamoDBLocal.jar"), "-inMemory", "-port", strconv.Itoa(port))
	cmd.Dir = t.DynamoDBLocalDir
	return startService(ctx, "DynamoDB Local", "127.0.0.1:"+strconv.Itoa(port), cmd, log)
}

// S3Credentials are versitygw's root keys.
const (
	S3AccessKey = "localaccesskey"
	S3SecretKey = "localsecretkey0123456789"
)

// StartVersity runs versitygw on dir, posting event notifications to
// webhook.
func StartVersity(ctx context.Context, t Tools, dir, webhook string, log io.Writer) (*Service, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(t.Versitygw, "--port", addr, "--quiet", "--event-webhook-url", webhook, "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+S3AccessKey, "ROOT_SECRET_KEY="+S3SecretKey)
	return startService(ctx, "versitygw", addr, cmd, log)
}
