package exports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/integration/internal/wake"
	"github.com/ddbstream/pipeline/integration/requestlog"
)

// ObjectWriter writes an export's objects: the S3 client's PutObject,
// pointed at the local S3 server.
type ObjectWriter interface {
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Config configures an Endpoint.
type Config struct {
	// Upstream is DynamoDB Local's URL (http://host:port). Calls the
	// endpoint does not serve go there unchanged, and exports scan the
	// table there.
	Upstream string
	// Credentials and Region sign the endpoint's own calls to Upstream
	// (DescribeTable and Scan). DynamoDB Local keeps one database per
	// access key and region unless started with -sharedDb, so they must
	// be those of the clients that created the tables.
	Credentials aws.CredentialsProvider
	Region      string
	// S3 writes the exports' objects, unless S3As is set.
	S3 ObjectWriter
	// S3As, if set, gives the writer of an export started with the given
	// access key ID: DynamoDB writes an export to S3 with the permissions
	// of the principal that started it ("your IAM principal must have
	// permission to write to the bucket", with s3:PutObject and, for
	// SSE-KMS, kms:GenerateDataKey:
	// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html),
	// so that a recorder attributes the writes to it.
	S3As func(accessKeyID string) ObjectWriter
	// DataFiles is how many data files an export writes (default 4):
	// AWS writes at least one per partition, so a small table gives
	// some empty files, which is what the converter must cope with.
	DataFiles int
	// RestoreLag is how far LatestRestorableDateTime trails the clock.
	// AWS documents "typically 5 minutes"; the default is 0, so that a
	// local backfill can export what was just written.
	RestoreLag time.Duration
	// Now is the clock of export times and the recovery window (default
	// time.Now); tests move it to play time passing.
	Now func() time.Time
	// StreamLabelBackdate makes DescribeTable report each table's
	// LatestStreamLabel, the time its stream was created, this much
	// earlier than DynamoDB Local created it (default 0: as it is).
	// ddbstream backfill refuses an export time less than
	// orderkey.SnapshotMargin after the stream's creation, because in AWS
	// a change made just before the export time may be in neither the
	// export nor the stream. A local pipeline's stream is seconds old, and
	// here that gap cannot open: the export is a scan made when it is
	// requested, after every change the stream does not carry. Backdating
	// the label lets the unchanged check pass without moving any clock:
	// export times stay real, so snapshot rows still rank below every
	// stream record made after the scan (moving the clocks ahead instead
	// would rank the snapshot above the records of the first minutes).
	StreamLabelBackdate time.Duration
}

// Endpoint is DynamoDB's export API in front of DynamoDB Local. Create it
// with New and stop it with Close.
type Endpoint struct {
	cfg     Config
	proxy   *httputil.ReverseProxy
	up      *upstream
	changed wake.Signal
	ctx     context.Context
	cancel  context.CancelFunc
	writers sync.WaitGroup

	mu      sync.Mutex
	exports []*export // in the order they were requested
	byARN   map[string]*export
	tokens  map[string]tokenUse
	pitr    map[string]pitrState // by table name; absent: on since the table's creation
	hold    chan struct{}
}

// tokenUse is a ClientToken's first request, for idempotency.
type tokenUse struct {
	arn    string
	params string
	until  time.Time
}

type pitrState struct {
	enabled bool
	since   time.Time
}

// tokenWindow is how long a ClientToken identifies its export: "A client
// token is valid for 8 hours after the first request that uses it is
// completed" (ExportTableToPointInTime, API reference:
// https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExportTableToPointInTime.html).
const tokenWindow = 8 * time.Hour

// New returns an endpoint proxying to cfg.Upstream.
func New(cfg Config) (*Endpoint, error) {
	u, err := url.Parse(cfg.Upstream)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not a URL like http://127.0.0.1:8000", cfg.Upstream)
	}
	if (cfg.S3 == nil && cfg.S3As == nil) || cfg.Credentials == nil || cfg.Region == "" {
		return nil, errors.New("exports endpoint needs S3 or S3As, Credentials and Region")
	}
	if cfg.DataFiles <= 0 {
		cfg.DataFiles = 4
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	proxy := httputil.NewSingleHostReverseProxy(u)
	// Every call of the local pipeline's DynamoDB clients passes here, the
	// load generator's dozens at once: keep their connections to DynamoDB
	// Local open rather than the default transport's two idle ones, which
	// would open a connection per call.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 128
	proxy.Transport = tr
	e := &Endpoint{
		cfg: cfg, proxy: proxy,
		up:  &upstream{url: strings.TrimSuffix(cfg.Upstream, "/") + "/", creds: cfg.Credentials, region: cfg.Region, signer: v4.NewSigner()},
		ctx: ctx, cancel: cancel,
		byARN: map[string]*export{}, tokens: map[string]tokenUse{}, pitr: map[string]pitrState{},
	}
	return e, nil
}

// Close stops exports still being written (they stay IN_PROGRESS) and
// returns once their writers have ended.
func (e *Endpoint) Close() {
	e.cancel()
	e.Release()
	e.writers.Wait()
}

// Hold keeps exports requested from now on IN_PROGRESS, writing nothing,
// until Release: a test sees an export in progress, or attaches to one,
// without racing its writer.
func (e *Endpoint) Hold() {
	e.mu.Lock()
	if e.hold == nil {
		e.hold = make(chan struct{})
	}
	e.mu.Unlock()
}

// Release lets held exports be written.
func (e *Endpoint) Release() {
	e.mu.Lock()
	if e.hold != nil {
		close(e.hold)
		e.hold = nil
	}
	e.mu.Unlock()
}

// Changed returns a channel closed when an export next changes status, so
// that a waiter needs no polling interval.
func (e *Endpoint) Changed() <-chan struct{} { return e.changed.C() }

// Wait returns once the export named by arn is no longer IN_PROGRESS, with
// its final status.
func (e *Endpoint) Wait(ctx context.Context, arn string) (string, error) {
	for {
		ch := e.changed.C()
		e.mu.Lock()
		ex, ok := e.byARN[arn]
		status := ""
		if ok {
			status = ex.desc.ExportStatus
		}
		e.mu.Unlock()
		if !ok {
			return "", fmt.Errorf("export %s not found", arn)
		}
		if status != statusInProgress {
			return status, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-ch:
		}
	}
}

// targetPrefix begins the X-Amz-Target of every DynamoDB call (JSON 1.0
// protocol).
const targetPrefix = "DynamoDB_20120810."

// maxRequest bounds the body of a call served here; none is near it.
const maxRequest = 1 << 20

// ServeHTTP serves the export and continuous-backup calls and proxies the
// rest to DynamoDB Local unchanged (headers, signature and body).
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	var h func(context.Context, []byte) (any, error)
	switch op {
	case "ExportTableToPointInTime":
		h = e.exportTable
	case "DescribeExport":
		h = e.describeExport
	case "ListExports":
		h = e.listExports
	case "DescribeContinuousBackups":
		h = e.describeContinuousBackups
	case "UpdateContinuousBackups":
		h = e.updateContinuousBackups
	case "DescribeTable":
		h = e.describeTable
	default:
		e.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err == nil && len(body) > maxRequest {
		err = errors.New("request body too large")
	}
	if err != nil {
		writeError(w, validation(err.Error()))
		return
	}
	out, err := h(context.WithValue(r.Context(), callerKey{}, requestlog.AccessKeyID(r)), body)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

// callerKey holds, in a served call's context, the access key ID that
// signed it.
type callerKey struct{}

// writerFor is the writer of an export a call with ctx starts.
func (e *Endpoint) writerFor(ctx context.Context) ObjectWriter {
	if e.cfg.S3As != nil {
		key, _ := ctx.Value(callerKey{}).(string)
		return e.cfg.S3As(key)
	}
	return e.cfg.S3
}

// apiError is an error answer in the JSON protocol: the SDK takes the
// part of __type after '#' as the error code and maps it to its type
// (types.ExportConflictException and so on).
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func validation(msg string) error {
	return &apiError{status: http.StatusBadRequest, code: "ValidationException", message: msg}
}

func clientError(code, msg string) error {
	return &apiError{status: http.StatusBadRequest, code: code, message: msg}
}

func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, code: "InternalServerError", message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(ae.status)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"__type": "com.amazonaws.dynamodb.v20120810#" + ae.code, "message": ae.message,
	})
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return validation("request body is not valid JSON: " + err.Error())
	}
	return nil
}

