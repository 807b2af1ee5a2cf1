package integration

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/integration/eventbus"
	"github.com/ddbstream/pipeline/integration/exports"
	"github.com/ddbstream/pipeline/integration/internal/lambdarecord"
	"github.com/ddbstream/pipeline/integration/lambdaapi"
	"github.com/ddbstream/pipeline/integration/poller"
	"github.com/ddbstream/pipeline/integration/requestlog"
	"github.com/ddbstream/pipeline/integration/runtimeapi"
	"github.com/ddbstream/pipeline/integration/s3faults"
	"github.com/ddbstream/pipeline/integration/secretsmanager"
	"github.com/ddbstream/pipeline/integration/sqsapi"
	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/eventrule"
	"github.com/ddbstream/pipeline/internal/lambdabuild"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/orderkey"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
)

// Options configures a local pipeline.
type Options struct {
	// Root is the repository (functions are built from it, tools found
	// in its .local/).
	Root string
	// WorkDir holds binaries, the S3 server's data and the logs.
	WorkDir               string
	Table, Bucket, Prefix string
	BatchSize             int
	BatchingWindow        time.Duration
	MaxRetryAttempts      int
	// BisectOnError splits batches on function errors, as the mapping's
	// setting of that name (off by default, as deployed).
	BisectOnError   bool
	StreamerTimeout time.Duration
	// VolumePath is the forwarder's destination template.
	VolumePath string
	// DatabricksSecret, if set, is the secret JSON of a real workspace;
	// otherwise a fake workspace is started.
	DatabricksSecret string
	// WorkspaceOptions configure the fake workspace.
	WorkspaceOptions []fakedatabricks.Option
	// Mutate may change stream records before the streamer sees them.
	Mutate func([]byte) []byte
	// DuplicateEvents delivers every S3 event twice to each rule's
	// function (the forwarder, the export planner).
	DuplicateEvents bool
	// StreamerEnv, ForwarderEnv, PlannerEnv and ConverterEnv add to the
	// functions' environments.
	StreamerEnv, ForwarderEnv, PlannerEnv, ConverterEnv map[string]string
	// Key is the table's primary key (default: a string partition key
	// named pk, which the load generator writes).
	Key KeySchema
	// Preload, if set, writes items to the new table before its stream is
	// enabled: items no stream record carries, as in a table that existed
	// before the pipeline, which only a backfill brings into the lake.
	Preload func(ctx context.Context, db *dynamodb.Client, table string) error
	// ExportDataFiles is the number of data files a table export writes
	// (default 4).
	ExportDataFiles int
	// FunctionsDir holds bootstraps BuildFunctions made, so that several
	// pipelines (the end-to-end tests) build them once; empty: they are
	// built into WorkDir.
	FunctionsDir string
}

// KeySchema is a table's primary key: its attributes' names and types
// (S, N or B); no sort key when SortKey is empty.
type KeySchema struct {
	PartitionKey  string
	PartitionType dtypes.ScalarAttributeType
	SortKey       string
	SortType      dtypes.ScalarAttributeType
}

func (o *Options) defaults() {
	if o.Table == "" {
		o.Table = "Orders"
	}
	if o.Bucket == "" {
		o.Bucket = "cdc-local"
	}
	if o.Prefix == "" {
		o.Prefix = "cdc"
	}
	if o.BatchSize == 0 {
		o.BatchSize = 500
	}
	if o.BatchingWindow == 0 {
		o.BatchingWindow = 500 * time.Millisecond
	}
	if o.MaxRetryAttempts == 0 {
		o.MaxRetryAttempts = 10
	}
	if o.StreamerTimeout == 0 {
		o.StreamerTimeout = 30 * time.Second
	}
	if o.VolumePath == "" {
		o.VolumePath = "/Volumes/main/cdc/landing/{key}"
	}
	if o.Key.PartitionKey == "" {
		o.Key = KeySchema{PartitionKey: "pk", PartitionType: dtypes.ScalarAttributeTypeS}
	}
	if o.ExportDataFiles == 0 {
		o.ExportDataFiles = 4
	}
}

// ConverterFunction is the export converter's name, under which the
// local Lambda endpoint serves it to the planner.
const ConverterFunction = "exportconverter"

// PlannerFunction is the export planner's name on the local Invoke
// endpoint, where ddbstream redrive invokes it.
const PlannerFunction = "exportplanner"

