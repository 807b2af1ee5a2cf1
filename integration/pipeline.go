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
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/integration/eventbus"
	"github.com/ddbstream/pipeline/integration/poller"
	"github.com/ddbstream/pipeline/integration/runtimeapi"
	"github.com/ddbstream/pipeline/integration/s3faults"
	"github.com/ddbstream/pipeline/integration/secretsmanager"
	"github.com/ddbstream/pipeline/internal/lambdabuild"
	"github.com/ddbstream/pipeline/internal/objectkey"
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
	// DuplicateEvents delivers every S3 event to the forwarder twice.
	DuplicateEvents bool
	// StreamerEnv and ForwarderEnv add to the functions' environments.
	StreamerEnv, ForwarderEnv map[string]string
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
}

// SecretName is the local Databricks secret's name.
const SecretName = "local/databricks"

// Pipeline is a running local pipeline.
type Pipeline struct {
	Opts      Options
	DDB, S3   *Service
	S3Faults  *s3faults.Proxy
	Secrets   *secretsmanager.Endpoint
	Workspace *fakedatabricks.Workspace // nil with a real workspace
	Streamer  *runtimeapi.Function
	Forwarder *runtimeapi.Function
	Poller    *poller.Poller
	Relay     *eventbus.Relay
	StreamARN string
	DynamoDB  *dynamodb.Client
	S3Client  *s3.Client

	StreamerLogs, ForwarderLogs *SyncBuffer
	mu                          sync.Mutex
	streamerFailures            []poller.FailedBatch
	servers                     []*httptest.Server
	cancel                      context.CancelFunc
	wg                          sync.WaitGroup
	logFiles                    []*os.File
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
// on-failure destination.
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

// BuildFunctions builds both bootstraps for this machine into dir.
func BuildFunctions(root, dir string) (streamer, forwarder string, err error) {
	for _, fn := range []string{"streamer", "forwarder"} {
		out := filepath.Join(dir, fn, "bootstrap")
		// Lambda's flags, for this machine rather than arm64 Linux.
		cmd := exec.Command("go", append(append([]string{"build"}, lambdabuild.Flags...), "-o", out, "./functions/"+fn)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), lambdabuild.HostEnv...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("build %s: %v\n%s", fn, err, b)
		}
	}
	return filepath.Join(dir, "streamer", "bootstrap"), filepath.Join(dir, "forwarder", "bootstrap"), nil
}

