package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startPipeline starts a local pipeline for one test. Without the tools
// the test is skipped, unless INTEGRATION_REQUIRED is set (make test and
// CI set it, after installing the tools), where it fails.
func startPipeline(t *testing.T, opts Options) *Pipeline {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FindTools(root); err != nil {
		if os.Getenv("INTEGRATION_REQUIRED") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	opts.Root, opts.WorkDir = root, t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("streamer log tail:\n%s", tail(p.StreamerLogs.String(), 3000))
			t.Logf("forwarder log tail:\n%s", tail(p.ForwarderLogs.String(), 3000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// run writes changes, drains the pipeline and verifies it.
func run(t *testing.T, p *Pipeline, changes int, during func(*Load)) Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	load, err := Generate(ctx, p.DynamoDB, p.Opts.Table, changes, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	if during != nil {
		during(load)
	}
	if err := p.Drain(ctx, load.Total, func(s Status) { t.Logf("progress: %+v", s) }); err != nil {
		t.Fatal(err)
	}
	r, err := p.Verify(ctx, load)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", r)
	return r
}

func requireExactlyOnce(t *testing.T, r Report) {
	t.Helper()
	if !r.ExactlyOnce {
		t.Fatalf("not exactly once:\n%s", r)
	}
}

func TestEveryChangeArrivesExactlyOnce(t *testing.T) {
	p := startPipeline(t, Options{BatchSize: 200})
	r := run(t, p, 2000, nil)
	requireExactlyOnce(t, r)
	if r.Objects < 2 || r.ErrorObjects != 0 {
		t.Errorf("%d objects, %d error objects", r.Objects, r.ErrorObjects)
	}
	if strings.Contains(p.ForwarderLogs.String(), "local-token") {
		t.Error("the Databricks token appears in the forwarder's logs")
	}
}
