package s3event

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Source says how an event reached the function.
type Source int

const (
	// Notification is an S3 event notification invoking the function.
	Notification Source = iota
	// SQS is a batch of SQS messages, each carrying a notification.
	SQS
	// EventBridge is an EventBridge event from aws.s3: "Object Created",
	// or another type that is counted in Ignored.
	EventBridge
)

func (s Source) String() string {
	return [...]string{"notification", "sqs", "eventbridge"}[s]
}

// Object is one created object.
type Object struct {
	Bucket string
	// Key is the object key, decoded.
	Key       string
	Size      int64
	ETag      string
	VersionID string
	// Sequencer orders events for the same key.
	Sequencer string
	EventName string
	EventTime time.Time
	// MessageID is the SQS message that carried the object, if any.
	MessageID string
}

// BadMessage is an SQS message whose body is not an S3 event.
type BadMessage struct {
	MessageID string
	Reason    string
}

// Event is what one invocation carries.
type Event struct {
	Source  Source
	Objects []Object
	// TestEvents and Ignored count s3:TestEvent messages and records or
	// EventBridge events of other types (such as ObjectRemoved or "Object
	// Deleted"), which announce no new object.
	TestEvents, Ignored int
	// DetailType is the detail-type of an EventBridge event ("Object
	// Created", "Object Deleted", ...), so that an ignored one can be
	// logged by name.
	DetailType string
	// Bad lists SQS messages that could not be read; the rest of the batch
	// is still delivered.
	Bad []BadMessage
}