// converterRetries and asyncRetryDelay model Lambda's asynchronous
// invocation: two retries by default, here a moment apart rather than a
// minute or two. Nothing waits on the delay: the queues report progress.
const (
	converterRetries = 2
	asyncRetryDelay  = 200 * time.Millisecond
)

// streamLabelBackdate is how much earlier than DynamoDB Local created it
// the exports endpoint says the table's stream was created: a minute more
// than the backfill requires (exports.Config.StreamLabelBackdate says why
// that is sound locally).
const streamLabelBackdate = orderkey.SnapshotMargin + time.Minute

// SecretName is the local Databricks secret's name: the one make synth's
// example context gives the stack (databricksSecretName), which the
// forwarder's policy names and the recorded requests are evaluated against.
const SecretName = "databricks/pipeline"

// StreamerFailureQueue is the streamer's on-failure queue on the local
// SQS endpoint: the mapping's destination, as the stack's
// StreamerFailureQueue, which ddbstream redrive reads.
const StreamerFailureQueue = "streamer-failures"

// ConverterFailureQueue is the export converter's on-failure queue on the
// local SQS endpoint: the Invoke endpoint's on-failure destination for
// the converter, as the stack's converter on-failure queue (output
// ExportConverterFailureQueueUrl), which ddbstream redrive reads.
const ConverterFailureQueue = "export-converter-failures"

// ForwarderFailureQueue is the forwarder's on-failure queue on the local
// SQS endpoint (the stack's ForwarderFailureQueue): events Lambda gave up
// on after its asynchronous retries, as AWS's invocation record.
const ForwarderFailureQueue = "forwarder-failures"

// PlannerFailureQueue is the export planner's on-failure queue on the
// local SQS endpoint (the stack's ExportPlannerFailureQueueUrl): the
// planner's rule gives up on an event after its retries and sends AWS's
// invocation record there.
const PlannerFailureQueue = "export-planner-failures"

// StreamerFunctionARN names the streamer in the mapping's on-failure
// records.
var StreamerFunctionARN = FunctionARN(StreamerFunction)

// StreamerFunction and ForwarderFunction are the functions' names.
const (
	StreamerFunction  = "streamer"
	ForwarderFunction = "forwarder"
)

// The EventBridge rules' names: the forwarder's (new data objects) and
// the export planner's (an export's manifest).
const (
	ForwarderRule = "forwarder-trigger"
	PlannerRule   = "export-planner-trigger"
)

// Region is the local pipeline's region.
const Region = "us-east-1"

// FunctionARN is a local function's ARN.
func FunctionARN(name string) string {
	return "arn:aws:lambda:" + Region + ":" + sqsapi.Account + ":function:" + name
}

// RuleARN is a local EventBridge rule's ARN.
func RuleARN(name string) string {
	return "arn:aws:events:" + Region + ":" + sqsapi.Account + ":rule/" + name
}

// functionPrincipals are the functions' principals by function name.
var functionPrincipals = map[string]string{
	StreamerFunction: StreamerPrincipal, ForwarderFunction: ForwarderPrincipal,
	PlannerFunction: PlannerPrincipal, ConverterFunction: ConverterPrincipal,
}

