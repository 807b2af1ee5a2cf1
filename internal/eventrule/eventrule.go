package eventrule

import (
	"errors"
	"net/url"
	"strings"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

// Source and ObjectCreatedType are the "source" and "detail-type" S3 gives
// the events it sends to EventBridge for new objects; ObjectDeletedType is
// that of removed objects, which the rule must not deliver.
// See https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
const (
	Source            = "aws.s3"
	ObjectCreatedType = "Object Created"
	ObjectDeletedType = "Object Deleted"
)

// Pattern selects the S3 "Object Created" events of one bucket whose key
// starts with KeyPrefix and ends with KeySuffix. It is a value rather than
// a document so that the CDK app and the local pipeline build the rule
// from the same three inputs and cannot drift apart.
type Pattern struct {
	// Bucket is the bucket's name; at synth time it may be a CloudFormation
	// token, so it is used as given.
	Bucket string
	// KeyPrefix and KeySuffix are plain text: EventBridge's wildcard
	// characters in them are escaped by Document.
	KeyPrefix, KeySuffix string
}

// ObjectCreated returns the pattern of "Object Created" events for keys in
// bucket between keyPrefix and keySuffix.
func ObjectCreated(bucket, keyPrefix, keySuffix string) Pattern {
	return Pattern{Bucket: bucket, KeyPrefix: keyPrefix, KeySuffix: keySuffix}
}

// Forwarder returns the forwarder's rule for a bucket whose streamer writes
// under prefix (the S3_PREFIX setting): data objects only, never the error
// objects under <prefix>/_errors/. The CDK app and the local pipeline both
// call it, so the key layout of package objectkey is read in one place.
func Forwarder(bucket, prefix string) Pattern {
	return ObjectCreated(bucket, objectkey.DataPrefix(prefix), objectkey.Suffix)
}

// ExportManifest returns the export planner's rule: a table export's
// manifest-summary.json, <exportPrefix>/AWSDynamoDB/<export ID>/manifest-summary.json
// (the layout in the DynamoDB developer guide, "DynamoDB table export
// output format"). The planner still checks that the export completed.
func ExportManifest(bucket, exportPrefix string) Pattern {
	return ObjectCreated(bucket, exportPrefix+"/AWSDynamoDB/", "/manifest-summary.json")
}

// Validate reports a pattern that would match nothing useful: without a
// bucket name the rule would select no event at all, silently.
func (p Pattern) Validate() error {
	if p.Bucket == "" {
		return errors.New("event rule has no bucket name")
	}
	return nil
}

// Document returns the event pattern exactly as it is deployed, in the
// shape encoding/json decodes it ([]any, map[string]any), e.g.
//
//	{"source":["aws.s3"],"detail-type":["Object Created"],
//	 "detail":{"bucket":{"name":["B"]},"object":{"key":[{"wildcard":"cdc/table=*.jsonl.gz"}]}}}
//
// One wildcard filter carries both prefix and suffix because a field's
// filters are alternatives (OR): [{"prefix":…},{"suffix":…}] would match
// keys with either. EventBridge's '*' matches any run of characters,
// including '/', so "cdc/table=*.jsonl.gz" covers every partition below
// the prefix; '*' and '\' in the prefix or suffix are escaped with '\'.
// See https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching
// and the engine's own description, https://github.com/aws/event-ruler#wildcard-matching
//
// AWS does not document whether detail.object.key is URL-encoded in
// EventBridge events, as it is in S3 notifications ("cdc/table%3D…"), and
// libraries disagree (Powertools decodes it, moto sends it raw). A plain
// "=" pattern would silently never fire on encoded keys, so when encoding
// changes the prefix or suffix the pattern also matches the encoded form;
// internal/s3event decodes such keys.
func (p Pattern) Document() map[string]any {
	keys := []any{map[string]any{"wildcard": escapeWildcard(p.KeyPrefix) + "*" + escapeWildcard(p.KeySuffix)}}
	if ep, es := EncodeKey(p.KeyPrefix), EncodeKey(p.KeySuffix); ep != p.KeyPrefix || es != p.KeySuffix {
		keys = append(keys, map[string]any{"wildcard": escapeWildcard(ep) + "*" + escapeWildcard(es)})
	}
	return map[string]any{
		"source":      []any{Source},
		"detail-type": []any{ObjectCreatedType},
		"detail": map[string]any{
			"bucket": map[string]any{"name": []any{p.Bucket}},
			"object": map[string]any{"key": keys},
		},
	}
}

// EncodeKey URL-encodes a key as S3 encodes keys in event notifications:
// each segment form-encoded (space as '+', '=' as %3D), slashes kept
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
func EncodeKey(key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.QueryEscape(s)
	}
	return strings.Join(segs, "/")
}

// escapeWildcard makes s match itself in a wildcard filter: a backslash
// escapes '*' and '\', and may escape nothing else.
func escapeWildcard(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`).Replace(s)
}
