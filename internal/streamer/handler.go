package streamer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// ObjectPutter is the one S3 call the streamer makes.
type ObjectPutter interface {
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Handler handles DynamoDB Streams events. It implements lambda.Handler so
// that the payload reaches the converter as raw bytes.
type Handler struct {
	s3      ObjectPutter
	cfg     Config
	log     *slog.Logger
	metrics *emf.Emitter
	now     func() time.Time
	batches sync.Pool
}

// Option configures a Handler.
type Option func(*Handler)

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithMetrics sets the EMF emitter; the default writes nowhere.
func WithMetrics(m *emf.Emitter) Option { return func(h *Handler) { h.metrics = m } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// New returns a Handler writing through client.
func New(client ObjectPutter, cfg Config, opts ...Option) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("streamer config: %w", err)
	}
	h := &Handler{
		s3:      client,
		cfg:     cfg,
		log:     slog.New(slog.DiscardHandler),
		metrics: emf.New(io.Discard, cfg.MetricsNamespace),
		now:     time.Now,
	}
	for _, o := range opts {
		o(h)
	}
	h.batches.New = func() any { return newBatch(cfg) }
	return h, nil
}

// Invoke implements lambda.Handler.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	resp, err := h.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// maxErrorLines bounds per-record error lines in the log; the metric and
// the _errors object still count and keep every record.
const maxErrorLines = 20

// Handle processes one event. An error means the whole batch must be
// retried; otherwise the response lists at most one failed record, the
// lowest sequence number not durably written.
func (h *Handler) Handle(ctx context.Context, payload []byte) (events.DynamoDBEventResponse, error) {
	start := h.now()
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	b := h.batches.Get().(*batch)
	defer h.batches.Put(b)
	b.reset()

	n, err := b.conv.ConvertEvent(payload, b.add)
	if err == nil {
		err = b.flush()
	}
	var syntax *record.SyntaxError
	if errors.As(err, &syntax) {
		return resp, h.keepMalformed(ctx, payload, syntax, start)
	}
	if err != nil {
		return resp, fmt.Errorf("convert batch: %w", err)
	}
	if n == 0 {
		return resp, nil
	}
	for i, e := range b.errs {
		if i == maxErrorLines {
			h.log.ErrorContext(ctx, "more records not converted", "count", len(b.errs)-i)
			break
		}
		h.log.ErrorContext(ctx, "record not converted", "index", e.index, "sequenceNumber", e.seq, "reason", e.reason)
	}

	ctx, cancel := h.writeContext(ctx)
	defer cancel()
	var failed []byte // lowest sequence number not durably written
	failedUnnamed := false
	dataKey, errKey := "", ""
	// The errors object goes first and a failed put stops the batch: a
	// retry then starts at or before every record not yet written and
	// never covers data that is already durable under another key.
	var putErr error
	objects := 0
	if len(b.errs) > 0 {
		k := b.errorsKey(h.cfg.Prefix)
		errKey = k.name
		if err := h.put(ctx, k, b.errOut.Bytes(), "application/x-ndjson", len(b.errs), b.errSeq); err != nil {
			putErr = err
			failed, failedUnnamed = b.first, b.firstUnnamed // nothing of the batch is written
		} else {
			objects++
		}
	}
	if b.lines > 0 && putErr == nil {
		k := b.dataKey(h.cfg.Prefix)
		dataKey = k.name
		if err := h.put(ctx, k, b.out.Bytes(), h.cfg.ContentType, b.lines, b.dataSeq); err != nil {
			putErr = err
			failed = b.dataFirst
		} else {
			objects++
		}
	}
	latency := h.now().Sub(start)
	maxAge := time.Duration(0)
	if !b.oldest.IsZero() {
		maxAge = start.Sub(b.oldest)
	}
	failedCount := 0
	if putErr != nil {
		failedCount = b.countFrom(failed, failedUnnamed)
	}
	h.emit(start, n, b, len(payload), objects, failedCount, latency, maxAge)
	attrs := []any{"records", n, "converted", b.lines, "conversionErrors", len(b.errs),
		"bytesIn", len(payload), "bytesOut", b.out.Len() + b.errOut.Len(),
		"key", dataKey, "latencyMs", latency.Milliseconds(), "maxRecordAgeMs", maxAge.Milliseconds()}
	if errKey != "" {
		attrs = append(attrs, "errorsKey", errKey)
	}
	if putErr == nil {
		h.log.InfoContext(ctx, "batch written", attrs...)
		return resp, nil
	}
	attrs = append(attrs, "error", putErr.Error(), "failedRecords", failedCount)
	if failedUnnamed || !h.cfg.ReportBatchItemFailures {
		h.log.ErrorContext(ctx, "batch not written; retrying the whole batch", attrs...)
		return resp, fmt.Errorf("write batch of %d records: %w", n, putErr)
	}
	attrs = append(attrs, "retryFrom", string(failed))
	h.log.ErrorContext(ctx, "batch not written; reporting the first unwritten record", attrs...)
	resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: string(failed)})
	return resp, nil
}

