package converter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

const (
	// chunk is how much text an object gathers before compressing it, as
	// in the streamer: large enough to amortise each gzip Write.
	chunk = 256 << 10
	// readBuffer is the buffer between S3 and gunzip.
	readBuffer = 256 << 10
	// lineBuffer holds a line in one piece when it fits; longer lines are
	// gathered in a growing buffer, up to MaxLine.
	lineBuffer = 1 << 20
	// MaxLine bounds one line of a data file. A DynamoDB item is at most
	// 400 KB, which DynamoDB JSON widens at most sixfold (a string of
	// control characters, each written \u00xx); a longer line is not an
	// item, and the file is failed rather than held in memory.
	MaxLine = 8 << 20
	// maxAttempts bounds the conversions of one file in one invocation:
	// a 409 to the conditional completion starts the file again.
	maxAttempts = 3
	// loggedErrors is how many lines not converted are logged one by one;
	// all of them are in the errors object and the metric.
	loggedErrors = 10
	// abortTimeout bounds aborting uploads after a failure, which runs
	// after the work's own deadline and so within DEADLINE_MARGIN.
	abortTimeout = 5 * time.Second
)

// Converter converts export data files, one per invocation, into
// snapshot objects. It implements lambda.Handler so that the Job arrives
// as raw bytes.
type Converter struct {
	s3     S3
	cfg    Config
	tel    function.Telemetry
	parts  *partPool
	states sync.Pool
}

// New returns a Converter reading and writing through client; opts set
// its logger, metrics and clock (function.WithLogger, ...).
func New(client S3, cfg Config, opts ...function.Option) (*Converter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("converter config: %w", err)
	}
	c := &Converter{s3: client, cfg: cfg, tel: function.NewTelemetry(opts...),
		parts: newPartPool(cfg.PartSize, cfg.PartsInFlight+3)}
	c.states.New = func() any { return newState(cfg) }
	return c, nil
}

// Result is what one conversion did; it is the invocation's answer.
type Result struct {
	// Key and ErrorsKey are the keys of the file's data object and errors
	// object; empty when the file had no rows, or no bad lines.
	Key       string `json:"key,omitempty"`
	ErrorsKey string `json:"errorsKey,omitempty"`
	// Outcome is "written", "already written" (every object was there:
	// an earlier attempt converted the file) or "empty" (no items).
	Outcome string `json:"outcome"`
	// Items is the non-empty lines read; Rows of them were converted and
	// ConversionErrors went to the errors object.
	Items            int64 `json:"items"`
	Rows             int64 `json:"rows"`
	ConversionErrors int64 `json:"conversionErrors"`
	// BytesIn is the data file's size, TextBytes its uncompressed size and
	// BytesOut the size of the objects written.
	BytesIn   int64 `json:"bytesIn"`
	TextBytes int64 `json:"textBytes"`
	BytesOut  int64 `json:"bytesOut"`
	// Attempts counts conversions of the file: more than one after a 409.
	Attempts int `json:"attempts"`
}

// Outcomes.
const (
	OutcomeWritten        = "written"
	OutcomeAlreadyWritten = "already written"
	OutcomeEmpty          = "empty"
)

// Invoke implements lambda.Handler: the payload is one export.Job.
func (c *Converter) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	job, err := export.ParseJob(payload)
	if err != nil {
		c.tel.Log.ErrorContext(ctx, "job not understood", "error", err.Error())
		return nil, err
	}
	res, err := c.Handle(ctx, job)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}