// Parse reads an invocation payload.
func Parse(payload []byte) (Event, error) {
	var probe struct {
		Records    []json.RawMessage `json:"Records"`
		DetailType string            `json:"detail-type"`
		Source     string            `json:"source"`
		Detail     json.RawMessage   `json:"detail"`
		Event      string            `json:"Event"`
		// Time is read after the shape is known, so that a bad value is
		// reported as such rather than as a payload that is not JSON.
		Time json.RawMessage `json:"time"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return Event{}, fmt.Errorf("event is not a JSON object: %w", err)
	}
	switch {
	case probe.Event == "s3:TestEvent":
		return Event{TestEvents: 1}, nil
	case probe.DetailType != "":
		if probe.Source != "aws.s3" {
			return Event{}, fmt.Errorf("EventBridge event %q from %q is not an S3 event (source aws.s3)", probe.DetailType, probe.Source)
		}
		t, err := eventTime(probe.Time)
		if err != nil {
			return Event{}, err
		}
		ev := Event{Source: EventBridge, DetailType: probe.DetailType}
		// With EventBridge on, S3 sends every event type to the bus
		// ("Object Deleted", "Object Restore Completed", ...; see "Using
		// EventBridge" in the S3 user guide,
		// https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html).
		// Only "Object Created" announces an object to deliver; the others
		// are counted, not failed, so that a broad rule causes no retries.
		if probe.DetailType != "Object Created" {
			ev.Ignored = 1
			return ev, nil
		}
		o, err := eventBridgeObject(probe.Detail, t)
		if err != nil {
			return Event{}, err
		}
		ev.Objects = []Object{o}
		return ev, nil
	case probe.Records != nil:
		return records(probe.Records)
	}
	return Event{}, errors.New("event has neither Records nor an EventBridge detail-type")
}

// eventTime reads an EventBridge event's time, which is an RFC 3339
// timestamp ("Time", https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html);
// an absent time is left zero. The message shows the value: it is never a
// secret, and it is what the reader needs to see.
func eventTime(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t, nil
		}
	}
	shown := string(raw)
	if len(shown) > 64 {
		shown = shown[:64] + "..."
	}
	return time.Time{}, fmt.Errorf("EventBridge event time %s is not an RFC 3339 timestamp", shown)
}

func eventBridgeObject(detail json.RawMessage, t time.Time) (Object, error) {
	var d struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string `json:"key"`
			Size      int64  `json:"size"`
			ETag      string `json:"etag"`
			VersionID string `json:"version-id"`
			Sequencer string `json:"sequencer"`
		} `json:"object"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(detail, &d); err != nil {
		return Object{}, fmt.Errorf("EventBridge detail: %w", err)
	}
	if d.Bucket.Name == "" || d.Object.Key == "" {
		return Object{}, errors.New("EventBridge detail lacks bucket.name or object.key")
	}
	return Object{
		Bucket: d.Bucket.Name, Key: eventBridgeKey(d.Object.Key), Size: d.Object.Size, ETag: d.Object.ETag,
		VersionID: d.Object.VersionID, Sequencer: d.Object.Sequencer, EventName: "ObjectCreated:" + d.Reason, EventTime: t,
	}, nil
}

// eventBridgeKey reads detail.object.key. AWS documents no URL encoding
// for EventBridge keys (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html),
// unlike notification keys, but libraries disagree (Powertools decodes
// them), so a key holding a valid %-escape is decoded as a notification
// key would be. The pipeline's own keys never hold '%' or '+' (prefixes,
// table names and labels exclude them), so both readings agree on them.
func eventBridgeKey(key string) string {
	if !strings.Contains(key, "%") {
		return key
	}
	if decoded, err := url.QueryUnescape(key); err == nil {
		return decoded
	}
	return key
}

func records(raw []json.RawMessage) (Event, error) {
	var ev Event
	for i, r := range raw {
		var probe struct {
			EventSource string `json:"eventSource"`
			// EventSource is spelled differently by SNS.
			SNSSource string `json:"EventSource"`
		}
		if err := json.Unmarshal(r, &probe); err != nil {
			return Event{}, fmt.Errorf("record %d: %w", i, err)
		}
		switch probe.EventSource {
		case "aws:s3":
			if err := ev.addS3Record(r, ""); err != nil {
				return Event{}, fmt.Errorf("record %d: %w", i, err)
			}
		case "aws:sqs":
			ev.Source = SQS
			var m events.SQSMessage
			if err := json.Unmarshal(r, &m); err != nil {
				return Event{}, fmt.Errorf("record %d: %w", i, err)
			}
			if err := ev.addBody(m.Body, m.MessageId); err != nil {
				ev.Bad = append(ev.Bad, BadMessage{MessageID: m.MessageId, Reason: err.Error()})
			}
		default:
			return Event{}, fmt.Errorf("record %d: eventSource %q is neither aws:s3 nor aws:sqs", i, probe.EventSource)
		}
	}
	return ev, nil
}

// addBody reads an SQS message body: an S3 notification, a test event, or
// an SNS notification carrying either.
func (ev *Event) addBody(body, messageID string) error {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
		Event   string            `json:"Event"`
		Type    string            `json:"Type"`
		Message string            `json:"Message"`
	}
	if err := json.Unmarshal([]byte(body), &probe); err != nil {
		return fmt.Errorf("message body is not JSON: %w", err)
	}
	switch {
	case probe.Event == "s3:TestEvent":
		ev.TestEvents++
		return nil
	case probe.Type == "Notification" && probe.Message != "":
		return ev.addBody(probe.Message, messageID)
	case probe.Records == nil:
		return errors.New("message body is not an S3 event notification")
	}
	for i, r := range probe.Records {
		if err := ev.addS3Record(r, messageID); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
	}
	return nil
}

func (ev *Event) addS3Record(raw json.RawMessage, messageID string) error {
	var r events.S3EventRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("S3 record: %w", err)
	}
	if !strings.HasPrefix(r.EventName, "ObjectCreated:") && !strings.HasPrefix(r.EventName, "s3:ObjectCreated:") {
		ev.Ignored++
		return nil
	}
	key := r.S3.Object.URLDecodedKey // decoded by events.S3Object, which rejects bad escapes
	if r.S3.Bucket.Name == "" || key == "" {
		return errors.New("S3 record lacks s3.bucket.name or s3.object.key")
	}
	ev.Objects = append(ev.Objects, Object{
		Bucket: r.S3.Bucket.Name, Key: key, Size: r.S3.Object.Size, ETag: r.S3.Object.ETag,
		VersionID: r.S3.Object.VersionID, Sequencer: r.S3.Object.Sequencer,
		EventName: strings.TrimPrefix(r.EventName, "s3:"), EventTime: r.EventTime, MessageID: messageID,
	})
	return nil
}
