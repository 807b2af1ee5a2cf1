package eventbus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/eventrule"
)

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