// table describes a table upstream, answering TableNotFoundException for
// one that does not exist, as the export and backup calls do.
func (e *Endpoint) table(ctx context.Context, name string) (tableDesc, error) {
	t, err := e.up.describeTable(ctx, name)
	var ae *apiError
	if errors.As(err, &ae) && ae.code == "ResourceNotFoundException" {
		return t, clientError("TableNotFoundException", "Table not found: "+name)
	}
	return t, err
}

// describeTable answers DescribeTable from DynamoDB Local's answer, with
// two changes: a table ARN is accepted as the TableName, as AWS accepts
// it (the export planner asks by the export's table ARN) and DynamoDB
// Local does not, and LatestStreamLabel is backdated by
// Config.StreamLabelBackdate. The rest of the answer is passed unchanged.
func (e *Endpoint) describeTable(ctx context.Context, body []byte) (any, error) {
	var in struct{ TableName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var out struct {
		Table map[string]json.RawMessage
	}
	if err := e.up.call(ctx, "DescribeTable", map[string]string{"TableName": tableName(in.TableName)}, &out); err != nil {
		return nil, err
	}
	if raw, ok := out.Table["LatestStreamLabel"]; ok && e.cfg.StreamLabelBackdate != 0 {
		var label string
		if err := json.Unmarshal(raw, &label); err != nil {
			return nil, fmt.Errorf("DescribeTable upstream answer: LatestStreamLabel: %w", err)
		}
		created, err := time.Parse(streamLabelLayout, label)
		if err != nil {
			return nil, fmt.Errorf("DescribeTable upstream answer: LatestStreamLabel %q: %w", label, err)
		}
		out.Table["LatestStreamLabel"], _ = json.Marshal(created.Add(-e.cfg.StreamLabelBackdate).Format(streamLabelLayout))
	}
	return out, nil
}

// streamLabelLayout is the form of LatestStreamLabel, an ISO 8601 time
// in UTC without a zone, such as 2015-05-11T21:21:33.291.
const streamLabelLayout = "2006-01-02T15:04:05.000"

// tableName accepts a table's name or ARN, as the backup calls do.
func tableName(nameOrARN string) string {
	if _, name, ok := strings.Cut(nameOrARN, ":table/"); ok {
		name, _, _ = strings.Cut(name, "/")
		return name
	}
	return nameOrARN
}

// recoveryWindow returns the table's point-in-time recovery state: on
// since its creation unless UpdateContinuousBackups changed it.
func (e *Endpoint) recoveryWindow(t tableDesc) (enabled bool, earliest, latest time.Time) {
	e.mu.Lock()
	st, ok := e.pitr[t.TableName]
	e.mu.Unlock()
	if !ok {
		st = pitrState{enabled: true, since: t.created()}
	}
	return st.enabled, st.since, e.cfg.Now().Add(-e.cfg.RestoreLag)
}

// recoveryDays is what AWS reports by default: 35 days of recovery.
const recoveryDays = 35

func (e *Endpoint) continuousBackups(t tableDesc) any {
	enabled, earliest, latest := e.recoveryWindow(t)
	pitr := map[string]any{"PointInTimeRecoveryStatus": "DISABLED"}
	if enabled {
		if floor := latest.Add(-recoveryDays * 24 * time.Hour); earliest.Before(floor) {
			earliest = floor
		}
		pitr = map[string]any{
			"PointInTimeRecoveryStatus":  "ENABLED",
			"EarliestRestorableDateTime": epoch(earliest),
			"LatestRestorableDateTime":   epoch(latest),
			"RecoveryPeriodInDays":       recoveryDays,
		}
	}
	return map[string]any{"ContinuousBackupsDescription": map[string]any{
		"ContinuousBackupsStatus":        "ENABLED",
		"PointInTimeRecoveryDescription": pitr,
	}}
}

func (e *Endpoint) describeContinuousBackups(ctx context.Context, body []byte) (any, error) {
	var in struct{ TableName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	t, err := e.table(ctx, tableName(in.TableName))
	if err != nil {
		return nil, err
	}
	return e.continuousBackups(t), nil
}

func (e *Endpoint) updateContinuousBackups(ctx context.Context, body []byte) (any, error) {
	var in struct {
		TableName                        string
		PointInTimeRecoverySpecification *struct{ PointInTimeRecoveryEnabled *bool }
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.PointInTimeRecoverySpecification == nil || in.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled == nil {
		return nil, validation("PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled is required")
	}
	t, err := e.table(ctx, tableName(in.TableName))
	if err != nil {
		return nil, err
	}
	on := *in.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled
	was, _, _ := e.recoveryWindow(t)
	e.mu.Lock()
	switch {
	case on && !was:
		e.pitr[t.TableName] = pitrState{enabled: true, since: e.cfg.Now()}
	case !on:
		e.pitr[t.TableName] = pitrState{}
	}
	e.mu.Unlock()
	return e.continuousBackups(t), nil
}