// writeContext ends writes DeadlineMargin before the Lambda deadline, so
// the function still answers, naming what it did not write, in time.
func (h *Handler) writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok {
		return context.WithDeadline(ctx, d.Add(-h.cfg.DeadlineMargin))
	}
	return context.WithCancel(ctx)
}

func (h *Handler) emit(t time.Time, n int, b *batch, in, objects, failed int, latency, age time.Duration) {
	err := h.metrics.Emit(t,
		emf.Metric{Name: "Records", Unit: emf.Count, Value: float64(n)},
		emf.Metric{Name: "Objects", Unit: emf.Count, Value: float64(objects)},
		emf.Metric{Name: "BytesIn", Unit: emf.Bytes, Value: float64(in)},
		emf.Metric{Name: "BytesOut", Unit: emf.Bytes, Value: float64(b.out.Len() + b.errOut.Len())},
		emf.Metric{Name: "ConversionErrors", Unit: emf.Count, Value: float64(len(b.errs))},
		emf.Metric{Name: "FailedRecords", Unit: emf.Count, Value: float64(failed)},
		emf.Metric{Name: "BatchLatency", Unit: emf.Milliseconds, Value: float64(latency.Microseconds()) / 1000},
		emf.Metric{Name: "RecordAge", Unit: emf.Milliseconds, Value: float64(age.Milliseconds())},
	)
	if err != nil {
		h.log.Warn("metrics not written", "error", err)
	}
}

// put writes one object. A 412 on a conditional write means an object
// already holds the key; it counts as success only when the key proves
// that object's content is this one (an earlier attempt of this batch made
// it durable). Otherwise it is an error, so nothing is acknowledged that
// was not stored.
func (h *Handler) put(ctx context.Context, k objectKey, body []byte, contentType string, records int, seqs [2][]byte) error {
	key := k.name
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put s3://%s/%s: no time left before the deadline: %w", h.cfg.Bucket, key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:            aws.String(h.cfg.Bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ContentType:       aws.String(contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		Metadata: map[string]string{
			"records":               strconv.Itoa(records),
			"first-sequence-number": string(seqs[0]),
			"last-sequence-number":  string(seqs[1]),
			"image-format":          h.cfg.ImageFormat.String(),
		},
	}
	if h.cfg.ContentEncoding != "" {
		in.ContentEncoding = aws.String(h.cfg.ContentEncoding)
	}
	if h.cfg.ConditionalWrites {
		in.IfNoneMatch = aws.String("*")
	}
	if h.cfg.KMSKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(h.cfg.KMSKeyID)
		in.BucketKeyEnabled = aws.Bool(true)
	}
	_, err := h.s3.PutObject(ctx, in)
	var apiErr smithy.APIError
	if h.cfg.ConditionalWrites && errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed" {
		if !k.provesContent {
			return fmt.Errorf("put s3://%s/%s: the key is taken and does not prove it holds these records: %w", h.cfg.Bucket, key, err)
		}
		h.log.InfoContext(ctx, "object already written by an earlier attempt", "key", key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", h.cfg.Bucket, key, err)
	}
	return nil
}

// keepMalformed stores a payload that is not a valid event, whole, so that
// nothing is lost and the shard moves on.
func (h *Handler) keepMalformed(ctx context.Context, payload []byte, cause error, start time.Time) error {
	// Named by the payload's SHA-256: the key proves the content.
	key := objectKey{name: objectkey.Malformed(h.cfg.Prefix, payload), provesContent: true}
	var gz bytes.Buffer
	w, err := gzip.NewWriterLevel(&gz, h.cfg.GzipLevel)
	if err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	wctx, cancel := h.writeContext(ctx)
	defer cancel()
	reason := cause.Error()
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	err = h.put(wctx, key, gz.Bytes(), "application/json", 0, [2][]byte{})
	if merr := h.metrics.Emit(start, emf.Metric{Name: "MalformedEvents", Unit: emf.Count, Value: 1}); merr != nil {
		h.log.Warn("metrics not written", "error", merr)
	}
	if err != nil {
		h.log.ErrorContext(ctx, "malformed event not stored; failing the invocation", "reason", reason, "key", key.name, "error", err)
		return fmt.Errorf("store malformed event (%s): %w", reason, err)
	}
	h.log.ErrorContext(ctx, "malformed event stored whole", "reason", reason, "key", key.name, "bytes", len(payload))
	return nil
}

// seqLess compares decimal sequence numbers numerically.
func seqLess(a, b []byte) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return bytes.Compare(a, b) < 0
}
