package redrive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/deployed"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/redeliver"
	"github.com/ddbstream/pipeline/internal/secret"
	"github.com/ddbstream/pipeline/internal/streamer"
)

// Source names the function whose failures a queue holds.
type Source string

// The sources: the streamer's event source mapping, the forwarder's
// asynchronous invocations (its on-failure queue, and its trigger rule's
// dead-letter queue), and the export planner's and converter's (their
// on-failure queues, and the planner's trigger's dead-letter queue).
const (
	Streamer  Source = "streamer"
	Forwarder Source = "forwarder"
	Export    Source = "export"
)

// Config is what a redrive works on.
type Config struct {
	// Sources selects the queues (default all three).
	Sources []Source
	// StreamerQueueURL is the streamer's on-failure queue
	// (StreamerFailureQueueUrl).
	StreamerQueueURL string
	// ForwarderQueueURLs are the forwarder's on-failure queue and its
	// trigger's dead-letter queue (ForwarderFailureQueueUrl,
	// ForwarderTriggerDeadLetterQueueUrl); none in delivery mode none.
	ForwarderQueueURLs []string
	// StreamerFunction and ForwarderFunction name the deployed functions
	// (StreamerFunctionName, ForwarderFunctionName): their settings are
	// read from their environments, through the functions' own
	// ConfigFromEnv, so that a redriven batch is written, and an object
	// delivered, exactly as the function would.
	StreamerFunction, ForwarderFunction string
	// ConverterQueueURL is the export converter's on-failure queue
	// (ExportConverterFailureQueueUrl); PlannerQueueURLs are the export
	// planner's on-failure queue and its trigger's dead-letter queue
	// (ExportPlannerFailureQueueUrl, ExportTriggerDeadLetterQueueUrl).
	ConverterQueueURL string
	PlannerQueueURLs  []string
	// ConverterFunction and PlannerFunction name the deployed export
	// functions (ExportConverterFunctionName, ExportPlannerFunctionName),
	// which are invoked again, synchronously, with the events they gave up
	// on: a data file is converted in AWS, with the converter's role and
	// memory, not in this process.
	ConverterFunction, PlannerFunction string
	// Streamer and Forwarder, when set, are used instead of the deployed
	// functions' settings (the local pipeline, tests).
	Streamer  *streamer.Config
	Forwarder *forwarder.Config
	// DryRun reads and reports, and changes nothing: it writes no object,
	// delivers nothing, deletes no message, and makes every message it
	// received visible again.
	DryRun bool
	// MaxMessages bounds the messages handled per queue (default 1000).
	MaxMessages int
	// Visibility hides a received message from other readers while the
	// run handles it (default 15m); kept messages are made visible again
	// at the end.
	Visibility time.Duration
	// Wait is ReceiveMessage's long poll (default 1s): an empty answer
	// after it ends the queue.
	Wait time.Duration
	// MaxEmptyReads bounds consecutive empty GetRecords pages while a
	// range is read (default 20).
	MaxEmptyReads int
	// DatabricksOptions follow the forwarder's own client options (tests).
	DatabricksOptions []databricks.Option
	// Progress, if set, is called after each message.
	Progress func(Progress)
}

func (c *Config) defaults() {
	if len(c.Sources) == 0 {
		c.Sources = []Source{Streamer, Forwarder, Export}
	}
	if c.MaxMessages <= 0 {
		c.MaxMessages = 1000
	}
	if c.Visibility <= 0 {
		c.Visibility = 15 * time.Minute
	}
	if c.Wait < 0 {
		c.Wait = 0
	} else if c.Wait == 0 {
		c.Wait = time.Second
	}
	if c.MaxEmptyReads <= 0 {
		c.MaxEmptyReads = 20
	}
	if c.Progress == nil {
		c.Progress = func(Progress) {}
	}
}

// S3 is the part of the S3 API a redrive calls: the streamer's put and
// the forwarder's reads, both run in process.
type S3 interface {
	streamer.ObjectPutter
	forwarder.S3
}