// Start starts every part and returns once the pipeline runs.
func Start(ctx context.Context, opts Options) (_ *Pipeline, err error) {
	opts.defaults()
	p := &Pipeline{Opts: opts}
	defer func() {
		if err != nil {
			p.Stop() // what started so far; p itself is not returned
		}
	}()
	tools, err := FindTools(opts.Root)
	if err != nil {
		return nil, err
	}
	streamerBin, forwarderBin, err := BuildFunctions(opts.Root, filepath.Join(opts.WorkDir, "functions"))
	if err != nil {
		return nil, err
	}
	ddbLog, err := p.logFile("dynamodb-local.log")
	if err != nil {
		return nil, err
	}
	if p.DDB, err = StartDynamoDBLocal(ctx, tools, ddbLog); err != nil {
		return nil, err
	}
	creds := credentials.NewStaticCredentialsProvider(S3AccessKey, S3SecretKey, "")
	awsCfg := aws.Config{Region: "us-east-1", Credentials: creds}
	p.DynamoDB = dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String("http://" + p.DDB.Addr) })
	if p.StreamARN, err = createTable(ctx, p.DynamoDB, opts.Table); err != nil {
		return nil, err
	}

	p.Relay = &eventbus.Relay{Bucket: opts.Bucket, Prefix: opts.Prefix, Retries: 2,
		RetryDelay: 300 * time.Millisecond, Duplicate: opts.DuplicateEvents}
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
	s3URL := "http://" + p.S3.Addr
	p.S3Client = s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(s3URL); o.UsePathStyle = true })
	if _, err := p.S3Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(opts.Bucket)}); err != nil {
		return nil, fmt.Errorf("create bucket: %w", err)
	}
	if p.S3Faults, err = s3faults.New(s3URL); err != nil {
		return nil, err
	}
	faultSrv := p.serve(p.S3Faults, false)

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
	smSrv := p.serve(p.Secrets, false)

	common := map[string]string{
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": S3AccessKey, "AWS_SECRET_ACCESS_KEY": S3SecretKey,
		"S3_FORCE_PATH_STYLE": "true", "AWS_LAMBDA_LOG_LEVEL": "INFO", "AWS_EC2_METADATA_DISABLED": "true",
	}
	streamerEnv := map[string]string{
		"BUCKET_NAME": opts.Bucket, "S3_PREFIX": opts.Prefix, "AWS_ENDPOINT_URL_S3": faultSrv.URL, "DEADLINE_MARGIN": "2s",
	}
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_S3": s3URL, "AWS_ENDPOINT_URL_SECRETS_MANAGER": smSrv.URL, "DATABRICKS_SECRET_ID": SecretName,
		"DATABRICKS_VOLUME_PATH": opts.VolumePath, "KEY_PREFIX": objectkey.DataPrefix(opts.Prefix), "KEY_SUFFIX": objectkey.Suffix,
		"RETRY_BASE_DELAY": "100ms", "RETRY_MAX_DELAY": "2s", "DEADLINE_MARGIN": "1s",
	} {
		forwarderEnv[k] = v
	}
	for _, m := range []map[string]string{common, opts.StreamerEnv} {
		for k, v := range m {
			streamerEnv[k] = v
		}
	}
	for _, m := range []map[string]string{common, opts.ForwarderEnv} {
		for k, v := range m {
			forwarderEnv[k] = v
		}
	}
	sLog, err := p.logFile("streamer.log")
	if err != nil {
		return nil, err
	}
	fLog, err := p.logFile("forwarder.log")
	if err != nil {
		return nil, err
	}
	p.StreamerLogs, p.ForwarderLogs = &SyncBuffer{w: sLog}, &SyncBuffer{w: fLog}
	if p.Streamer, err = runtimeapi.Start(runtimeapi.Config{Name: "streamer", Bootstrap: streamerBin, Env: streamerEnv,
		Timeout: opts.StreamerTimeout, Output: p.StreamerLogs}); err != nil {
		return nil, err
	}
	if p.Forwarder, err = runtimeapi.Start(runtimeapi.Config{Name: "forwarder", Bootstrap: forwarderBin, Env: forwarderEnv,
		Timeout: 60 * time.Second, Output: p.ForwarderLogs}); err != nil {
		return nil, err
	}
	p.Relay.Invoke = func(ctx context.Context, payload []byte) (error, error) {
		r, err := p.Forwarder.Invoke(ctx, payload)
		if err != nil {
			return nil, err
		}
		if r.Error != nil {
			return r.Error, nil
		}
		return nil, nil
	}
	p.Poller = poller.New(poller.Config{
		StreamARN: p.StreamARN, Endpoint: "http://" + p.DDB.Addr, Region: "us-east-1", Credentials: creds,
		BatchSize: opts.BatchSize, BatchingWindow: opts.BatchingWindow, MaxRetryAttempts: opts.MaxRetryAttempts,
		BisectOnError: opts.BisectOnError, RetryDelay: 200 * time.Millisecond, Mutate: opts.Mutate,
		Invoke: func(ctx context.Context, payload []byte) ([]byte, error, error) {
			r, err := p.Streamer.Invoke(ctx, payload)
			if err != nil {
				return nil, nil, err
			}
			if r.Error != nil {
				return nil, r.Error, nil
			}
			return r.Payload, nil, nil
		},
		OnFailure: func(b poller.FailedBatch) {
			p.mu.Lock()
			p.streamerFailures = append(p.streamerFailures, b)
			p.mu.Unlock()
		},
	})
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
	if p.S3Faults != nil {
		p.S3Faults.Close() // held writes end, so that their server can close
	}
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
		p.cancel = nil
	}
	for _, f := range []*runtimeapi.Function{p.Streamer, p.Forwarder} {
		if f != nil {
			_ = f.Close()
		}
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

func createTable(ctx context.Context, c *dynamodb.Client, name string) (string, error) {
	out, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name), BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dtypes.KeyTypeHash}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewAndOldImages},
	})
	if err != nil {
		return "", fmt.Errorf("create table %s: %w", name, err)
	}
	if out.TableDescription.LatestStreamArn == nil {
		return "", errors.New("table has no stream")
	}
	return *out.TableDescription.LatestStreamArn, nil
}
