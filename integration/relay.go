package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ddbstream/pipeline/internal/eventrule"
)

// Relay plays S3's EventBridge integration and the forwarder's rule. It
// turns each of the S3 server's event notifications into the event S3
// sends to EventBridge, keeps those the deployed rule matches, and invokes
// the forwarder with them asynchronously, as EventBridge invokes Lambda:
// with retries, and an on-failure destination for events that still fail.
type Relay struct {
	// Bucket and Prefix (the streamer's S3_PREFIX) select the rule,
	// eventrule.Forwarder(Bucket, Prefix): the definition the CDK app
	// deploys, so the local pipeline filters exactly as AWS does.
	Bucket, Prefix string
	// Invoke runs the forwarder; fnErr is a function error.
	Invoke func(ctx context.Context, payload []byte) (fnErr error, err error)
	// Retries and RetryDelay mirror the async invoke configuration.
	Retries    int
	RetryDelay time.Duration
	// Duplicate delivers every event twice, as at-least-once delivery may.
	Duplicate bool

	mu       sync.Mutex
	inFlight int
	arrived  map[string]time.Time
	queue    chan []byte
	failed   [][]byte
	received int
	pending  sync.WaitGroup
	once     sync.Once
}

func (r *Relay) init() {
	r.once.Do(func() { r.queue = make(chan []byte, 1<<16) })
}

// Run delivers queued events until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	r.init()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.queue:
			r.deliver(ctx, ev)
			r.mu.Lock()
			r.inFlight--
			r.mu.Unlock()
			r.pending.Done()
		}
	}
}

func (r *Relay) deliver(ctx context.Context, ev []byte) {
	for attempt := 0; ; attempt++ {
		fnErr, err := r.Invoke(ctx, ev)
		if err != nil || fnErr == nil {
			return
		}
		if attempt >= r.Retries {
			r.mu.Lock()
			r.failed = append(r.failed, ev)
			r.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.RetryDelay):
		}
	}
}

// Wait blocks until every received event has been handled.
func (r *Relay) Wait() { r.pending.Wait() }

// Failed returns the events sent to the on-failure destination.
func (r *Relay) Failed() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.failed...)
}

// Pending counts events not yet handled.
func (r *Relay) Pending() int { r.mu.Lock(); defer r.mu.Unlock(); return r.inFlight }

// Arrived returns when each delivered object's first event arrived, by key.
func (r *Relay) Arrived() map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]time.Time, len(r.arrived))
	for k, v := range r.arrived {
		out[k] = v
	}
	return out
}

// Received counts the events the rule delivered (each once, even with
// Duplicate).
func (r *Relay) Received() int { r.mu.Lock(); defer r.mu.Unlock(); return r.received }

// Enqueue hands a payload to the forwarder as EventBridge would, without
// the rule: tests use it to deliver what the rule would not.
func (r *Relay) Enqueue(ev []byte) {
	r.init()
	r.mu.Lock()
	r.inFlight++
	r.mu.Unlock()
	r.pending.Add(1)
	r.queue <- ev
}

// localAccount stands for the bucket owner's account, which the local S3
// server does not know.
const localAccount = "000000000000"

// ServeHTTP takes one webhook notification from the S3 server and answers
// only after the events the rule matches are queued, so that a test that
// posted a notification can Wait for its delivery.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rule := eventrule.Forwarder(r.Bucket, r.Prefix)
	if err := rule.Validate(); err != nil {
		http.Error(w, "relay: "+err.Error(), http.StatusInternalServerError)
		return
	}
	events, err := eventBridgeEvents(body)
	if err != nil {
		http.Error(w, "relay: "+err.Error(), http.StatusBadRequest)
		return
	}
	pattern := rule.Document()
	for _, ev := range events {
		ok, err := eventrule.Matches(pattern, ev.payload)
		if err != nil {
			http.Error(w, "relay: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if !ok {
			continue
		}
		r.mu.Lock()
		r.received++
		if r.arrived == nil {
			r.arrived = map[string]time.Time{}
		}
		if _, seen := r.arrived[ev.key]; !seen {
			r.arrived[ev.key] = time.Now()
		}
		r.mu.Unlock()
		r.Enqueue(ev.payload)
		if r.Duplicate {
			r.Enqueue(ev.payload)
		}
	}
	w.WriteHeader(http.StatusOK)
}