// Handle converts the job's data file. It returns an error, so that
// Lambda retries the job and finally keeps it in the on-failure
// destination, whenever the file is not wholly converted: S3 failed, the
// deadline came, the file's item count or MD5 differ from the manifest's,
// or it is not a gzip of lines. Lines that are not items do not fail it:
// they go to the errors object.
func (c *Converter) Handle(ctx context.Context, job export.Job) (Result, error) {
	start := c.tel.Now()
	if err := job.Validate(); err != nil {
		return Result{}, err
	}
	st := c.states.Get().(*state)
	defer c.states.Put(st)

	wctx, cancel := function.WithMargin(ctx, c.cfg.DeadlineMargin)
	defer cancel()
	var res Result
	var err error
	for attempt := 1; ; attempt++ {
		res, err = c.convert(wctx, ctx, job, st)
		res.Attempts = attempt
		if errors.Is(err, errConflict) && attempt < maxAttempts {
			c.tel.Log.WarnContext(ctx, "conversion starts again", "dataFile", job.DataFileKey, "attempt", attempt, "error", err.Error())
			continue
		}
		break
	}
	latency := c.tel.Now().Sub(start)
	files, failed, already := 1.0, 0.0, 0.0
	if err != nil {
		files, failed = 0, 1
	}
	if res.Outcome == OutcomeAlreadyWritten {
		already = 1
	}
	c.tel.Emit(ctx, start,
		emf.Metric{Name: "ExportFiles", Unit: emf.Count, Value: files},
		emf.Metric{Name: "FailedExportFiles", Unit: emf.Count, Value: failed},
		emf.Metric{Name: "AlreadyConverted", Unit: emf.Count, Value: already},
		emf.Metric{Name: "SnapshotRows", Unit: emf.Count, Value: float64(res.Rows)},
		emf.Metric{Name: "ConversionErrors", Unit: emf.Count, Value: float64(res.ConversionErrors)},
		emf.Metric{Name: "BytesIn", Unit: emf.Bytes, Value: float64(res.BytesIn)},
		emf.Metric{Name: "TextBytes", Unit: emf.Bytes, Value: float64(res.TextBytes)},
		emf.Metric{Name: "BytesOut", Unit: emf.Bytes, Value: float64(res.BytesOut)},
		emf.Metric{Name: "UploadRestarts", Unit: emf.Count, Value: float64(res.Attempts - 1)},
		emf.Metric{Name: "ConversionLatency", Unit: emf.Milliseconds, Value: float64(latency.Microseconds()) / 1000},
	)
	attrs := []any{"exportArn", job.ExportArn, "bucket", job.Bucket, "dataFile", job.DataFileKey, "etag", job.ETag,
		"items", res.Items, "rows", res.Rows, "conversionErrors", res.ConversionErrors,
		"bytesIn", res.BytesIn, "textBytes", res.TextBytes, "bytesOut", res.BytesOut,
		"key", res.Key, "attempts", res.Attempts, "latencyMs", latency.Milliseconds()}
	if res.ErrorsKey != "" {
		attrs = append(attrs, "errorsKey", res.ErrorsKey)
	}
	if err != nil {
		c.tel.Log.ErrorContext(ctx, "data file not converted; Lambda will retry the job", append(attrs, "error", err.Error())...)
		return res, fmt.Errorf("convert s3://%s/%s: %w", job.Bucket, job.DataFileKey, err)
	}
	c.tel.Log.InfoContext(ctx, "data file converted", append(attrs, "outcome", res.Outcome)...)
	return res, nil
}

