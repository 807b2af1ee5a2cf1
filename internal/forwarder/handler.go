package forwarder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/s3event"
)

// ObjectGetter reads an object's content.
type ObjectGetter interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ObjectHeader checks that an object exists.
type ObjectHeader interface {
	HeadObject(ctx context.Context, params *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// S3 is the two S3 calls the forwarder makes.
type S3 interface {
	ObjectGetter
	ObjectHeader
}

// Handler delivers the objects of S3 events to Databricks.
type Handler struct {
	s3  S3
	db  *databricks.Client
	cfg Config
	tel function.Telemetry
}

// New returns a Handler reading from s3c and writing through db; opts set
// its logger, metrics and clock (function.WithLogger, ...), which default
// to none.
func New(s3c S3, db *databricks.Client, cfg Config, opts ...function.Option) *Handler {
	return &Handler{s3: s3c, db: db, cfg: cfg, tel: function.NewTelemetry(opts...)}
}

// Invoke implements lambda.Handler. For SQS batches it answers with the
// messages to retry; for other sources any undelivered object fails the
// invocation so that Lambda's async retries and on-failure destination
// keep the event.
func (h *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := s3event.Parse(payload)
	if err != nil {
		h.tel.Log.ErrorContext(ctx, "event not understood", "error", err.Error(), "bytes", len(payload))
		return nil, fmt.Errorf("read event: %w", err)
	}
	if ev.TestEvents > 0 {
		h.tel.Log.InfoContext(ctx, "s3:TestEvent ignored", "count", ev.TestEvents)
	}
	if ev.Source == s3event.EventBridge && ev.Ignored > 0 {
		// Another S3 event type ("Object Deleted", ...) that a broad rule
		// let through: nothing to deliver, and nothing to retry.
		h.tel.Log.InfoContext(ctx, "event ignored", "detailType", ev.DetailType)
	}
	failedMessages := map[string]bool{}
	for _, bad := range ev.Bad {
		h.tel.Log.ErrorContext(ctx, "message not understood; left for the queue's redrive policy", "messageId", bad.MessageID, "reason", bad.Reason)
		failedMessages[bad.MessageID] = true
	}
	var errs []error
	for _, o := range ev.Objects {
		if failedMessages[o.MessageID] && o.MessageID != "" {
			continue // its message is retried whole anyway
		}
		if err := h.forward(ctx, o); err != nil {
			errs = append(errs, err)
			if o.MessageID != "" {
				failedMessages[o.MessageID] = true
			}
		}
	}
	if ev.Source == s3event.SQS {
		resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
		for _, o := range ev.Objects {
			if failedMessages[o.MessageID] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: o.MessageID})
				delete(failedMessages, o.MessageID)
			}
		}
		for _, bad := range ev.Bad {
			if failedMessages[bad.MessageID] {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: bad.MessageID})
				delete(failedMessages, bad.MessageID)
			}
		}
		return json.Marshal(resp)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d objects not delivered: %w", len(errs), len(ev.Objects), errors.Join(errs...))
	}
	return []byte(`{}`), nil
}

// outcome is what happened to one object.
type outcome struct {
	result      string // delivered, skipped
	reason      string
	size        int64
	destination string
	res         databricks.Result
}

