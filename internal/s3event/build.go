package s3event

import (
	"encoding/json"
	"fmt"
	"time"
)

// ObjectCreated returns the EventBridge event S3 sends when an object is
// created, for a caller that must hand a function the event it missed
// (ddbstream backfill invokes the export planner with one when the
// summary's own event never arrived). It has the fields of the S3 user
// guide's "Object Created" example
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)
// that Parse and the rules read: source, detail-type, time, resources,
// bucket and key; the key as stored, as EventBridge carries it.
func ObjectCreated(bucket, key string, size int64, t time.Time) ([]byte, error) {
	if bucket == "" || key == "" {
		return nil, fmt.Errorf("object created event: bucket %q and key %q must be set", bucket, key)
	}
	type object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
	}
	type detail struct {
		Version string `json:"version"`
		Bucket  struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object object `json:"object"`
		Reason string `json:"reason"`
	}
	ev := struct {
		Version    string   `json:"version"`
		DetailType string   `json:"detail-type"`
		Source     string   `json:"source"`
		Time       string   `json:"time"`
		Resources  []string `json:"resources"`
		Detail     detail   `json:"detail"`
	}{Version: "0", DetailType: "Object Created", Source: "aws.s3", Time: t.UTC().Format(time.RFC3339),
		Resources: []string{"arn:aws:s3:::" + bucket}}
	ev.Detail.Version = "0"
	ev.Detail.Bucket.Name = bucket
	ev.Detail.Object = object{Key: key, Size: size}
	ev.Detail.Reason = "PutObject"
	return json.Marshal(ev)
}
