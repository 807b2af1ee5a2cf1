package integration

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	dstypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ddbstream/pipeline/integration/poller"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/redrive"
)

// The redrive's end-to-end tests: the local mapping gives up on a batch
// and sends AWS's on-failure record to the streamer's on-failure queue;
// ddbstream redrive's logic (internal/redrive, Pipeline.Redrive) reads the
// queue through the SQS endpoint with the SDK, reads the range again from
// DynamoDB Local's stream and writes it with the streamer's handler.

// redriveLimit bounds one test's load, drains and redrives: a safety net,
// not a wait.
const redriveLimit = 2 * time.Minute

// givenUp is a pipeline whose mapping gave up on one batch.
type givenUp struct {
	p    *Pipeline
	load *Load
	// batch is what the poller gave up on, body the on-failure record the
	// queue received for it.
	batch poller.FailedBatch
	body  string
	// key is the object the streamer tried to write the batch to.
	key string
}

// giveUpOnABatch starts a pipeline whose mapping retries a batch once
// (MaxRetryAttempts 1) and whose streamer makes one S3 attempt per write,
// and answers the first two writes with SlowDown: the first batch fails
// twice and goes to the on-failure destination, every later one is
// written. It writes changes, drains, and checks that exactly that batch
// is missing from S3 and that its record is in the queue.
func giveUpOnABatch(t *testing.T, ctx context.Context, changes int) givenUp {
	t.Helper()
	p := startPipeline(t, Options{BatchSize: 100, MaxRetryAttempts: 1, StreamerEnv: map[string]string{"S3_MAX_ATTEMPTS": "1"}})
	p.S3Faults.SlowDownNext(2)
	load, err := Generate(ctx, p.DynamoDB, p.Opts.Table, changes, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	drain(t, ctx, p, load.Total)
	failures := p.StreamerFailures()
	bodies := p.SQS.Bodies(StreamerFailureQueue)
	slowed := p.S3Faults.SlowedDownKeys()
	if !check(t,
		expectation{field: "batches given up on", got: len(failures), expect: 1},
		expectation{field: "messages in the on-failure queue", got: len(bodies), expect: 1},
		expectation{field: "writes answered SlowDown", got: len(slowed), expect: 2},
	) {
		t.FailNow()
	}
	g := givenUp{p: p, load: load, batch: failures[0], body: bodies[0], key: slowed[0]}
	if slowed[1] != g.key {
		t.Errorf("the retry's key: got %s, expect the first attempt's %s", slowed[1], g.key)
	}
	t.Logf("gave up on %s, sequence numbers %s to %s (%d records): %s", g.batch.ShardID, g.batch.StartSequenceNumber,
		g.batch.EndSequenceNumber, g.batch.BatchSize, g.batch.Reason)

	// The queue holds AWS's record of exactly that batch.
	f, err := redrive.ParseStreamBatchFailure(g.body)
	if err != nil {
		t.Fatalf("the on-failure message is not AWS's record: %v\n%s", err, g.body)
	}
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"shardId", f.Batch.ShardID, g.batch.ShardID},
		{"startSequenceNumber", f.Batch.StartSequenceNumber, g.batch.StartSequenceNumber},
		{"endSequenceNumber", f.Batch.EndSequenceNumber, g.batch.EndSequenceNumber},
		{"batchSize", f.Batch.BatchSize, g.batch.BatchSize},
		{"streamArn", f.Batch.StreamARN, p.StreamARN},
		{"condition", f.RequestContext.Condition, "RetryAttemptsExhausted"},
		{"approximateInvokeCount", f.RequestContext.ApproximateInvokeCount, 2},
		{"functionArn", f.RequestContext.FunctionARN, StreamerFunctionARN},
		{"approximateArrivalOfFirstRecord set", f.Batch.ApproximateArrivalOfFirstRecord != "0001-01-01T00:00:00Z", true},
	} {
		if c.got != c.expect {
			t.Errorf("on-failure record %s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}

	// Its records, and only they, are missing from S3.
	r, err := p.Verify(ctx, load)
	if err != nil {
		t.Fatal(err)
	}
	inRange, err := recordsInRange(ctx, p, g.batch)
	if err != nil {
		t.Fatal(err)
	}
	if !check(t,
		expectation{field: "records of the batch in S3", got: inRange, expect: 0},
		expectation{field: "records in S3", got: r.RecordsInS3, expect: load.Total - g.batch.BatchSize},
		expectation{field: "duplicates", got: r.Duplicates, expect: 0},
		expectation{field: "unexpected", got: r.Unexpected, expect: 0},
		expectation{field: "error objects", got: r.ErrorObjects, expect: 0},
	) {
		t.Fatalf("before the redrive:\n%s", r)
	}
	return g
}

// recordsInRange counts the stream records in S3 whose sequence numbers
// are in the batch's range (on its shard's numbering; the other shards'
// numbers never fall in it locally, where the table has one lineage).
func recordsInRange(ctx context.Context, p *Pipeline, b poller.FailedBatch) (int, error) {
	objects, err := p.ReadObjects(ctx, objectkey.DataPrefix(p.Opts.Prefix))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, o := range objects {
		for _, l := range o.Lines {
			if !l.Snapshot() && !seqLess(l.Seq, b.StartSequenceNumber) && !seqLess(b.EndSequenceNumber, l.Seq) {
				n++
			}
		}
	}
	return n, nil
}

// redriveOnce runs the redrive, fails the test on an error, and returns
// the streamer queue's report.
func redriveOnce(t *testing.T, ctx context.Context, p *Pipeline, stream redrive.Stream) redrive.QueueReport {
	t.Helper()
	rep, err := p.Redrive(ctx, stream)
	t.Logf("redrive:\n%s", RedriveSummary(rep))
	if err != nil {
		t.Fatalf("redrive: %v", err)
	}
	if len(rep.Queues) != 1 {
		t.Fatalf("queues redriven: got %d, expect the streamer's", len(rep.Queues))
	}
	return rep.Queues[0]
}

// TestRedriveWritesAGivenUpBatchExactlyOnce: the mapping gives up on a
// batch; once S3 answers again, the redrive writes exactly that range, to
// the key the streamer would have used, and deletes the message: every
// change is then in S3 and at Databricks exactly once, in order. Running
// it again changes nothing: with the queue empty it has nothing to do,
// and with the same record in the queue again (a message whose delete
// was lost) it finds the object already written and writes none.
func TestRedriveWritesAGivenUpBatchExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), redriveLimit)
	defer cancel()
	g := giveUpOnABatch(t, ctx, 600)
	p := g.p
	stored := len(p.S3Faults.Stored())

	q := redriveOnce(t, ctx, p, nil)
	if !check(t,
		expectation{field: "received", got: q.Received, expect: 1},
		expectation{field: "redriven", got: q.Redriven, expect: 1},
		expectation{field: "deleted", got: q.Deleted, expect: 1},
		expectation{field: "problems", got: q.Problems(), expect: 0},
		expectation{field: "messages left in the queue", got: len(p.SQS.Bodies(StreamerFailureQueue)), expect: 0},
		expectation{field: "objects stored by the redrive", got: len(p.S3Faults.Stored()) - stored, expect: 1},
	) {
		t.FailNow()
	}
	m := q.Messages[0]
	check(t, expectation{field: "records redriven", got: m.Records, expect: g.batch.BatchSize})
	if expect := []string{g.key}; !reflect.DeepEqual(m.Keys, expect) {
		t.Errorf("keys written: got %v, expect the streamer's %v", m.Keys, expect)
	}
	if len(m.Existing) != 0 {
		t.Errorf("keys already in S3: got %v, expect none", m.Existing)
	}
	drain(t, ctx, p, g.load.Total) // the redriven object's event and delivery
	r, err := p.Verify(ctx, g.load)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the redrive:\n%s", r)
	requireExactlyOnce(t, r)

	// Again, with the queue empty: nothing to do.
	stored = len(p.S3Faults.Stored())
	q = redriveOnce(t, ctx, p, nil)
	check(t,
		expectation{field: "second run: received", got: q.Received, expect: 0},
		expectation{field: "second run: deleted", got: q.Deleted, expect: 0},
		expectation{field: "second run: objects stored", got: len(p.S3Faults.Stored()) - stored, expect: 0},
	)

	// Again, with the same record back in the queue: the object is
	// already there (412), nothing is written, and the message goes.
	if _, err := p.SQS.Send(StreamerFailureQueue, g.body); err != nil {
		t.Fatal(err)
	}
	q = redriveOnce(t, ctx, p, nil)
	if !check(t,
		expectation{field: "third run: received", got: q.Received, expect: 1},
		expectation{field: "third run: redriven", got: q.Redriven, expect: 1},
		expectation{field: "third run: deleted", got: q.Deleted, expect: 1},
		expectation{field: "third run: objects stored", got: len(p.S3Faults.Stored()) - stored, expect: 0},
		expectation{field: "third run: messages left in the queue", got: len(p.SQS.Bodies(StreamerFailureQueue)), expect: 0},
	) {
		t.FailNow()
	}
	if m := q.Messages[0]; !reflect.DeepEqual(m.Existing, []string{g.key}) {
		t.Errorf("third run: keys already in S3: got %v, expect %v", m.Existing, []string{g.key})
	}
	r, err = p.Verify(ctx, g.load)
	if err != nil {
		t.Fatal(err)
	}
	requireExactlyOnce(t, r)
}

