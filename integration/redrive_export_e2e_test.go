package integration

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/redrive"
)

// TestRedriveConvertsWhatTheConverterGaveUpOn: while S3 refuses every
// write of the converter, Lambda gives up on each data file after its
// retries and sends AWS's invocation record to the converter's on-failure
// queue; the backfill cannot finish. Once S3 answers again, the redrive
// invokes the converter with each job: every file is converted once and
// every message deleted. The same record redriven again finds its object
// written and writes nothing. A backfill run then attaches to the export,
// finds it converted, and the lake equals the table.
func TestRedriveConvertsWhatTheConverterGaveUpOn(t *testing.T) {
	const preloaded = 300
	p := startPipeline(t, Options{Preload: preload(preloaded), ConverterEnv: map[string]string{"S3_MAX_ATTEMPTS": "1"}})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()
	p.ConverterS3Faults.SlowDownNext(1 << 20) // every write, until reset

	// The backfill starts the export and follows its conversion, which
	// cannot end; it is stopped once every conversion has been given up.
	started := make(chan string, 1)
	bctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := p.Backfill(bctx, func(pr backfill.Progress) {
			select {
			case started <- pr.ExportARN:
			default:
			}
		})
		done <- err
	}()
	var arn string
	select {
	case arn = <-started:
	case err := <-done:
		t.Fatalf("backfill ended before its export started: %v", err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if status, err := p.Exports.Wait(ctx, arn); err != nil || status != "COMPLETED" {
		t.Fatalf("export %s: %s, %v", arn, status, err)
	}
	drain(t, ctx, p, 0) // every conversion ended: given up on
	stop()
	var unfinished *backfill.Error
	if err := <-done; !errors.As(err, &unfinished) || !unfinished.Unfinished {
		t.Fatalf("backfill: got %v, expect it stopped unfinished", err)
	}
	files := len(p.Lambda.Failed())
	bodies := p.SQS.Bodies(ConverterFailureQueue)
	if !check(t,
		expectation{field: "data files given up on (any)", got: min(files, 1), expect: 1},
		expectation{field: "messages in the converter's on-failure queue", got: len(bodies), expect: files},
		expectation{field: "snapshot objects stored", got: len(p.ConverterS3Faults.Stored()), expect: 0},
	) {
		t.FailNow()
	}

	p.ConverterS3Faults.SlowDownNext(0)
	invoked := p.Lambda.Invocations(ConverterFunction)
	rep, err := p.RedriveExports(ctx)
	t.Logf("redrive:\n%s", RedriveSummary(rep))
	if err != nil {
		t.Fatalf("redrive: %v", err)
	}
	q := rep.Queues[0]
	check(t,
		expectation{field: "received", got: q.Received, expect: files},
		expectation{field: "redriven", got: q.Redriven, expect: files},
		expectation{field: "deleted", got: q.Deleted, expect: files},
		expectation{field: "problems", got: q.Problems(), expect: 0},
		expectation{field: "messages left", got: len(p.SQS.Bodies(ConverterFailureQueue)), expect: 0},
		expectation{field: "converter invocations", got: p.Lambda.Invocations(ConverterFunction) - invoked, expect: files},
		expectation{field: "snapshot objects stored", got: len(p.ConverterS3Faults.Stored()), expect: files},
	)
	for _, m := range q.Messages {
		if m.Outcome != redrive.OutcomeRedriven || !strings.HasPrefix(m.Detail, "written: ") {
			t.Errorf("message %s: outcome %q, detail %q; expect its file written", m.MessageID, m.Outcome, m.Detail)
		}
	}

	// The same record again (a message whose delete was lost): the
	// object is there, nothing is written, and the message goes.
	if _, err := p.SQS.Send(ConverterFailureQueue, bodies[0]); err != nil {
		t.Fatal(err)
	}
	rep, err = p.RedriveExports(ctx)
	if err != nil {
		t.Fatalf("second redrive: %v", err)
	}
	q = rep.Queues[0]
	if !check(t,
		expectation{field: "second run: redriven", got: q.Redriven, expect: 1},
		expectation{field: "second run: already written", got: len(q.Messages[0].Existing), expect: 1},
		expectation{field: "second run: objects stored", got: len(p.ConverterS3Faults.Stored()), expect: files},
		expectation{field: "second run: messages left", got: len(p.SQS.Bodies(ConverterFailureQueue)), expect: 0},
	) {
		t.FailNow()
	}
	if m := q.Messages[0]; !strings.HasPrefix(m.Detail, "already written") {
		t.Errorf("second run: detail %q, expect already written", m.Detail)
	}

	drain(t, ctx, p, 0)
	r := runBackfill(t, ctx, p, nil)
	checkConverted(t, r, preloaded)
	if r.ExportARN != arn || !r.AlreadyDone {
		t.Errorf("backfill: export %s (already done %v), expect it to find %s converted", r.ExportARN, r.AlreadyDone, arn)
	}
	v, err := p.Verify(ctx, &Load{ByItem: map[string][]Change{}})
	if err != nil {
		t.Fatal(err)
	}
	check(t,
		expectation{field: "snapshot rows in S3", got: v.SnapshotRows, expect: preloaded},
		expectation{field: "snapshot rows found twice", got: v.SnapshotDuplicates, expect: 0},
	)
	checkEqual(t, reconciled(t, ctx, p), preloaded)
}