// Clients are the AWS calls a redrive makes, with the SDK clients'
// signatures.
type Clients struct {
	Queue  Queue
	Stream Stream
	// S3 writes the streamer's objects and reads the forwarder's.
	S3 S3
	// Secrets reads the forwarder's Databricks secret.
	Secrets secret.Getter
	// Functions reads the deployed functions' settings.
	Functions deployed.FunctionConfigGetter
	// Lambda invokes the export functions.
	Lambda FunctionInvoker
}

// Progress is the state after one message.
type Progress struct {
	Source Source
	// Done of Total messages (Total is the queue's approximate depth at
	// the start).
	Done, Total int
	// Kept counts the messages kept so far for a problem.
	Kept int
}

// Outcomes of one message.
const (
	// OutcomeRedriven: the batch's records are durable (or the event's
	// objects delivered) and the message was deleted.
	OutcomeRedriven = "redriven"
	// OutcomeWouldRedrive: a dry run found nothing in the way.
	OutcomeWouldRedrive = "would redrive"
	// OutcomeUnreadable: the range is past the stream's retention or the
	// stream is gone; the message is kept.
	OutcomeUnreadable = "unreadable"
	// OutcomeFailed: the write or delivery failed; the message is kept.
	OutcomeFailed = "failed"
	// OutcomeNotUnderstood: the body is not a record this tool reads; the
	// message is kept.
	OutcomeNotUnderstood = "not understood"
	// OutcomeNotDeleted: the work is done but the message could not be
	// deleted; it is kept, and running again finds the work done.
	OutcomeNotDeleted = "not deleted"
)

// MessageReport is what became of one message.
type MessageReport struct {
	MessageID string
	SentAt    time.Time
	Outcome   string
	// Condition is why Lambda gave up (requestContext.condition), and
	// LastError the function's last error, when the record has one.
	Condition, LastError string
	// Range is the batch's place in the stream (streamer).
	Range   string
	Records int
	// Keys are the objects the batch was written to (or would be, in a
	// dry run; on a failure, those written before it), as the streamer's
	// Write reports them; Existing those of them S3 already held (412: an
	// earlier attempt had made them durable).
	Keys, Existing []string
	// Objects are the forwarder's objects and what became of each.
	Objects []redeliver.Outcome
	// Subject is what an export function's message is about: the data
	// file, or the export's summary; Detail what the function answered.
	Subject, Detail string
	Error           string
}

// QueueReport is one queue's run.
type QueueReport struct {
	Source   Source
	QueueURL string
	// Received counts the messages handled, Deleted those deleted.
	Received, Deleted int
	// Per outcome.
	Redriven, WouldRedrive, Unreadable, Failed, NotUnderstood, NotDeleted int
	// Released counts kept messages made visible again at the end;
	// ReleaseErrors those that could not be (they reappear after the
	// visibility timeout).
	Released, ReleaseErrors int
	Messages                []MessageReport
}

func (q *QueueReport) count(m MessageReport) {
	switch m.Outcome {
	case OutcomeRedriven:
		q.Redriven++
	case OutcomeWouldRedrive:
		q.WouldRedrive++
	case OutcomeUnreadable:
		q.Unreadable++
	case OutcomeFailed:
		q.Failed++
	case OutcomeNotUnderstood:
		q.NotUnderstood++
	case OutcomeNotDeleted:
		q.NotDeleted++
	}
}

// Problems counts the messages kept for a problem.
func (q QueueReport) Problems() int { return q.Unreadable + q.Failed + q.NotUnderstood + q.NotDeleted }

func (q QueueReport) wouldDelete() int { return q.WouldRedrive }

// Report is what a redrive did, queue by queue.
type Report struct {
	DryRun bool
	Queues []QueueReport
}

// Problems counts the messages kept for a problem in every queue.
func (r Report) Problems() int {
	n := 0
	for _, q := range r.Queues {
		n += q.Problems()
	}
	return n
}

// Unreadable counts the messages whose records the stream no longer has.
func (r Report) Unreadable() int {
	n := 0
	for _, q := range r.Queues {
		n += q.Unreadable
	}
	return n
}