// forward delivers one object, logs one line and emits its metrics.
func (h *Handler) forward(ctx context.Context, o s3event.Object) error {
	start := h.tel.Now()
	// Each object is delivered with DeadlineMargin kept before the Lambda
	// deadline, so the function still logs and answers; the Databricks
	// client keeps no margin of its own.
	ctx, cancel := function.WithMargin(ctx, h.cfg.DeadlineMargin)
	defer cancel()
	out, err := h.deliver(ctx, o)
	latency := h.tel.Now().Sub(start)
	attrs := []any{"bucket", o.Bucket, "key", o.Key, "size", out.size, "mode", string(h.cfg.Mode),
		"attempts", out.res.Attempts, "latencyMs", latency.Milliseconds()}
	if out.destination != "" {
		attrs = append(attrs, "destination", out.destination)
	}
	if out.res.Refreshed {
		attrs = append(attrs, "credentialsRefreshed", true)
	}
	m := []emf.Metric{
		{Name: "Retries", Unit: emf.Count, Value: float64(out.res.Retries())},
		{Name: "DeliveryLatency", Unit: emf.Milliseconds, Value: float64(latency.Microseconds()) / 1000},
	}
	switch {
	case err != nil:
		err = fmt.Errorf("deliver s3://%s/%s: %w", o.Bucket, o.Key, err)
		h.tel.Log.ErrorContext(ctx, "object not delivered", append(attrs, "result", "failed", "error", err.Error())...)
		m = append(m, emf.Metric{Name: "Failures", Unit: emf.Count, Value: 1})
	case out.result == "skipped":
		h.tel.Log.WarnContext(ctx, "object skipped", append(attrs, "result", "skipped", "reason", out.reason)...)
		m = append(m, emf.Metric{Name: "Skipped", Unit: emf.Count, Value: 1})
	default:
		h.tel.Log.InfoContext(ctx, "object delivered", append(attrs, "result", "delivered")...)
		m = append(m, emf.Metric{Name: "Objects", Unit: emf.Count, Value: 1}, emf.Metric{Name: "Bytes", Unit: emf.Bytes, Value: float64(out.size)})
	}
	h.tel.Emit(ctx, start, m...)
	return err
}

func skipped(reason string, size int64) (outcome, error) {
	return outcome{result: "skipped", reason: reason, size: size}, nil
}

func (h *Handler) deliver(ctx context.Context, o s3event.Object) (outcome, error) {
	if !strings.HasPrefix(o.Key, h.cfg.KeyPrefix) || !strings.HasSuffix(o.Key, h.cfg.KeySuffix) {
		return skipped("key outside KEY_PREFIX/KEY_SUFFIX", o.Size)
	}
	vars := templateVars(o)
	switch h.cfg.Mode {
	case Volume, DBFS:
		dest, err := h.cfg.Path.Expand(vars, nil)
		if err != nil {
			return outcome{size: o.Size}, err
		}
		first, err := h.get(ctx, o)
		if reason, ok := gone(err); ok {
			return skipped(reason, o.Size)
		}
		if err != nil {
			return outcome{size: o.Size}, err
		}
		size := aws.ToInt64(first.ContentLength)
		open := func(ctx context.Context) (io.ReadCloser, error) {
			if first != nil { // the first attempt reuses the GET that checked the object
				body := first.Body
				first = nil
				return body, nil
			}
			out, err := h.get(ctx, o)
			if err != nil {
				return nil, err
			}
			return out.Body, nil
		}
		defer func() {
			if first != nil {
				first.Body.Close()
			}
		}()
		var res databricks.Result
		if h.cfg.Mode == Volume {
			res, err = h.db.UploadFile(ctx, dest, size, open)
		} else {
			res, err = h.db.DBFSUpload(ctx, dest, open)
		}
		return outcome{result: "delivered", size: size, destination: dest, res: res}, err
	case Job, CopyInto:
		// These modes hand Databricks the object's location: check that it
		// still exists as announced before starting anything.
		size, err := h.head(ctx, o)
		if reason, ok := gone(err); ok {
			return skipped(reason, o.Size)
		}
		if err != nil {
			return outcome{size: o.Size}, err
		}
		if h.cfg.Mode == Job {
			return h.runJob(ctx, o, vars, size)
		}
		return h.copyInto(ctx, o, vars, size)
	}
	return outcome{}, fmt.Errorf("unknown mode %q", h.cfg.Mode)
}

func (h *Handler) runJob(ctx context.Context, o s3event.Object, vars map[string]string, size int64) (outcome, error) {
	params := map[string]string{"s3_uri": "s3://" + o.Bucket + "/" + o.Key, "bucket": o.Bucket, "key": o.Key,
		"size": strconv.FormatInt(size, 10), "etag": o.ETag}
	for _, v := range layoutVars {
		if s, ok := vars[v]; ok {
			params[v] = s
		}
	}
	runID, res, err := h.db.RunNow(ctx, h.cfg.JobID, params, IdempotencyToken(o))
	return outcome{result: "delivered", size: size, destination: fmt.Sprintf("job %d run %d", h.cfg.JobID, runID), res: res}, err
}