// Pipeline is a running local pipeline.
type Pipeline struct {
	Opts    Options
	DDB, S3 *Service
	// S3Faults is between the streamer and the S3 server, ConverterS3Faults
	// between the export converter and it; exportWrites carries the
	// export's own objects, faultless, so that their notifications are
	// waited for like the others.
	S3Faults, ConverterS3Faults *s3faults.Proxy
	exportWrites                *s3faults.Proxy
	Secrets                     *secretsmanager.Endpoint
	Workspace                   *fakedatabricks.Workspace // nil with a real workspace
	Streamer                    *runtimeapi.Function
	Forwarder                   *runtimeapi.Function
	// Planner and Converter are the backfill's functions; Lambda is the
	// Invoke endpoint through which the planner starts the converter, and
	// PlannerRoute the planner's EventBridge rule on the Relay.
	Planner, Converter *runtimeapi.Function
	Lambda             *lambdaapi.Endpoint
	PlannerRoute       *eventbus.Route
	// Exports is DynamoDB's export API in front of DynamoDB Local; every
	// DynamoDB client but the poller's goes through it.
	Exports      *exports.Endpoint
	ExportPrefix string
	Poller       *poller.Poller
	Relay        *eventbus.Relay
	StreamARN    string
	DynamoDB     *dynamodb.Client
	S3Client     *s3.Client
	// SQS holds the streamer's on-failure queue (StreamerFailureQueue, at
	// StreamerFailureQueueURL): the poller sends it AWS's on-failure
	// record of each batch it gives up on, as the deployed mapping does,
	// and SQSClient, the SDK's, reads it as ddbstream redrive does.
	SQS                     *sqsapi.Endpoint
	StreamerFailureQueueURL string
	// ConverterFailureQueueURL is the converter's on-failure queue
	// (ConverterFailureQueue) on SQS: Lambda sends it AWS's invocation
	// record of each conversion it gives up on (also in Lambda.Failed).
	ConverterFailureQueueURL string
	// PlannerFailureQueueURL is the planner's (PlannerFailureQueue), and
	// ForwarderFailureQueueURL the forwarder's (ForwarderFailureQueue).
	PlannerFailureQueueURL, ForwarderFailureQueueURL string
	SQSClient                                        *sqs.Client
	// LambdaClient is the SDK's Lambda client on the Invoke endpoint, as
	// ddbstream redrive invokes the export functions.
	LambdaClient *lambda.Client
	// Streams is the DynamoDB Streams API of DynamoDB Local, which serves
	// it on its own endpoint.
	Streams *dynamodbstreams.Client
	// Requests records every AWS request made in the pipeline, by
	// principal: at each endpoint, by the access key that signed it, and
	// those AWS services make on a principal's behalf (a destination's
	// SendMessage, a rule invoking a function, a function's logs).
	Requests *requestlog.Log
	// endpoints are the recorded endpoints' URLs, for As.
	endpoints endpoints
	// streamerS3 is the S3 endpoint the streamer writes through (before
	// S3Faults), and streamerEnv its environment: Redrive writes as it.
	streamerS3  string
	streamerEnv map[string]string
	// forwarderEnv is the forwarder's environment, which the Lambda
	// endpoint's GetFunctionConfiguration reports as AWS would.
	forwarderEnv map[string]string

	StreamerLogs, ForwarderLogs, PlannerLogs, ConverterLogs *SyncBuffer
	mu                                                      sync.Mutex
	streamerFailures                                        []poller.FailedBatch
	servers                                                 []*httptest.Server
	cancel                                                  context.CancelFunc
	wg                                                      sync.WaitGroup
	logFiles                                                []*os.File
}

// SyncBuffer is a buffer safe for concurrent writes, tee'd to a file.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	w   io.Writer
}

// Write implements io.Writer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.w != nil {
		_, _ = b.w.Write(p)
	}
	return len(p), nil
}

// String returns everything written.
func (b *SyncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// StreamerFailures returns the batches the poller sent to the streamer's
// on-failure destination (also in the queue StreamerFailureQueue, as
// AWS's records).
func (p *Pipeline) StreamerFailures() []poller.FailedBatch {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]poller.FailedBatch(nil), p.streamerFailures...)
}

func (p *Pipeline) logFile(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(p.Opts.WorkDir, name))
	if err == nil {
		p.logFiles = append(p.logFiles, f)
	}
	return f, err
}

// Binaries are the bootstraps of the pipeline's functions.
type Binaries struct {
	Streamer, Forwarder, Planner, Converter string
}

// functionNames are the functions the local pipeline runs, by their
// directories under functions/.
var functionNames = []string{"streamer", "forwarder", "exportplanner", ConverterFunction}

// BinariesIn names the bootstraps BuildFunctions puts in dir.
func BinariesIn(dir string) Binaries {
	b := func(fn string) string { return filepath.Join(dir, fn, "bootstrap") }
	return Binaries{Streamer: b("streamer"), Forwarder: b("forwarder"), Planner: b("exportplanner"), Converter: b(ConverterFunction)}
}