// Error is a redrive that could not run, with what to do about it.
type Error struct {
	Msg, Remedy string
	Err         error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Run redrives the failures in the selected queues. It returns the
// report so far with any error that stopped it; messages kept for a
// problem are in the report, not the error.
func Run(ctx context.Context, cfg Config, c Clients) (Report, error) {
	cfg.defaults()
	r := &run{cfg: cfg, queue: c.Queue, stream: c.Stream, clients: c}
	rep := Report{DryRun: cfg.DryRun}
	for _, s := range cfg.Sources {
		var (
			urls   []string
			handle handler
		)
		switch s {
		case Streamer:
			if cfg.StreamerQueueURL == "" {
				return rep, &Error{Msg: "no streamer on-failure queue", Remedy: "give --stack (its StreamerFailureQueueUrl output) or --streamer-queue"}
			}
			if err := r.streamerHandlers(ctx); err != nil {
				return rep, err
			}
			urls, handle = []string{cfg.StreamerQueueURL}, r.streamerMessage
		case Forwarder:
			if len(cfg.ForwarderQueueURLs) == 0 {
				continue // delivery mode none: no forwarder, no queue
			}
			if err := r.forwarderSettings(ctx); err != nil {
				return rep, err
			}
			r.deliverer = redeliver.New(*r.cfg.Forwarder, redeliver.Clients{S3: c.S3, Secrets: c.Secrets}, cfg.DatabricksOptions...)
			urls, handle = cfg.ForwarderQueueURLs, r.forwarderMessage
		case Export:
			qs := cfg.exportQueues()
			if len(qs) == 0 {
				continue // a stack from before the export functions
			}
			if err := r.exportFunctions(); err != nil {
				return rep, err
			}
			for _, q := range qs {
				handle := r.plannerMessage
				if q.converter {
					handle = r.converterMessage
				}
				qr, err := r.drain(ctx, s, q.url, handle)
				rep.Queues = append(rep.Queues, qr)
				if err != nil {
					return rep, err
				}
			}
			continue
		default:
			return rep, &Error{Msg: fmt.Sprintf("unknown source %q", s), Remedy: "choose streamer, forwarder, export or all"}
		}
		for _, url := range urls {
			q, err := r.drain(ctx, s, url, handle)
			rep.Queues = append(rep.Queues, q)
			if err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// run is one redrive in progress.
type run struct {
	cfg     Config
	queue   Queue
	stream  Stream
	clients Clients

	writer, dry *streamer.Handler
	deliverer   *redeliver.Deliverer
}

func (r *run) progress(p Progress) { r.cfg.Progress(p) }

// streamerHandlers builds the streamer's handler twice: writing through
// S3, and, for a dry run, through a putter that writes nothing.
func (r *run) streamerHandlers(ctx context.Context) error {
	if r.cfg.Streamer == nil {
		if r.cfg.StreamerFunction == "" || r.clients.Functions == nil {
			return &Error{Msg: "the streamer's settings are unknown", Remedy: "give --stack, whose StreamerFunctionName output names the deployed streamer"}
		}
		f, err := deployed.Describe(ctx, r.clients.Functions, r.cfg.StreamerFunction)
		if err != nil {
			return &Error{Msg: "read the deployed streamer's settings", Err: err, Remedy: "check the function name (StreamerFunctionName) and the permission lambda:GetFunctionConfiguration"}
		}
		c, err := streamer.ConfigFromEnv(f.Lookup)
		if err != nil {
			return &Error{Msg: "the deployed streamer's settings do not validate", Err: err, Remedy: "fix the streamer's environment (make deploy), then run again"}
		}
		r.cfg.Streamer = &c
	}
	var err error
	if r.writer, err = streamer.New(r.clients.S3, *r.cfg.Streamer); err != nil {
		return &Error{Msg: "the deployed streamer's settings do not validate", Err: err, Remedy: "fix the streamer's environment (make deploy), then run again"}
	}
	if r.dry, err = streamer.New(discardPutter{}, *r.cfg.Streamer); err != nil {
		return &Error{Msg: "the deployed streamer's settings do not validate", Err: err}
	}
	return nil
}

// forwarderSettings reads the deployed forwarder's settings, unless
// given.
func (r *run) forwarderSettings(ctx context.Context) error {
	if r.cfg.Forwarder != nil {
		return nil
	}
	if r.cfg.ForwarderFunction == "" || r.clients.Functions == nil {
		return &Error{Msg: "the forwarder's settings are unknown", Remedy: "give --stack, whose ForwarderFunctionName output names the deployed forwarder"}
	}
	f, err := deployed.Describe(ctx, r.clients.Functions, r.cfg.ForwarderFunction)
	if err != nil {
		return &Error{Msg: "read the deployed forwarder's settings", Err: err, Remedy: "check the function name (ForwarderFunctionName) and the permission lambda:GetFunctionConfiguration"}
	}
	c, err := forwarder.ConfigFromEnv(f.Lookup)
	if err != nil {
		return &Error{Msg: "the deployed forwarder's settings do not validate", Err: err, Remedy: "fix the forwarder's environment (make deploy), then run again"}
	}
	r.cfg.Forwarder = &c
	return nil
}

// streamerMessage redrives one batch the mapping gave up on: it reads the
// range from the stream and runs it through the streamer itself. The
// message may go only once the streamer reports every record durable.
func (r *run) streamerMessage(ctx context.Context, m sqstypes.Message) (MessageReport, bool) {
	var rep MessageReport
	f, err := ParseStreamBatchFailure(aws.ToString(m.Body))
	if err != nil {
		rep.Outcome, rep.Error = OutcomeNotUnderstood, err.Error()
		return rep, false
	}
	rep.Condition, rep.Range = f.RequestContext.Condition, f.Batch.String()
	recs, err := readRange(ctx, r.stream, f.Batch, r.cfg.MaxEmptyReads)
	var gone *UnreadableError
	if errors.As(err, &gone) {
		rep.Outcome, rep.Error = OutcomeUnreadable, err.Error()
		return rep, false
	}
	if err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		return rep, false
	}
	rep.Records = len(recs)
	payload, err := Event(recs, f.Batch.StreamARN)
	if err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, fmt.Sprintf("build the event: %v", err)
		return rep, false
	}
	h := r.writer
	if r.cfg.DryRun {
		h = r.dry
	}
	res, err := h.Write(ctx, payload)
	rep.Keys, rep.Existing = res.Written, res.Existing
	switch {
	case err != nil:
		rep.Outcome, rep.Error = OutcomeFailed, fmt.Sprintf("streamer: %v", err)
		return rep, false
	case res.ResumeAt != "":
		rep.Outcome, rep.Error = OutcomeFailed, fmt.Sprintf("streamer: records from sequence number %s on are not durable", res.ResumeAt)
		return rep, false
	case r.cfg.DryRun:
		rep.Outcome = OutcomeWouldRedrive
	default:
		rep.Outcome = OutcomeRedriven
	}
	return rep, true
}

// forwarderMessage delivers again the objects of one event the forwarder
// gave up on, with the forwarder's own code: the original event keeps
// its idempotency (the same job run token, the same volume path).
func (r *run) forwarderMessage(ctx context.Context, m sqstypes.Message) (MessageReport, bool) {
	var rep MessageReport
	payload, ev, ok := objectEvent(m, &rep, "the forwarder")
	if !ok {
		return rep, false
	}
	if r.cfg.DryRun {
		for _, o := range ev.Objects {
			rep.Objects = append(rep.Objects, redeliver.Outcome{Bucket: o.Bucket, Key: o.Key, Result: "would deliver"})
		}
		rep.Outcome = OutcomeWouldRedrive
		return rep, true
	}
	var err error
	if rep.Objects, err = r.deliverer.Deliver(ctx, payload); err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		return rep, false
	}
	rep.Outcome = OutcomeRedriven
	return rep, true
}

// discardPutter stands in for S3 in a dry run: it accepts every object
// and keeps none, so the streamer names the keys it would write.
type discardPutter struct{}

func (discardPutter) PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return &s3.PutObjectOutput{}, nil
}
