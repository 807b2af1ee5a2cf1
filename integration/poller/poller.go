package poller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ddbstream/pipeline/integration/internal/lambdarecord"
	"github.com/ddbstream/pipeline/integration/internal/wake"
)

// Invoker runs the function on one event. fnErr reports a function error
// (crash, timeout, returned error); err stops the poller.
type Invoker func(ctx context.Context, payload []byte) (resp []byte, fnErr error, err error)

// FailedBatch is a batch the mapping gave up on: what its on-failure
// destination receives. Record renders it as the record AWS sends, the
// one ddbstream redrive reads.
type FailedBatch struct {
	ShardID                                string
	StartSequenceNumber, EndSequenceNumber string
	BatchSize                              int
	// Reason is why the last invocation failed (the model's own note; the
	// record carries only responseContext.functionError).
	Reason string
	// StreamARN and FunctionARN name the mapping's stream and function.
	StreamARN, FunctionARN string
	// FirstArrival and LastArrival are the first and last records'
	// ApproximateCreationDateTime (zero when a record had none).
	FirstArrival, LastArrival time.Time
	// Invocations counts the invocations that carried these records
	// before the mapping gave up (approximateInvokeCount).
	Invocations int
	// FunctionError says the last invocation ended in a function error,
	// rather than reporting batch item failures.
	FunctionError bool
	// RequestID names the failure record; At is when the mapping gave up.
	RequestID string
	At        time.Time
}

// ConditionRetryAttemptsExhausted is the record's condition when the
// mapping gives up after MaxRetryAttempts, the only limit the model has
// (no MaximumRecordAgeInSeconds).
const ConditionRetryAttemptsExhausted = "RetryAttemptsExhausted"

// onFailureRecord is the JSON the event source mapping sends its
// on-failure destination for a DynamoDB stream batch, field for field as
// AWS documents it
// (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html):
// the batch's place in the stream, never its records.
type onFailureRecord struct {
	RequestContext     lambdarecord.RequestContext  `json:"requestContext"`
	ResponseContext    lambdarecord.ResponseContext `json:"responseContext"`
	Version            string                       `json:"version"`
	Timestamp          string                       `json:"timestamp"`
	DDBStreamBatchInfo struct {
		ShardID                         string `json:"shardId"`
		StartSequenceNumber             string `json:"startSequenceNumber"`
		EndSequenceNumber               string `json:"endSequenceNumber"`
		ApproximateArrivalOfFirstRecord string `json:"approximateArrivalOfFirstRecord"`
		ApproximateArrivalOfLastRecord  string `json:"approximateArrivalOfLastRecord"`
		BatchSize                       int    `json:"batchSize"`
		StreamARN                       string `json:"streamArn"`
	} `json:"DDBStreamBatchInfo"`
}

// Record renders the batch as the on-failure record AWS sends: an SQS
// destination receives it as the message body. The timestamps are RFC
// 3339 in UTC, the failure's with milliseconds, the arrivals' in whole
// seconds as in AWS's example; redrive reads only the batch's place, not
// them. A function error is "Unhandled", as Lambda reports an error a
// function returned or a crash; a batch that only reported item failures
// has none.
func (b FailedBatch) Record() ([]byte, error) {
	r := onFailureRecord{
		RequestContext: lambdarecord.RequestContext{RequestID: b.RequestID, FunctionARN: b.FunctionARN,
			Condition: ConditionRetryAttemptsExhausted, ApproximateInvokeCount: b.Invocations},
		ResponseContext: lambdarecord.Response(b.FunctionError),
		Version:         lambdarecord.Version, Timestamp: lambdarecord.Timestamp(b.At),
	}
	info := &r.DDBStreamBatchInfo
	info.ShardID, info.StartSequenceNumber, info.EndSequenceNumber = b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber
	info.ApproximateArrivalOfFirstRecord = b.FirstArrival.UTC().Format("2006-01-02T15:04:05Z")
	info.ApproximateArrivalOfLastRecord = b.LastArrival.UTC().Format("2006-01-02T15:04:05Z")
	info.BatchSize, info.StreamARN = b.BatchSize, b.StreamARN
	out, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("on-failure record: %w", err)
	}
	return out, nil
}