// BuildFunctions builds every function's bootstrap for this machine into
// dir/<function>/bootstrap, with Lambda's flags: one go build, which
// builds them in parallel.
func BuildFunctions(root, dir string) (Binaries, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("build directory: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return Binaries{}, fmt.Errorf("build directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	args := append(append([]string{"build"}, lambdabuild.Flags...), "-o", tmp+string(filepath.Separator))
	for _, fn := range functionNames {
		args = append(args, "./functions/"+fn)
	}
	// Lambda's flags, for this machine rather than arm64 Linux.
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), lambdabuild.HostEnv...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return Binaries{}, fmt.Errorf("build the functions: %v\n%s", err, b)
	}
	for _, fn := range functionNames {
		if err := os.MkdirAll(filepath.Join(dir, fn), 0o755); err != nil {
			return Binaries{}, err
		}
		if err := os.Rename(filepath.Join(tmp, fn), filepath.Join(dir, fn, "bootstrap")); err != nil {
			return Binaries{}, fmt.Errorf("build %s: %w", fn, err)
		}
	}
	return BinariesIn(dir), nil
}

// Start starts every part and returns once the pipeline runs.
func Start(ctx context.Context, opts Options) (_ *Pipeline, err error) {
	opts.defaults()
	p := &Pipeline{Opts: opts, ExportPrefix: backfill.DefaultExportPrefix(opts.Prefix)}
	defer func() {
		if err != nil {
			p.Stop() // what started so far; p itself is not returned
		}
	}()
	tools, err := FindTools(opts.Root)
	if err != nil {
		return nil, err
	}
	var bins Binaries
	if opts.FunctionsDir != "" {
		bins = BinariesIn(opts.FunctionsDir)
	} else if bins, err = BuildFunctions(opts.Root, filepath.Join(opts.WorkDir, "functions")); err != nil {
		return nil, err
	}
	ddbLog, err := p.logFile("dynamodb-local.log")
	if err != nil {
		return nil, err
	}
	if p.DDB, err = StartDynamoDBLocal(ctx, tools, ddbLog); err != nil {
		return nil, err
	}
	// The servers' own keys: the endpoints' recorders sign every request
	// over to them, and the exports endpoint signs its own calls with them.
	creds := credentials.NewStaticCredentialsProvider(S3AccessKey, S3SecretKey, "")
	p.Requests = requestlog.New(accessKeys())
	// The tests' own clients sign as the harness.
	awsCfg := aws.Config{Region: Region, Credentials: credentialsOf(Harness)}
	if p.endpoints.streams, err = p.serveProxy("http://"+p.DDB.Addr, S3AccessKey); err != nil {
		return nil, err
	}
	p.Streams = dynamodbstreams.NewFromConfig(awsCfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(p.endpoints.streams) })

	// The streamer's and the converter's on-failure queues, on an SQS
	// endpoint the SDK speaks to.
	p.SQS = sqsapi.New()
	p.SQS.CreateQueue(StreamerFailureQueue)
	p.SQS.CreateQueue(ConverterFailureQueue)
	p.SQS.CreateQueue(PlannerFailureQueue)
	p.SQS.CreateQueue(ForwarderFailureQueue)
	sqsSrv := p.serve(p.Requests.Handler(p.SQS, ""), false)
	p.endpoints.sqs = sqsSrv.URL
	p.StreamerFailureQueueURL = sqsapi.URL(sqsSrv.URL, StreamerFailureQueue)
	p.ConverterFailureQueueURL = sqsapi.URL(sqsSrv.URL, ConverterFailureQueue)
	p.PlannerFailureQueueURL = sqsapi.URL(sqsSrv.URL, PlannerFailureQueue)
	p.ForwarderFailureQueueURL = sqsapi.URL(sqsSrv.URL, ForwarderFailureQueue)
	p.SQSClient = sqs.NewFromConfig(awsCfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(sqsSrv.URL) })

	p.PlannerRoute = &eventbus.Route{Name: "export planner", Rule: eventrule.ExportManifest(opts.Bucket, p.ExportPrefix),
		Retries: 2, RetryDelay: 300 * time.Millisecond,
		// As the deployed planner's on-failure destination.
		OnFailure: func(ev []byte, attempts int, fnErr error) {
			rec, err := lambdarecord.Invocation{FunctionARN: FunctionARN(PlannerFunction) + ":$LATEST",
				Payload: ev, Attempts: attempts, ErrorPayload: lambdarecord.ErrorPayload(fnErr), RequestID: lambdarecord.NewRequestID(),
				At: time.Now()}.Record()
			if err == nil {
				p.destination(PlannerPrincipal, p.PlannerFailureQueueURL)
				_, _ = p.SQS.Send(PlannerFailureQueue, string(rec)) // unsent, it stays in PlannerRoute.Failed
			}
		}}
	p.Relay = &eventbus.Relay{Bucket: opts.Bucket, Prefix: opts.Prefix, Retries: 2,
		RetryDelay: 300 * time.Millisecond, Duplicate: opts.DuplicateEvents, Routes: []*eventbus.Route{p.PlannerRoute},
		// As the deployed forwarder's on-failure destination.
		OnFailure: func(ev []byte, attempts int, fnErr error) {
			rec, err := lambdarecord.Invocation{FunctionARN: FunctionARN(ForwarderFunction) + ":$LATEST",
				Payload: ev, Attempts: attempts, ErrorPayload: lambdarecord.ErrorPayload(fnErr), RequestID: lambdarecord.NewRequestID(),
				At: time.Now()}.Record()
			if err == nil {
				p.destination(ForwarderPrincipal, p.ForwarderFailureQueueURL)
				_, _ = p.SQS.Send(ForwarderFailureQueue, string(rec)) // unsent, it stays in Relay.Failed
			}
		}}
	relaySrv := p.serve(p.Relay, false)
	s3Log, err := p.logFile("versitygw.log")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(opts.WorkDir, "s3")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	if p.S3, err = StartVersity(ctx, tools, dataDir, relaySrv.URL, s3Log); err != nil {
		return nil, err
	}
	// Clients reach versitygw through a recorder; the fault proxies
	// forward to it directly, behind their own recorders.
	versity := "http://" + p.S3.Addr
	s3URL, err := p.serveProxy(versity, S3AccessKey)
	if err != nil {
		return nil, err
	}
	p.endpoints.s3 = s3URL
	p.S3Client = s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(s3URL); o.UsePathStyle = true })
	if _, err := p.S3Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(opts.Bucket)}); err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	var faultSrv, converterFaultSrv, exportWritesSrv *httptest.Server
	for _, proxy := range []struct {
		p   **s3faults.Proxy
		srv **httptest.Server
	}{{&p.S3Faults, &faultSrv}, {&p.ConverterS3Faults, &converterFaultSrv}, {&p.exportWrites, &exportWritesSrv}} {
		if *proxy.p, err = s3faults.New(versity); err != nil {
			return nil, err
		}
		*proxy.srv = p.serve(p.Requests.Handler(*proxy.p, S3AccessKey), false)
	}

	// DynamoDB's export API in front of DynamoDB Local, writing through
	// its own proxy; every DynamoDB client but the poller's goes through
	// it, as the SDK in AWS reaches one DynamoDB endpoint.
	// DynamoDB writes an export with the permissions of the principal that
	// started it: the export's writes sign with that principal's key.
	exportS3 := func(accessKeyID string) exports.ObjectWriter {
		return s3.NewFromConfig(aws.Config{Region: awsCfg.Region, Credentials: credentials.NewStaticCredentialsProvider(accessKeyID, S3SecretKey, "")},
			func(o *s3.Options) { o.BaseEndpoint = aws.String(exportWritesSrv.URL); o.UsePathStyle = true })
	}
	if p.Exports, err = exports.New(exports.Config{Upstream: "http://" + p.DDB.Addr, Credentials: creds, Region: awsCfg.Region,
		S3As: exportS3, DataFiles: opts.ExportDataFiles, StreamLabelBackdate: streamLabelBackdate}); err != nil {
		return nil, err
	}
	exportsSrv := p.serve(p.Requests.Handler(p.Exports, S3AccessKey), false)
	p.endpoints.dynamodb = exportsSrv.URL
	p.DynamoDB = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(exportsSrv.URL) })
	if p.StreamARN, err = createTable(ctx, p.DynamoDB, opts.Table, opts.Key, opts.Preload); err != nil {
		return nil, err
	}

	secret := opts.DatabricksSecret
	forwarderEnv := map[string]string{}
	if secret == "" {
		p.Workspace = fakedatabricks.New(append([]fakedatabricks.Option{fakedatabricks.WithToken("local-token")}, opts.WorkspaceOptions...)...)
		wsSrv := p.serve(p.Workspace, true)
		ca := filepath.Join(opts.WorkDir, "databricks-ca.pem")
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: wsSrv.Certificate().Raw})
		if err := os.WriteFile(ca, pemBytes, 0o644); err != nil {
			return nil, err
		}
		forwarderEnv["SSL_CERT_FILE"] = ca // the forwarder trusts the fake's certificate
		secret = `{"host":"` + wsSrv.URL + `","token":"local-token"}`
	}
	p.Secrets = secretsmanager.New(map[string]string{SecretName: secret})
	smSrv := p.serve(p.Requests.Handler(p.Secrets, ""), false)
	p.endpoints.secrets = smSrv.URL

	// The converter is served to the planner by the local Invoke
	// endpoint, which queues its asynchronous invocations as Lambda does
	// and, as the deployed function's destination, sends AWS's record of
	// each event given up on to the converter's on-failure queue.
	if p.Lambda, err = lambdaapi.New(map[string]lambdaapi.Function{ConverterFunction: {
		Invoke: func(ctx context.Context, payload []byte) ([]byte, error, error) {
			return invoke(ctx, p.Converter, payload)
		},
		Retries: converterRetries, RetryDelay: asyncRetryDelay,
		OnFailure: func(record []byte) error {
			p.destination(ConverterPrincipal, p.ConverterFailureQueueURL)
			_, err := p.SQS.Send(ConverterFailureQueue, string(record))
			return err
		},
	}, PlannerFunction: {
		// Invoked here only synchronously, by ddbstream redrive; the
		// planner's own trigger is the rule (PlannerRoute).
		Invoke: func(ctx context.Context, payload []byte) ([]byte, error, error) {
			return invoke(ctx, p.Planner, payload)
		},
	}, ForwarderFunction: {
		// Its configuration only, which ddbstream replay reads
		// (GetFunctionConfiguration): its rule invokes it (the Relay).
		// The map is filled below, before any request.
		Environment: forwarderEnv,
	}}); err != nil {
		return nil, err
	}
	lambdaSrv := p.serve(p.Requests.Handler(p.Lambda, ""), false)
	p.endpoints.lambda = lambdaSrv.URL
	p.LambdaClient = lambda.NewFromConfig(awsCfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(lambdaSrv.URL) })

	common := map[string]string{
		"AWS_REGION": Region, "AWS_SECRET_ACCESS_KEY": S3SecretKey,
		"S3_FORCE_PATH_STYLE": "true", "AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_EC2_METADATA_DISABLED": "true",
	}
	streamerEnv := map[string]string{
		"BUCKET_NAME": opts.Bucket, "S3_PREFIX": opts.Prefix, "AWS_ENDPOINT_URL_S3": faultSrv.URL, "DEADLINE_MARGIN": "2s",
	}
	p.streamerS3, p.streamerEnv, p.forwarderEnv = faultSrv.URL, streamerEnv, forwarderEnv
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": s3URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER": smSrv.URL, "DATABRICKS_SECRET_ID": SecretName,
		"DATABRICKS_VOLUME_PATH": opts.VolumePath, "KEY_PREFIX": objectkey.DataPrefix(opts.Prefix), "KEY_SUFFIX": objectkey.Suffix,
		"RETRY_BASE_DELAY": "100ms", "RETRY_MAX_DELAY": "2s", "DEADLINE_MARGIN": "1s",
	} {
		forwarderEnv[k] = v
	}
	// The planner and converter get what the stack gives them
	// (infra/pipeline: plannerEnv, converterEnv), with the local endpoints.
	plannerEnv := map[string]string{
		"CONVERTER_FUNCTION":        FunctionARN(ConverterFunction),
		"AWS_ENDPOINT_URL_S3":       s3URL,
		"AWS_ENDPOINT_URL_DYNAMODB": exportsSrv.URL,
		"AWS_ENDPOINT_URL_LAMBDA":   lambdaSrv.URL,
		// What it converts: this table's exports into this bucket and
		// export prefix; anything else it skips.
		"BUCKET_NAME": opts.Bucket, "EXPORT_PREFIX": p.ExportPrefix, "TABLE_NAME": opts.Table,
	}
	converterEnv := map[string]string{
		"BUCKET_NAME": opts.Bucket, "S3_PREFIX": opts.Prefix, "AWS_ENDPOINT_URL_S3": converterFaultSrv.URL, "DEADLINE_MARGIN": "2s",
	}
	if format, ok := opts.StreamerEnv["IMAGE_FORMAT"]; ok {
		converterEnv["IMAGE_FORMAT"] = format // the streamer's, as the stack sets both
	}
	for _, env := range []struct {
		into  map[string]string
		extra map[string]string
	}{{streamerEnv, opts.StreamerEnv}, {forwarderEnv, opts.ForwarderEnv}, {plannerEnv, opts.PlannerEnv}, {converterEnv, opts.ConverterEnv}} {
		for _, m := range []map[string]string{common, env.extra} {
			for k, v := range m {
				env.into[k] = v
			}
		}
	}
	for _, fn := range []struct {
		f       **runtimeapi.Function
		logs    **SyncBuffer
		name    string
		bin     string
		env     map[string]string
		timeout time.Duration
	}{
		{&p.Streamer, &p.StreamerLogs, StreamerFunction, bins.Streamer, streamerEnv, opts.StreamerTimeout},
		{&p.Forwarder, &p.ForwarderLogs, ForwarderFunction, bins.Forwarder, forwarderEnv, time.Minute},
		{&p.Planner, &p.PlannerLogs, PlannerFunction, bins.Planner, plannerEnv, time.Minute},
		{&p.Converter, &p.ConverterLogs, ConverterFunction, bins.Converter, converterEnv, time.Minute},
	} {
		// Each function signs as its execution role.
		fn.env["AWS_ACCESS_KEY_ID"] = AccessKey(functionPrincipals[fn.name])
		f, err := p.logFile(fn.name + ".log")
		if err != nil {
			return nil, err
		}
		*fn.logs = &SyncBuffer{w: f}
		if *fn.f, err = runtimeapi.Start(runtimeapi.Config{Name: fn.name, Bootstrap: fn.bin, Env: fn.env,
			Timeout: fn.timeout, Output: *fn.logs}); err != nil {
			return nil, err
		}
	}
	// EventBridge invokes each rule's target as events.amazonaws.com, with
	// the rule's ARN as aws:SourceArn, which the function's resource
	// policy must allow.
	p.Relay.Invoke = func(ctx context.Context, payload []byte) (error, error) {
		p.Requests.Add(EventsPrincipal, iam.Call{Service: "lambda", Operation: "Invoke", Function: FunctionARN(ForwarderFunction), SourceARN: RuleARN(ForwarderRule)})
		_, fnErr, err := invoke(ctx, p.Forwarder, payload)
		return fnErr, err
	}
	p.PlannerRoute.Invoke = func(ctx context.Context, payload []byte) (error, error) {
		p.Requests.Add(EventsPrincipal, iam.Call{Service: "lambda", Operation: "Invoke", Function: FunctionARN(PlannerFunction), SourceARN: RuleARN(PlannerRule)})
		_, fnErr, err := invoke(ctx, p.Planner, payload)
		return fnErr, err
	}
	// The event source mapping reads the stream with the streamer's
	// execution role, which must also allow dynamodb:ListStreams: Lambda
	// refuses a mapping without it
	// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/iam-policy-example-lamda-process-dynamodb-streams.html).
	// The poller knows its stream and lists none, so the call is recorded
	// as the mapping's.
	p.Requests.Add(StreamerPrincipal, iam.Call{Service: "dynamodbstreams", Operation: "ListStreams"})
	p.Poller = poller.New(poller.Config{
		StreamARN: p.StreamARN, FunctionARN: StreamerFunctionARN, Endpoint: p.endpoints.streams, Region: Region, Credentials: credentialsOf(StreamerPrincipal),
		BatchSize: opts.BatchSize, BatchingWindow: opts.BatchingWindow, MaxRetryAttempts: opts.MaxRetryAttempts,
		BisectOnError: opts.BisectOnError, RetryDelay: 200 * time.Millisecond, Mutate: opts.Mutate,
		Invoke: func(ctx context.Context, payload []byte) ([]byte, error, error) {
			return invoke(ctx, p.Streamer, payload)
		},
		OnFailure: func(b poller.FailedBatch) {
			p.mu.Lock()
			p.streamerFailures = append(p.streamerFailures, b)
			p.mu.Unlock()
			// The destination, as the deployed mapping's: AWS's record in
			// the streamer's on-failure queue.
			rec, err := b.Record()
			if err == nil {
				p.destination(StreamerPrincipal, p.StreamerFailureQueueURL)
				_, err = p.SQS.Send(StreamerFailureQueue, string(rec))
			}
			if err != nil {
				fmt.Fprintln(p.StreamerLogs, "on-failure destination:", err)
			}
		},
	})
	// The poller is the stream's event source mapping: listed by the
	// Lambda endpoint as AWS lists it, reading from TRIM_HORIZON since now.
	p.Lambda.AddMapping(lambdaapi.Mapping{UUID: "00000000-0000-4000-8000-000000000001", EventSourceARN: p.StreamARN,
		FunctionARN: StreamerFunctionARN, State: "Enabled", StartingPosition: "TRIM_HORIZON", LastModified: time.Now()})
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.Relay.Run(runCtx) }()
	go func() {
		defer p.wg.Done()
		if err := p.Poller.Run(runCtx); err != nil {
			fmt.Fprintln(p.StreamerLogs, "poller stopped:", err)
		}
	}()
	return p, nil
}