// trimmedStream answers for one shard as DynamoDB Streams does once its
// trim horizon has passed a range: GetShardIterator at a sequence number
// up to trimmedTo fails with TrimmedDataAccessException. DynamoDB Local
// keeps records longer than the 24 hours, so the test moves the horizon;
// everything else is DynamoDB Local's answer.
type trimmedStream struct {
	redrive.Stream
	shard, trimmedTo string
	refused          atomic.Int32
}

func (s *trimmedStream) GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	if aws.ToString(in.ShardId) == s.shard && !seqLess(s.trimmedTo, aws.ToString(in.SequenceNumber)) {
		s.refused.Add(1)
		return nil, &dstypes.TrimmedDataAccessException{Message: aws.String("The operation attempted to read past the oldest stream record in a shard.")}
	}
	return s.Stream.GetShardIterator(ctx, in, opts...)
}

// TestRedriveKeepsARangePastRetention: a batch the mapping gave up on
// whose range the stream no longer holds is reported as unreadable, past
// the retention, and its message is kept and visible again for the next
// run and the queue's alarm; nothing is written. So is a record whose
// shard is gone, which DynamoDB Local itself answers with
// ResourceNotFoundException. Running it again reports the same and still
// keeps both.
func TestRedriveKeepsARangePastRetention(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), redriveLimit)
	defer cancel()
	g := giveUpOnABatch(t, ctx, 300)
	p := g.p
	const goneShard = "shardId-00000001700000000000-0dd0c0de"
	gone := strings.Replace(g.body, g.batch.ShardID, goneShard, 1)
	if _, err := p.SQSClient.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(p.StreamerFailureQueueURL), MessageBody: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	stored := len(p.S3Faults.Stored())
	stream := &trimmedStream{Stream: p.As(RedrivePrincipal).Streams, shard: g.batch.ShardID, trimmedTo: g.batch.EndSequenceNumber}
	for run := 1; run <= 2; run++ {
		q := redriveOnce(t, ctx, p, stream)
		if !check(t,
			expectation{field: "received", got: q.Received, expect: 2},
			expectation{field: "unreadable", got: q.Unreadable, expect: 2},
			expectation{field: "redriven", got: q.Redriven, expect: 0},
			expectation{field: "deleted", got: q.Deleted, expect: 0},
			expectation{field: "released (visible again)", got: q.Released, expect: 2},
			expectation{field: "stream reads refused as trimmed", got: int(stream.refused.Load()), expect: run},
			expectation{field: "objects stored", got: len(p.S3Faults.Stored()) - stored, expect: 0},
		) {
			t.Fatalf("run %d", run)
		}
		for _, m := range q.Messages {
			shard, reason := g.batch.ShardID, "past the stream's 24-hour retention (TrimmedDataAccessException)"
			if strings.Contains(m.Range, goneShard) {
				shard, reason = goneShard, "the stream or shard no longer exists (ResourceNotFoundException)"
			}
			if expect := redrive.OutcomeUnreadable; m.Outcome != expect {
				t.Errorf("run %d, %s: outcome: got %q, expect %q", run, shard, m.Outcome, expect)
			}
			if !strings.Contains(m.Error, reason) {
				t.Errorf("run %d, %s: reason: got %q, expect it to say %q", run, shard, m.Error, reason)
			}
			if expect := "shard " + shard + ", sequence numbers " + g.batch.StartSequenceNumber; !strings.HasPrefix(m.Range, expect) {
				t.Errorf("run %d: range: got %q, expect it to start %q", run, m.Range, expect)
			}
		}
		if got := p.SQS.Bodies(StreamerFailureQueue); !reflect.DeepEqual(got, []string{g.body, gone}) {
			t.Errorf("run %d: queue: got %q, expect both records kept as sent", run, got)
		}
		attrs, err := p.SQSClient.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.StreamerFailureQueueURL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ attr, expect string }{{"ApproximateNumberOfMessages", "2"}, {"ApproximateNumberOfMessagesNotVisible", "0"}} {
			if got := attrs.Attributes[c.attr]; got != c.expect {
				t.Errorf("run %d: %s: got %s, expect %s", run, c.attr, got, c.expect)
			}
		}
	}
	r, err := p.Verify(ctx, g.load)
	if err != nil {
		t.Fatal(err)
	}
	check(t,
		expectation{field: "records in S3 (the batch still missing)", got: r.RecordsInS3, expect: g.load.Total - g.batch.BatchSize},
		expectation{field: "duplicates", got: r.Duplicates, expect: 0},
	)
}
