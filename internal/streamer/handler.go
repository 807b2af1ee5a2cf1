package streamer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/record"
)

// Handler handles DynamoDB Streams events. It implements lambda.Handler so
// that the payload reaches the converter as raw bytes.
type Handler struct {
	s3      ObjectPutter
	cfg     Config
	tel     function.Telemetry
	batches sync.Pool
}

// New returns a Handler writing through client; opts set its logger,
// metrics and clock (function.WithLogger, ...), which default to none.
func New(client ObjectPutter, cfg Config, opts ...function.Option) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("streamer config: %w", err)
	}
	h := &Handler{s3: client, cfg: cfg, tel: function.NewTelemetry(opts...)}
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

// Handle processes one event for Lambda: it is Write, answered in the
// shape of a DynamoDB Streams response. An error means the whole batch
// must be retried; otherwise the response lists at most one failed
// record, the lowest sequence number not durably written.
func (h *Handler) Handle(ctx context.Context, payload []byte) (events.DynamoDBEventResponse, error) {
	resp := events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}
	res, err := h.Write(ctx, payload)
	if err == nil && res.ResumeAt != "" {
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: res.ResumeAt})
	}
	return resp, err
}

// Result is what one Write made durable. It is the streamer's own account
// of its puts, so that a caller running the streamer outside Lambda
// (redrive) need not learn it from the log, whose text may change.
type Result struct {
	// Written are the keys of the objects S3 holds for the event once
	// Write returns, in put order (the errors object first); they include
	// Existing. On a failure they are those put before it.
	Written []string
	// Existing are those of Written that S3 already held: the conditional
	// write answered 412 on a key that proves its content, so an earlier
	// attempt had made the object durable.
	Existing []string
	// ResumeAt is the sequence number of the lowest record not durably
	// written, the one Lambda resumes at (batchItemFailures); "" when
	// every record is written, or when Write returns an error because the
	// whole batch must be retried.
	ResumeAt string
}

// Write converts one DynamoDB Streams event (its raw JSON) and writes its
// objects. An error means the whole batch must be retried; otherwise a
// non-empty ResumeAt names the lowest record not durably written. It logs
// and emits the metrics of the batch.
func (h *Handler) Write(ctx context.Context, payload []byte) (Result, error) {
	start := h.tel.Now()
	var res Result
	b := h.batches.Get().(*batch)
	defer h.batches.Put(b)
	b.reset()

	n, err := b.conv.ConvertEvent(payload, b.add)
	if err == nil {
		err = b.close()
	}
	var syntax *record.SyntaxError
	if errors.As(err, &syntax) {
		return h.keepMalformed(ctx, payload, syntax, start)
	}
	if err != nil {
		return res, fmt.Errorf("convert batch: %w", err)
	}
	if n == 0 {
		return res, nil
	}
	h.logNotConverted(ctx, b)

	wctx, cancel := function.WithMargin(ctx, h.cfg.DeadlineMargin)
	defer cancel()
	keys := h.putObjects(wctx, b, &res)
	v := decide(b.records, b.puts, h.cfg.ReportBatchItemFailures)

	latency := h.tel.Now().Sub(start)
	maxAge := time.Duration(0)
	if !b.oldest.IsZero() {
		maxAge = start.Sub(b.oldest)
	}
	bytesOut := len(b.data().bytes()) + len(b.errs().bytes())
	h.tel.Emit(ctx, start,
		emf.Metric{Name: "Records", Unit: emf.Count, Value: float64(n)},
		emf.Metric{Name: "Objects", Unit: emf.Count, Value: float64(v.written)},
		emf.Metric{Name: "BytesIn", Unit: emf.Bytes, Value: float64(len(payload))},
		emf.Metric{Name: "BytesOut", Unit: emf.Bytes, Value: float64(bytesOut)},
		emf.Metric{Name: "ConversionErrors", Unit: emf.Count, Value: float64(b.errs().lines)},
		emf.Metric{Name: "FailedRecords", Unit: emf.Count, Value: float64(v.failed)},
		emf.Metric{Name: "BatchLatency", Unit: emf.Milliseconds, Value: float64(latency.Microseconds()) / 1000},
		emf.Metric{Name: "RecordAge", Unit: emf.Milliseconds, Value: float64(maxAge.Milliseconds())},
	)
	attrs := []any{"records", n, "converted", b.data().lines, "conversionErrors", b.errs().lines,
		"bytesIn", len(payload), "bytesOut", bytesOut,
		"key", keys[dataObject], "latencyMs", latency.Milliseconds(), "maxRecordAgeMs", maxAge.Milliseconds()}
	if keys[errorsObject] != "" {
		attrs = append(attrs, "errorsKey", keys[errorsObject])
	}
	if v.err == nil {
		h.tel.Log.InfoContext(ctx, "batch written", attrs...)
		return res, nil
	}
	attrs = append(attrs, "error", v.err.Error(), "failedRecords", v.failed)
	if v.whole {
		h.tel.Log.ErrorContext(ctx, "batch not written; retrying the whole batch", attrs...)
		return res, fmt.Errorf("write batch of %d records: %w", n, v.err)
	}
	res.ResumeAt = string(v.resumeAt)
	attrs = append(attrs, "retryFrom", res.ResumeAt)
	h.tel.Log.ErrorContext(ctx, "batch not written; reporting the first unwritten record", attrs...)
	return res, nil
}

// logNotConverted logs the first maxErrorLines records not converted, and
// how many more there are.
func (h *Handler) logNotConverted(ctx context.Context, b *batch) {
	for _, e := range b.logged {
		h.tel.Log.ErrorContext(ctx, "record not converted", "index", e.index, "sequenceNumber", e.seq, "reason", e.reason)
	}
	if more := b.errs().lines - len(b.logged); more > 0 {
		h.tel.Log.ErrorContext(ctx, "more records not converted", "count", more)
	}
}

// putObjects puts the batch's non-empty objects in put order and stops at
// the first failure, recording each in b.puts for the partial-failure
// rule and, once S3 holds it, in res. It returns the key of each object it
// put ("" for none).
func (h *Handler) putObjects(ctx context.Context, b *batch, res *Result) (keys [2]string) {
	failed := false
	for which, o := range b.objects {
		if o.lines == 0 {
			continue
		}
		p := put{first: o.first, firstSeq: o.seq[0]}
		if !failed {
			k := b.key(which, h.cfg.Prefix)
			keys[which] = k.name
			contentType := h.cfg.ContentType
			if which == errorsObject {
				contentType = "application/x-ndjson"
			}
			var existed bool
			existed, p.err = h.put(ctx, k, o.bytes(), contentType, o.lines, o.seq)
			p.made, failed = true, p.err != nil
			res.add(k.name, existed, p.err)
		}
		b.puts = append(b.puts, p)
	}
	return keys
}

// add notes one put: its key counts as written when S3 holds the object.
func (r *Result) add(key string, existed bool, err error) {
	if err != nil {
		return
	}
	r.Written = append(r.Written, key)
	if existed {
		r.Existing = append(r.Existing, key)
	}
}