// invoke runs one invocation of f, telling a function error (fnErr) from
// an invocation that could not run (err).
func invoke(ctx context.Context, f *runtimeapi.Function, payload []byte) (resp []byte, fnErr, err error) {
	r, err := f.Invoke(ctx, payload)
	if err != nil {
		return nil, nil, err
	}
	if r.Error != nil {
		return nil, r.Error, nil
	}
	return r.Payload, nil, nil
}

func (p *Pipeline) serve(h interface {
	ServeHTTP(w http.ResponseWriter, r *http.Request)
}, tls bool) *httptest.Server {
	var s *httptest.Server
	if tls {
		s = httptest.NewTLSServer(h)
	} else {
		s = httptest.NewServer(h)
	}
	p.servers = append(p.servers, s)
	return s
}

// Stop stops everything; it is safe to call more than once.
func (p *Pipeline) Stop() {
	for _, proxy := range []*s3faults.Proxy{p.S3Faults, p.ConverterS3Faults, p.exportWrites} {
		if proxy != nil {
			proxy.Close() // held writes end, so that their server can close
		}
	}
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
		p.cancel = nil
	}
	if p.Lambda != nil {
		p.Lambda.Close()
	}
	for _, f := range []*runtimeapi.Function{p.Streamer, p.Forwarder, p.Planner, p.Converter} {
		if f != nil {
			_ = f.Close()
		}
	}
	if p.Exports != nil {
		p.Exports.Close()
	}
	for _, s := range p.servers {
		s.Close()
	}
	p.servers = nil
	p.S3.Stop()
	p.DDB.Stop()
	for _, f := range p.logFiles {
		_ = f.Close()
	}
	p.logFiles = nil
}