// copyInto loads the object into its table with LoadStatement's MERGE,
// after creating the table unless it exists: once per table while the
// function is warm, as MERGE needs an existing Delta table. A load that
// fails makes the next delivery send the CREATE again, in case the table
// was dropped since. Loading is idempotent per object and line, so a
// redelivered or retried object loads nothing twice.
func (h *Handler) copyInto(ctx context.Context, o s3event.Object, vars map[string]string, size int64) (outcome, error) {
	table, err := h.copyTable(vars)
	if err != nil {
		return outcome{size: size}, err
	}
	create, err := CreateTableStatement(table)
	if err != nil {
		return outcome{size: size}, err
	}
	load, err := LoadStatement(table, o.Bucket, o.Key)
	if err != nil {
		return outcome{size: size}, err
	}
	out := outcome{result: "delivered", size: size, destination: "table " + table}
	_, _, res, err := h.db.ExecuteStatementOnce(ctx, h.cfg.WarehouseID, create)
	out.res = res
	if err != nil {
		return out, fmt.Errorf("create table %s: %w", table, err)
	}
	id, res, err := h.db.ExecuteStatement(ctx, h.cfg.WarehouseID, load)
	out.res = out.res.Add(res)
	out.destination += " statement " + id
	var se *databricks.StatementError
	if errors.As(err, &se) {
		h.db.ForgetStatement(h.cfg.WarehouseID, create)
		return out, fmt.Errorf("load into %s: %w (a line that does not fit the record format fails the load; "+
			"a table that existed before the forwarder keeps its columns, which must be those it creates)", table, err)
	}
	return out, err
}

// copyTable is the table an object is loaded into.
func (h *Handler) copyTable(vars map[string]string) (string, error) {
	table, err := h.cfg.Table.Expand(vars, sqlName)
	if err != nil {
		return "", err
	}
	if !tableName.MatchString(table) {
		return "", fmt.Errorf("table %q from DATABRICKS_TABLE is not a valid name", table)
	}
	return table, nil
}

// IdempotencyToken names one object version: a redelivered event yields
// the same 64 characters, so Databricks starts no second run.
func IdempotencyToken(o s3event.Object) string {
	sum := sha256.Sum256([]byte(o.Bucket + "\n" + o.Key + "\n" + o.ETag + "\n" + o.Sequencer))
	return hex.EncodeToString(sum[:])
}

func templateVars(o s3event.Object) map[string]string {
	vars := map[string]string{"bucket": o.Bucket, "key": o.Key, "name": path.Base(o.Key), "dir": path.Dir(o.Key)}
	if p, err := objectkey.Parse(o.Key); err == nil {
		vars["prefix"], vars["table"], vars["date"], vars["hour"] = p.Prefix, p.Table, p.Date, p.Hour
		vars["stream"], vars["first"], vars["last"] = p.Stream, p.FirstSequence, p.LastSequence
	}
	return vars
}

// get reads the exact version the event announced: by version ID when the
// bucket is versioned, else only while the ETag still matches.
func (h *Handler) get(ctx context.Context, o s3event.Object) (*s3.GetObjectOutput, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)}
	switch {
	case o.VersionID != "":
		in.VersionId = aws.String(o.VersionID)
	case o.ETag != "":
		in.IfMatch = aws.String(`"` + strings.Trim(o.ETag, `"`) + `"`)
	}
	out, err := h.s3.GetObject(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", o.Bucket, o.Key, err)
	}
	return out, nil
}

func (h *Handler) head(ctx context.Context, o s3event.Object) (int64, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)}
	if o.VersionID != "" {
		in.VersionId = aws.String(o.VersionID)
	}
	out, err := h.s3.HeadObject(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("head s3://%s/%s: %w", o.Bucket, o.Key, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// gone reports objects that no longer exist as announced: retrying them
// could never succeed.
func gone(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return "object no longer exists", true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchVersion":
			return "object no longer exists", true
		case "PreconditionFailed":
			return "object was replaced since the event; the newer version has its own event", true
		}
	}
	return "", false
}