// convert makes one attempt at the file: read, convert and upload it as
// it streams, check it against the manifest, then complete the errors
// object and the data object, in that order, so that a data object in
// the lake means the whole file is. outer outlives ctx, for aborting.
func (c *Converter) convert(ctx, outer context.Context, job export.Job, st *state) (res Result, err error) {
	names := job.Objects(c.cfg.Prefix)
	dataKey, _ := objectkey.Snapshot(names) // Validate checked both
	errorsKey, _ := objectkey.SnapshotErrors(names)
	snap := job.Snapshot()
	metadata := map[string]string{
		"export-id":       job.ExportID(),
		"data-file":       job.DataFileName(),
		"data-file-items": strconv.FormatInt(job.ItemCount, 10),
		"image-format":    c.cfg.ImageFormat.String(),
	}
	data := st.data.start(newUpload(ctx, c.s3, c.objectParams(dataKey, c.cfg.ContentType, c.cfg.ContentEncoding, metadata), c.parts, c.cfg.PartsInFlight))
	// The errors object is rarely written: one part uploading at a time.
	errs := st.errs.start(newUpload(ctx, c.s3, c.objectParams(errorsKey, "application/x-ndjson", c.cfg.ContentEncoding, metadata), c.parts, 1))
	defer func() {
		actx, cancel := context.WithTimeout(context.WithoutCancel(outer), abortTimeout)
		defer cancel()
		for _, o := range []*object{errs, data} {
			if aerr := o.up.abort(actx); aerr != nil {
				c.tel.Log.WarnContext(outer, "upload not aborted; the bucket's lifecycle rule will remove its parts", "error", aerr.Error())
			}
		}
	}()

	in, err := c.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(job.Bucket), Key: aws.String(job.DataFileKey)})
	if err != nil {
		return res, fmt.Errorf("get data file: %w", err)
	}
	defer in.Body.Close()
	counted := &countingReader{r: in.Body}
	defer func() { res.BytesIn = counted.n }()
	var src io.Reader = counted
	wantMD5, _ := export.DecodeMD5(job.MD5Checksum)
	var sum hash.Hash
	if c.cfg.VerifyMD5 && wantMD5 != nil {
		sum = st.md5
		sum.Reset()
		src = io.TeeReader(counted, sum)
	}
	st.in.Reset(src)

	if err := c.readLines(ctx, st, &snap, data, errs, &res); err != nil {
		return res, err
	}
	if res.Items != job.ItemCount {
		return res, fmt.Errorf("data file has %d items; the manifest says %d", res.Items, job.ItemCount)
	}
	if sum != nil {
		if got := sum.Sum(st.digest[:0]); !bytes.Equal(got, wantMD5) {
			return res, fmt.Errorf("data file's MD5 is %s; the manifest's md5Checksum is %s", base64.StdEncoding.EncodeToString(got), job.MD5Checksum)
		}
	}

	res.Outcome = OutcomeEmpty
	already := 0
	for _, o := range []*object{errs, data} {
		if o.lines == 0 {
			continue
		}
		if err := o.close(); err != nil {
			return res, err
		}
		out, err := o.up.finish()
		if err != nil {
			return res, err
		}
		res.BytesOut += o.up.size
		if out == alreadyWritten {
			already++
		}
		if o == data {
			res.Key = dataKey
		} else {
			res.ErrorsKey = errorsKey
		}
		res.Outcome = OutcomeWritten
	}
	if already > 0 && already == btoi(errs.lines > 0)+btoi(data.lines > 0) {
		res.Outcome = OutcomeAlreadyWritten
	}
	return res, nil
}

// readLines reads the data file from st.in to its end: gunzip, split into
// lines, convert each non-empty one into data or, when it is not an item,
// errs.
func (c *Converter) readLines(ctx context.Context, st *state, snap *record.Snapshot, data, errs *object, res *Result) error {
	if _, err := st.in.Peek(1); errors.Is(err, io.EOF) {
		return nil // an empty partition's file may be empty
	} else if err != nil {
		return fmt.Errorf("read data file: %w", err)
	}
	if err := st.zr.Reset(st.in); err != nil {
		return fmt.Errorf("data file is not gzip: %w", err)
	}
	st.lines.Reset(&st.zr)
	for n := 1; ; n++ {
		line, rerr := st.readLine()
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("data file line %d: %w", n, rerr)
		}
		res.TextBytes += int64(len(line))
		if body := trimNewline(line); !blank(body) {
			res.Items++
			if n&4095 == 0 {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("data file line %d: stopped before the deadline: %w", n, err)
				}
			}
			out, cerr := st.conv.ConvertItem(body, snap, n)
			var syntax *record.SyntaxError
			var conv *record.ConversionError
			switch {
			case cerr == nil:
				if err := data.add(out); err != nil {
					return err
				}
				res.Rows++
			case errors.As(cerr, &syntax) || errors.As(cerr, &conv):
				if res.ConversionErrors < loggedErrors {
					c.tel.Log.ErrorContext(ctx, "item not converted", "dataFile", snap.DataFile, "line", n, "reason", cerr.Error())
				}
				if err := errs.add(st.errorLine(snap, n, body, cerr)); err != nil {
					return err
				}
				res.ConversionErrors++
			default:
				return fmt.Errorf("data file line %d: %w", n, cerr)
			}
		}
		if rerr != nil { // io.EOF: the last line is done
			break
		}
	}
	// The gzip reader reads members to the end of its input; whatever
	// follows (nothing, for a well-formed file) still counts for the MD5.
	if _, err := io.Copy(io.Discard, st.in); err != nil {
		return fmt.Errorf("read data file: %w", err)
	}
	if more := res.ConversionErrors - loggedErrors; more > 0 {
		c.tel.Log.ErrorContext(ctx, "more items not converted", "dataFile", snap.DataFile, "count", more)
	}
	return nil
}

func (c *Converter) objectParams(key, contentType, contentEncoding string, metadata map[string]string) objectParams {
	return objectParams{bucket: c.cfg.Bucket, key: key, contentType: contentType, contentEncoding: contentEncoding,
		kmsKeyID: c.cfg.KMSKeyID, conditional: c.cfg.ConditionalWrites, metadata: metadata}
}