// createTable creates the table with its stream (NEW_AND_OLD_IMAGES, as
// the stack enables it). With preload, the items are written first and
// the stream enabled after them, so that no stream record carries them.
func createTable(ctx context.Context, c *dynamodb.Client, name string, key KeySchema, preload func(context.Context, *dynamodb.Client, string) error) (string, error) {
	in := &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String(key.PartitionKey), AttributeType: key.PartitionType}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String(key.PartitionKey), KeyType: dtypes.KeyTypeHash}},
	}
	if key.SortKey != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, dtypes.AttributeDefinition{AttributeName: aws.String(key.SortKey), AttributeType: key.SortType})
		in.KeySchema = append(in.KeySchema, dtypes.KeySchemaElement{AttributeName: aws.String(key.SortKey), KeyType: dtypes.KeyTypeRange})
	}
	stream := &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewAndOldImages}
	if preload == nil {
		in.StreamSpecification = stream
	}
	out, err := c.CreateTable(ctx, in)
	if err != nil {
		return "", fmt.Errorf("create table %s: %w", name, err)
	}
	desc := out.TableDescription
	if preload != nil {
		if err := preload(ctx, c, name); err != nil {
			return "", fmt.Errorf("preload table %s: %w", name, err)
		}
		up, err := c.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(name), StreamSpecification: stream})
		if err != nil {
			return "", fmt.Errorf("enable the stream of table %s: %w", name, err)
		}
		desc = up.TableDescription
	}
	if desc == nil || desc.LatestStreamArn == nil {
		return "", errors.New("table has no stream")
	}
	return *desc.LatestStreamArn, nil
}