// notification is what versitygw posts: one S3 event notification record
// per request, keys as they are (AWS would URL-encode them), the ETag
// quoted, event names with "s3:". Other posts, such as s3:TestEvent, have
// no Records.
type notification struct {
	Records []struct {
		EventName         string `json:"eventName"`
		AWSRegion         string `json:"awsRegion"`
		EventTime         string `json:"eventTime"`
		RequestParameters struct {
			SourceIPAddress string `json:"sourceIPAddress"`
		} `json:"requestParameters"`
		ResponseElements struct {
			RequestID string `json:"x-amz-request-id"`
		} `json:"responseElements"`
		S3 struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key       string  `json:"key"`
				Size      int64   `json:"size"`
				ETag      *string `json:"eTag"`
				VersionID *string `json:"versionId"`
				Sequencer string  `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// bridgeEvent is an event S3 sends to EventBridge, fields in the order of
// the S3 user guide's examples:
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
type bridgeEvent struct {
	Version    string       `json:"version"`
	ID         string       `json:"id"`
	DetailType string       `json:"detail-type"`
	Source     string       `json:"source"`
	Account    string       `json:"account"`
	Time       string       `json:"time"`
	Region     string       `json:"region"`
	Resources  []string     `json:"resources"`
	Detail     bridgeDetail `json:"detail"`
}

type bridgeDetail struct {
	Version string `json:"version"`
	// EventVersion versions the detail's schema; the guide's current
	// examples carry it.
	EventVersion string `json:"event-version"`
	Bucket       struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object       bridgeObject `json:"object"`
	RequestID    string       `json:"request-id"`
	Requester    string       `json:"requester"`
	SourceIP     string       `json:"source-ip-address"`
	Reason       string       `json:"reason"`
	DeletionType string       `json:"deletion-type,omitempty"`
}

// bridgeObject has no size or etag for deleted objects, and a version-id
// only in versioned buckets.
type bridgeObject struct {
	// Key is the key as stored, not URL-encoded: the guide says
	// notification keys are URL-encoded (notification-content-structure.html)
	// and says nothing of the kind for EventBridge events (ev-events.html),
	// and the forwarder (internal/s3event) reads them without decoding.
	// This is read from the documentation, not observed in AWS.
	Key       string `json:"key"`
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"etag,omitempty"`
	VersionID string `json:"version-id,omitempty"`
	Sequencer string `json:"sequencer"`
}

// relayed is one converted event and the raw key it is about.
type relayed struct {
	key     string
	payload []byte
}

// eventBridgeEvents converts a versitygw notification into the events S3
// would send to EventBridge: "Object Created" for ObjectCreated records,
// "Object Deleted" for ObjectRemoved ones. Other record types are not
// converted (AWS has other detail-types for them, which no rule here
// selects).
func eventBridgeEvents(body []byte) ([]relayed, error) {
	var n notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("notification is not JSON: %w", err)
	}
	var out []relayed
	for i, rec := range n.Records {
		action, ok := strings.CutPrefix(strings.TrimPrefix(rec.EventName, "s3:"), "ObjectCreated:")
		deleted := false
		if !ok {
			if action, ok = strings.CutPrefix(strings.TrimPrefix(rec.EventName, "s3:"), "ObjectRemoved:"); !ok {
				continue
			}
			deleted = true
		}
		obj := rec.S3.Object
		if rec.S3.Bucket.Name == "" || obj.Key == "" {
			return nil, fmt.Errorf("record %d (%s) lacks the bucket name or the key", i, rec.EventName)
		}
		t, err := time.Parse(time.RFC3339Nano, rec.EventTime)
		if err != nil {
			t = time.Now() // versitygw may leave it empty; S3 always sets it
		}
		ev := bridgeEvent{
			Version: "0", Source: eventrule.Source, Account: localAccount,
			Time:      t.UTC().Format("2006-01-02T15:04:05Z"),
			Region:    orDefault(rec.AWSRegion, "us-east-1"),
			Resources: []string{"arn:aws:s3:::" + rec.S3.Bucket.Name},
		}
		d := &ev.Detail
		d.Version, d.EventVersion = "0", "1.0"
		d.Bucket.Name = rec.S3.Bucket.Name
		d.Object = bridgeObject{Key: obj.Key, Sequencer: obj.Sequencer}
		if obj.VersionID != nil {
			d.Object.VersionID = *obj.VersionID
		}
		d.Requester = localAccount
		d.SourceIP = orDefault(rec.RequestParameters.SourceIPAddress, "127.0.0.1")
		if deleted {
			ev.DetailType, d.Reason = eventrule.ObjectDeletedType, "DeleteObject"
			d.DeletionType = "Permanently Deleted" // versitygw reports no delete markers
		} else {
			size := obj.Size
			ev.DetailType, d.Reason, d.Object.Size = eventrule.ObjectCreatedType, createReason(action), &size
			if obj.ETag != nil {
				d.Object.ETag = strings.Trim(*obj.ETag, `"`)
			}
		}
		// The same S3 event always gets the same id, so that a duplicate
		// delivery is recognisably the same event, as in AWS.
		sum := sha256.Sum256([]byte(strings.Join([]string{ev.DetailType, d.Bucket.Name, obj.Key,
			d.Object.VersionID, d.Object.ETag, obj.Sequencer, rec.EventTime, rec.ResponseElements.RequestID}, "\x00")))
		ev.ID = uuidFrom(sum)
		d.RequestID = orDefault(rec.ResponseElements.RequestID, strings.ToUpper(hex.EncodeToString(sum[16:24])))
		payload, err := marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		out = append(out, relayed{key: obj.Key, payload: payload})
	}
	return out, nil
}

// createReason names the API that created the object, as the guide lists
// them for the reason field.
func createReason(action string) string {
	switch action {
	case "Put":
		return "PutObject"
	case "Post":
		return "POST Object"
	case "Copy":
		return "CopyObject"
	}
	return action // CompleteMultipartUpload
}

// uuidFrom formats a hash as an RFC 9562 version 8 (custom) UUID.
func uuidFrom(sum [sha256.Size]byte) string {
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// marshal writes JSON without escaping <, > and &, so that keys keep
// their characters.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