// Config is the mapping's configuration.
type Config struct {
	StreamARN string
	// FunctionARN names the function in on-failure records.
	FunctionARN string
	// Endpoint is DynamoDB's URL, such as http://127.0.0.1:8000.
	Endpoint       string
	Region         string
	Credentials    aws.CredentialsProvider
	BatchSize      int
	BatchingWindow time.Duration
	// MaxRetryAttempts bounds retries of one batch (or half of it).
	MaxRetryAttempts int
	BisectOnError    bool
	// RetryDelay paces retries, as the mapping spaces them. Nothing waits
	// on it: Stats and Changed report when a retry has happened.
	RetryDelay time.Duration
	Invoke     Invoker
	// OnFailure is the on-failure destination: it receives each batch the
	// mapping gives up on before the batch counts as processed, so that a
	// waiter on Stats finds it there.
	OnFailure func(FailedBatch)
	// Mutate, if set, may change a record before it is sent (fault
	// injection: a poison record).
	Mutate func(record []byte) []byte
}

// Stats counts what the poller did.
type Stats struct {
	Records, Invocations, FunctionErrors, PartialFailures, Retries, Discarded int
	// Processed counts records whose batch ended: written or discarded.
	Processed int
}

// Poller is one event source mapping.
type Poller struct {
	cfg     Config
	sdk     *dynamodbstreams.Client
	http    *http.Client
	signer  *v4.Signer
	mu      sync.Mutex
	stats   Stats
	changed wake.Signal
}

// New returns a poller.
func New(cfg Config) *Poller {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 100 * time.Millisecond
	}
	sdk := dynamodbstreams.NewFromConfig(aws.Config{Region: cfg.Region, Credentials: cfg.Credentials},
		func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(cfg.Endpoint) })
	return &Poller{cfg: cfg, sdk: sdk, http: &http.Client{Timeout: 30 * time.Second}, signer: v4.NewSigner()}
}

// Stats returns the counters so far.
func (p *Poller) Stats() Stats { p.mu.Lock(); defer p.mu.Unlock(); return p.stats }

// Changed returns a channel closed when Stats next changes, so that a
// waiter (integration.Pipeline.Drain) wakes on progress instead of
// polling.
func (p *Poller) Changed() <-chan struct{} { return p.changed.C() }

func (p *Poller) count(f func(*Stats)) {
	p.mu.Lock()
	f(&p.stats)
	p.mu.Unlock()
	p.changed.Notify()
}

// discoverEvery and pollEvery pace the mapping's own polling, as the
// Lambda service polls a stream several times a second: they are the
// model's behaviour, and no test waits on them (Changed reports progress).
const (
	discoverEvery = time.Second
	pollEvery     = 50 * time.Millisecond
)

// Run polls until ctx ends, a shard at a time per lineage.
func (p *Poller) Run(ctx context.Context) error {
	started := map[string]bool{}
	finished := map[string]chan struct{}{}
	errc := make(chan error, 1)
	for {
		desc, err := p.sdk.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(p.cfg.StreamARN)})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("describe stream: %w", err)
		}
		for _, sh := range desc.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if started[id] {
				continue
			}
			started[id] = true
			done := make(chan struct{})
			finished[id] = done
			parent := finished[aws.ToString(sh.ParentShardId)]
			go func() {
				defer close(done)
				if parent != nil {
					select {
					case <-parent: // a child's records come after its parent's
					case <-ctx.Done():
						return
					}
				}
				if err := p.shard(ctx, id); err != nil && ctx.Err() == nil {
					select {
					case errc <- err:
					default:
					}
				}
			}()
		}
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
			return nil
		case <-time.After(discoverEvery):
		}
	}
}

type record struct {
	raw []byte
	seq string
	// created is the record's ApproximateCreationDateTime, for the
	// on-failure record's arrival times.
	created time.Time
}

func (p *Poller) shard(ctx context.Context, shardID string) error {
	it, err := p.sdk.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(p.cfg.StreamARN), ShardId: aws.String(shardID), ShardIteratorType: "TRIM_HORIZON"})
	if err != nil {
		return fmt.Errorf("shard %s iterator: %w", shardID, err)
	}
	iter := aws.ToString(it.ShardIterator)
	var buf []record
	var first time.Time
	for {
		if iter != "" && len(buf) < p.cfg.BatchSize {
			recs, next, err := p.readRecords(ctx, iter, p.cfg.BatchSize-len(buf))
			if err != nil {
				return err
			}
			iter = next
			if len(recs) > 0 && len(buf) == 0 {
				first = time.Now()
			}
			buf = append(buf, recs...)
			p.count(func(s *Stats) { s.Records += len(recs) })
		}
		full := len(buf) >= p.cfg.BatchSize
		windowOver := len(buf) > 0 && time.Since(first) >= p.cfg.BatchingWindow
		if len(buf) > 0 && (full || windowOver || iter == "") {
			n := min(len(buf), p.cfg.BatchSize)
			if err := p.process(ctx, shardID, buf[:n]); err != nil {
				return err
			}
			buf = append(buf[:0:0], buf[n:]...)
			if len(buf) > 0 {
				first = time.Now()
			}
			continue
		}
		if iter == "" && len(buf) == 0 {
			return nil // closed shard, fully processed
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollEvery):
		}
	}
}