// state is one conversion's reusable buffers: a warm function converts
// its next file without allocating them again.
type state struct {
	in     *bufio.Reader
	zr     gzip.Reader
	lines  *bufio.Reader
	long   []byte
	conv   *record.Converter
	md5    hash.Hash
	digest [md5.Size]byte
	errBuf []byte
	data   *object
	errs   *object
}

func newState(cfg Config) *state {
	return &state{
		in:    bufio.NewReaderSize(nil, readBuffer),
		lines: bufio.NewReaderSize(nil, lineBuffer),
		conv:  record.NewConverter(record.WithImageFormat(cfg.ImageFormat)),
		md5:   md5.New(),
		data:  newObject(cfg.GzipLevel),
		errs:  newObject(cfg.GzipLevel),
	}
}

var errLineTooLong = fmt.Errorf("line is longer than %d bytes, which no DynamoDB item is", MaxLine)

// readLine returns the next line with its newline, if it has one; at the
// end of the file it returns the last line (perhaps empty) and io.EOF.
// The line is valid until the next call.
func (st *state) readLine() ([]byte, error) {
	line, err := st.lines.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	st.long = append(st.long[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = st.lines.ReadSlice('\n')
		st.long = append(st.long, line...)
		if len(st.long) > MaxLine {
			return nil, errLineTooLong
		}
	}
	return st.long, err
}

func trimNewline(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		return line[:n-1]
	}
	return line
}

// blank reports whether line holds only JSON whitespace: the empty line a
// data file may end with, which is not an item.
func blank(line []byte) bool {
	for _, b := range line {
		if b != ' ' && b != '\t' && b != '\r' && b != '\n' {
			return false
		}
	}
	return true
}

// errorLine renders a line that is not an item as a line of the errors
// object: {"reason":…,"line":N,"eventID":…,"item":<the line>}. The line is
// kept whole: as JSON when it is JSON in UTF-8, else as a string ("text")
// when it is UTF-8, else as base64 ("base64"). (json.Valid alone admits
// invalid UTF-8 in strings, which would make the errors line invalid.)
func (st *state) errorLine(snap *record.Snapshot, n int, line []byte, cause error) []byte {
	b := append(st.errBuf[:0], `{"reason":`...)
	b = appendJSONString(b, cause.Error())
	b = append(b, `,"line":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"eventID":`...)
	b = appendJSONString(b, snap.ExportID+"/"+snap.DataFile+":"+strconv.Itoa(n))
	switch valid := utf8.Valid(line); {
	case valid && json.Valid(line):
		b = append(b, `,"item":`...)
		b = append(b, bytes.TrimSpace(line)...)
	case valid:
		b = append(b, `,"text":`...)
		b = appendJSONString(b, string(line))
	default:
		b = append(b, `,"base64":"`...)
		b = base64.StdEncoding.AppendEncode(b, line)
		b = append(b, '"')
	}
	b = append(b, '}')
	st.errBuf = b
	return b
}

func appendJSONString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s) // a valid UTF-8 string always encodes
	return append(dst, q...)
}

// object builds one gzip JSON Lines object streamed into an upload.
type object struct {
	gz    *gzip.Writer
	text  []byte
	up    *upload
	lines int64
}

func newObject(level int) *object {
	gz, _ := gzip.NewWriterLevel(nil, level) // the level is validated by Config
	return &object{gz: gz, text: make([]byte, 0, chunk)}
}

// start begins an object written to up.
func (o *object) start(up *upload) *object {
	o.up, o.lines, o.text = up, 0, o.text[:0]
	o.gz.Reset(up)
	return o
}

// add appends line and a newline.
func (o *object) add(line []byte) error {
	o.text = append(o.text, line...)
	o.text = append(o.text, '\n')
	o.lines++
	if len(o.text) >= chunk {
		return o.compress()
	}
	return nil
}

func (o *object) compress() error {
	if _, err := o.gz.Write(o.text); err != nil {
		return err // the upload's, which names the part and the key
	}
	o.text = o.text[:0]
	return nil
}

// close ends the gzip stream; finishing the upload makes the object.
func (o *object) close() error {
	if err := o.compress(); err != nil {
		return err
	}
	if err := o.gz.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
