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
	arn, stop := startBackfill(t, ctx, p)
	drain(t, ctx, p, 0) // every conversion ended: given up on
	stop()
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
	// It attaches to the export, converted, and ends it with its (empty)
	// delete lines.
	if r.ExportARN != arn || !r.Attached || r.DeletesKey == "" || r.Deleted != 0 {
		t.Errorf("backfill: export %s (attached %v, delete object %q, %d deleted), expect it to find %s converted and delete nothing",
			r.ExportARN, r.Attached, r.DeletesKey, r.Deleted, arn)
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

// TestRedrivePlansWhatThePlannerGaveUpOn: while the planner may not
// invoke the converter (Lambda answers AccessDeniedException, as to a
// role without lambda:InvokeFunction), the planner fails on the
// export's summary event, the rule's retries fail too, and AWS's
// invocation record goes to the planner's on-failure queue: nothing is
// converted. Once the permission is back, the redrive invokes the
// planner with the original event; it starts a conversion per data file,
// the backfill then finds the export converted, and the lake equals the
// table.
func TestRedrivePlansWhatThePlannerGaveUpOn(t *testing.T) {
	const preloaded = 200
	p := startPipeline(t, Options{Preload: preload(preloaded)})
	ctx, cancel := context.WithTimeout(context.Background(), backfillLimit)
	defer cancel()
	p.Lambda.Deny(true)

	arn, stop := startBackfill(t, ctx, p)
	drain(t, ctx, p, 0) // the planner's event handled: given up on
	stop()
	bodies := p.SQS.Bodies(PlannerFailureQueue)
	if !check(t,
		expectation{field: "planner invocations (1 + 2 retries)", got: p.PlannerRoute.Invocations(), expect: 3},
		expectation{field: "messages in the planner's on-failure queue", got: len(bodies), expect: 1},
		expectation{field: "converter invocations", got: p.Lambda.Invocations(ConverterFunction), expect: 0},
		expectation{field: "snapshot objects stored", got: len(p.ConverterS3Faults.Stored()), expect: 0},
	) {
		t.FailNow()
	}
	_, rec, err := redrive.AsyncEvent(bodies[0])
	if err != nil || rec == nil {
		t.Fatalf("the on-failure message is not an invocation record: %v\n%s", err, bodies[0])
	}
	if !strings.Contains(rec.ErrorMessage(), "AccessDeniedException") || rec.RequestContext.ApproximateInvokeCount != 3 ||
		!strings.HasSuffix(rec.RequestContext.FunctionARN, ":function:"+PlannerFunction+":$LATEST") {
		t.Errorf("on-failure record: error %q, %d attempts, function %s", rec.ErrorMessage(), rec.RequestContext.ApproximateInvokeCount, rec.RequestContext.FunctionARN)
	}

	p.Lambda.Deny(false)
	rep, err := p.RedriveExports(ctx)
	t.Logf("redrive:\n%s", RedriveSummary(rep))
	if err != nil {
		t.Fatalf("redrive: %v", err)
	}
	planner := rep.Queues[1]
	if !check(t,
		expectation{field: "planner queue redriven", got: planner.Redriven, expect: 1},
		expectation{field: "planner queue deleted", got: planner.Deleted, expect: 1},
		expectation{field: "problems", got: rep.Problems(), expect: 0},
		expectation{field: "messages left", got: len(p.SQS.Bodies(PlannerFailureQueue)), expect: 0},
	) {
		t.FailNow()
	}
	if d := planner.Messages[0].Detail; !strings.Contains(d, "converters started for 4 data files") {
		t.Errorf("planner redrive detail %q: expect its converters started", d)
	}
	drain(t, ctx, p, 0) // the conversions the redriven planner started
	r := runBackfill(t, ctx, p, nil)
	checkConverted(t, r, preloaded)
	// It attaches to the export, converted, and ends it with its (empty)
	// delete lines.
	if r.ExportARN != arn || !r.Attached || r.DeletesKey == "" || r.Deleted != 0 {
		t.Errorf("backfill: export %s (attached %v, delete object %q, %d deleted), expect it to find %s converted and delete nothing",
			r.ExportARN, r.Attached, r.DeletesKey, r.Deleted, arn)
	}
	checkEqual(t, reconciled(t, ctx, p), preloaded)
}

// startBackfill runs the backfill in the background until its export is
// complete, and returns the export's ARN and a stop that ends the
// backfill, which must then report its conversion unfinished.
func startBackfill(t *testing.T, ctx context.Context, p *Pipeline) (string, func()) {
	t.Helper()
	started := make(chan string, 1)
	bctx, cancel := context.WithCancel(ctx)
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
		cancel()
		t.Fatalf("backfill ended before its export started: %v", err)
	case <-ctx.Done():
		cancel()
		t.Fatal(ctx.Err())
	}
	if status, err := p.Exports.Wait(ctx, arn); err != nil || status != "COMPLETED" {
		cancel()
		t.Fatalf("export %s: %s, %v", arn, status, err)
	}
	return arn, func() {
		t.Helper()
		cancel()
		var unfinished *backfill.Error
		if err := <-done; !errors.As(err, &unfinished) || !unfinished.Unfinished {
			t.Fatalf("backfill: got %v, expect it stopped unfinished", err)
		}
	}
}