// getRecords calls GetRecords over HTTP, signed, and keeps each record's
// JSON as DynamoDB sent it, as the Lambda service passes it on, but for a
// userIdentity, which the event names differently (lambdaShape).
// transientError is a GetRecords that failed on the way (the connection,
// a cut answer), not one the stream refused.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// readAttempts bounds the attempts at one GetRecords that fails on the
// way: the event source mapping retries reading the stream rather than
// stop, and a shard iterator stays valid for 15 minutes
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetShardIterator.html),
// so the same one is asked again.
const readAttempts = 5

// readRecords is getRecords, asked again after RetryDelay when it fails
// on the way.
func (p *Poller) readRecords(ctx context.Context, iter string, limit int) ([]record, string, error) {
	for attempt := 1; ; attempt++ {
		recs, next, err := p.getRecords(ctx, iter, limit)
		var transient *transientError
		if err == nil || !errors.As(err, &transient) || attempt == readAttempts {
			return recs, next, err
		}
		select {
		case <-ctx.Done():
			return nil, "", nil
		case <-time.After(p.cfg.RetryDelay):
		}
	}
}

func (p *Poller) getRecords(ctx context.Context, iter string, limit int) ([]record, string, error) {
	body, _ := json.Marshal(map[string]any{"ShardIterator": iter, "Limit": min(limit, 1000)})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDBStreams_20120810.GetRecords")
	creds, err := p.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, "", err
	}
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "dynamodb", p.cfg.Region, time.Now()); err != nil {
		return nil, "", err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", nil
		}
		return nil, "", &transientError{fmt.Errorf("get records: %w", err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", &transientError{fmt.Errorf("get records: read the answer: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("get records: HTTP %d: %s", resp.StatusCode, raw)
	}
	var out struct {
		Records           []json.RawMessage `json:"Records"`
		NextShardIterator string            `json:"NextShardIterator"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, "", fmt.Errorf("get records: %w", err)
	}
	recs := make([]record, 0, len(out.Records))
	for _, r := range out.Records {
		var probe struct {
			Dynamodb struct {
				SequenceNumber              string
				ApproximateCreationDateTime json.Number
			} `json:"dynamodb"`
		}
		if err := json.Unmarshal(r, &probe); err != nil {
			return nil, "", fmt.Errorf("get records: %w", err)
		}
		r, err := lambdaShape(r)
		if err != nil {
			return nil, "", fmt.Errorf("get records: %w", err)
		}
		withARN := append([]byte(`{"eventSourceARN":`+strconvQuote(p.cfg.StreamARN)+`,`), r[1:]...)
		recs = append(recs, record{raw: withARN, seq: probe.Dynamodb.SequenceNumber, created: epochSeconds(probe.Dynamodb.ApproximateCreationDateTime)})
	}
	return recs, out.NextShardIterator, nil
}

// epochSeconds reads a stream record's ApproximateCreationDateTime, epoch
// seconds; zero when absent or not a number.
func epochSeconds(n json.Number) time.Time {
	f, err := n.Float64()
	if err != nil || n == "" {
		return time.Time{}
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64(math.Round((f-sec)*1e3))*int64(time.Millisecond)).UTC()
}

// lambdaShape renames a GetRecords record's userIdentity members to the
// names Lambda's event gives them. GetRecords answers with the API's
// Identity shape, {"PrincipalId": ..., "Type": ...}; the event the Lambda
// service builds has {"type": ..., "principalId": ...} (aws-lambda-go's
// events.DynamoDBUserIdentity, the example in AWS's "Using AWS Lambda with
// Amazon DynamoDB"), which is what the streamer reads to tell a TTL
// delete. Every other byte is kept as DynamoDB sent it: the function
// reads the record's exact text. Only TTL deletes carry a userIdentity.
func lambdaShape(raw []byte) ([]byte, error) {
	if !bytes.Contains(raw, []byte(`"userIdentity"`)) {
		return raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("a record is not a JSON object: %s", raw)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		start := dec.InputOffset() // after the key: the colon and the value follow
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		if tok != "userIdentity" {
			continue
		}
		end := dec.InputOffset()
		var id struct {
			Type        *string `json:"Type"`
			PrincipalID *string `json:"PrincipalId"`
		}
		if err := json.Unmarshal(v, &id); err != nil {
			return nil, fmt.Errorf("record's userIdentity: %w", err)
		}
		var ev bytes.Buffer
		enc := json.NewEncoder(&ev)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(struct {
			Type        *string `json:"type,omitempty"`
			PrincipalID *string `json:"principalId,omitempty"`
		}{id.Type, id.PrincipalID}); err != nil {
			return nil, fmt.Errorf("record's userIdentity: %w", err)
		}
		out := append(append(append([]byte(nil), raw[:start]...), ':'), bytes.TrimSpace(ev.Bytes())...)
		return append(out, raw[end:]...), nil
	}
	return raw, nil
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

func (p *Poller) event(batch []record) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	for i, r := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		raw := r.raw
		if p.cfg.Mutate != nil {
			raw = p.cfg.Mutate(raw)
		}
		b.Write(raw)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// process delivers one batch with the mapping's retry semantics.
func (p *Poller) process(ctx context.Context, shardID string, batch []record) error {
	type work struct {
		recs     []record
		attempts int
		// invocations counts those that carried these records.
		invocations int
	}
	queue := []work{{recs: batch}}
	for len(queue) > 0 {
		w := &queue[0]
		p.count(func(s *Stats) { s.Invocations++ })
		w.invocations++
		resp, fnErr, err := p.cfg.Invoke(ctx, p.event(w.recs))
		if err != nil {
			return err
		}
		retry := func(recs []record, reason string) {
			w.attempts++
			p.count(func(s *Stats) { s.Retries++ })
			if w.attempts > p.cfg.MaxRetryAttempts {
				p.discard(FailedBatch{ShardID: shardID, Reason: strings.TrimSpace(reason), Invocations: w.invocations, FunctionError: fnErr != nil}, recs)
				queue = queue[1:]
				return
			}
			w.recs = recs
			time.Sleep(p.cfg.RetryDelay)
		}
		if fnErr != nil {
			p.count(func(s *Stats) { s.FunctionErrors++ })
			if p.cfg.BisectOnError && len(w.recs) > 1 {
				half := len(w.recs) / 2
				a := work{recs: w.recs[:half], attempts: w.attempts, invocations: w.invocations}
				b := work{recs: w.recs[half:], attempts: w.attempts, invocations: w.invocations}
				queue = append([]work{a, b}, queue[1:]...)
				continue
			}
			retry(w.recs, "function error: "+fnErr.Error())
			continue
		}
		var out struct {
			BatchItemFailures []struct {
				ItemIdentifier string `json:"itemIdentifier"`
			} `json:"batchItemFailures"`
		}
		_ = json.Unmarshal(resp, &out)
		if len(out.BatchItemFailures) == 0 {
			n := len(w.recs)
			p.count(func(s *Stats) { s.Processed += n })
			queue = queue[1:]
			continue
		}
		p.count(func(s *Stats) { s.PartialFailures++ })
		lowest := -1
		for _, f := range out.BatchItemFailures {
			for i, r := range w.recs {
				if r.seq == f.ItemIdentifier && (lowest < 0 || i < lowest) {
					lowest = i
				}
			}
		}
		if lowest < 0 { // an identifier not in the batch fails the whole batch
			lowest = 0
		}
		p.count(func(s *Stats) { s.Processed += lowest })
		retry(w.recs[lowest:], "partial batch failure")
	}
	return nil
}

// discard gives up on recs: the on-failure destination gets the batch
// first, and only then does it count as processed, as the mapping sends
// the record before it moves on.
func (p *Poller) discard(b FailedBatch, recs []record) {
	b.StartSequenceNumber, b.EndSequenceNumber, b.BatchSize = recs[0].seq, recs[len(recs)-1].seq, len(recs)
	b.StreamARN, b.FunctionARN = p.cfg.StreamARN, p.cfg.FunctionARN
	b.FirstArrival, b.LastArrival = recs[0].created, recs[len(recs)-1].created
	b.RequestID, b.At = lambdarecord.NewRequestID(), time.Now()
	if p.cfg.OnFailure != nil {
		p.cfg.OnFailure(b)
	}
	p.count(func(s *Stats) { s.Discarded += len(recs); s.Processed += len(recs) })
}
