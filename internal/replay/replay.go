// Package replay delivers existing objects again, for `ddbstream replay`:
// the objects of a table written in a time range, through the
// forwarder's own code (package redeliver), for example after a
// destination was fixed or recreated.
//
// Objects are chosen by their keys, which carry the table and the hour of
// their first record (<prefix>/table=<t>/dt=<date>/hour=<HH>/...), so a
// replay reads no object it does not deliver. Each object is handed to
// the forwarder as the S3 notification S3 would have sent for it, so the
// forwarder reads it at the listed ETag and delivers it as configured.
// Delivery is idempotent as the forwarder's is: a volume path is
// overwritten, copy-into's MERGE inserts no line twice, and in job mode the
// idempotency token is derived from the object and the replay's ID
// (carried as the event's sequencer): the same replay run twice starts
// one job run per object, and a new --replay-id runs the job again.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/deployed"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/redeliver"
	"github.com/ddbstream/pipeline/internal/secret"
)

// ObjectLister lists the keys under a prefix.
type ObjectLister interface {
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Clients are the AWS calls a replay makes, with the SDK clients'
// signatures: listing, the forwarder's reads, its secret.
type Clients struct {
	S3 interface {
		ObjectLister
		forwarder.S3
	}
	Secrets secret.Getter
	// Functions reads the deployed forwarder's settings.
	Functions deployed.FunctionConfigGetter
}

// Config is what a replay works on.
type Config struct {
	// Bucket, Prefix and Table choose the objects:
	// <Prefix>/table=<Table>/dt=…/hour=…/*.jsonl.gz.
	Bucket, Prefix, Table string
	// From and To bound the hours of the keys, From included, To
	// excluded; both are truncated to the hour (UTC).
	From, To time.Time
	// ReplayID names the replay: in job mode the idempotency token is
	// derived from it, so running the same replay again starts no second
	// run, and a new ID runs the job again (default "1").
	ReplayID string
	// DryRun lists what would be delivered and delivers nothing.
	DryRun bool
	// ForwarderFunction names the deployed forwarder
	// (ForwarderFunctionName): its settings are read from its environment
	// through the forwarder's own ConfigFromEnv.
	ForwarderFunction string
	// Forwarder, when set, is used instead of the deployed forwarder's
	// settings (the local pipeline, tests).
	Forwarder *forwarder.Config
	// DatabricksOptions follow the forwarder's own client options (tests).
	DatabricksOptions []databricks.Option
	// Now is the clock, for the events' time (default time.Now).
	Now func() time.Time
	// Progress, if set, is called after each object.
	Progress func(Progress)
}

// Progress is the state after one object.
type Progress struct {
	Phase       string // "list" or "deliver"
	Done, Total int
	Failed      int
}

// ObjectReport is what became of one object.
type ObjectReport struct {
	Key  string
	Size int64
	// Result is delivered, skipped, failed, or "would deliver" in a dry
	// run; Reason and Error say more.
	Result, Reason, Error, Destination string
}

// Report is what a replay did.
type Report struct {
	DryRun bool
	// Prefixes are the day prefixes listed.
	Prefixes                   []string
	Objects                    int
	Bytes                      int64
	Delivered, Skipped, Failed int
	Items                      []ObjectReport
}

// Error is a replay that could not run, with what to do about it.
type Error struct {
	Msg, Remedy string
	Err         error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// maxDays bounds a replay's range: a longer one is more likely a mistake
// than a plan, and is better split.
const maxDays = 400

func (c *Config) check() error {
	var problems []string
	if c.Bucket == "" {
		problems = append(problems, "no bucket")
	}
	if c.Table == "" {
		problems = append(problems, "no table")
	}
	if err := objectkey.ValidatePrefix(c.Prefix); err != nil {
		problems = append(problems, "prefix: "+err.Error())
	}
	c.From, c.To = c.From.UTC().Truncate(time.Hour), c.To.UTC().Truncate(time.Hour)
	if !c.From.Before(c.To) {
		problems = append(problems, fmt.Sprintf("the range %s to %s is empty", c.From.Format(time.RFC3339), c.To.Format(time.RFC3339)))
	} else if c.To.Sub(c.From) > maxDays*24*time.Hour {
		problems = append(problems, fmt.Sprintf("the range spans more than %d days", maxDays))
	}
	if !c.DryRun && c.Forwarder == nil && c.ForwarderFunction == "" {
		problems = append(problems, "the forwarder's settings are unknown (no forwarder function)")
	}
	if strings.ContainsAny(c.ReplayID, " \t\n") {
		problems = append(problems, "the replay ID must not contain spaces")
	}
	if len(problems) > 0 {
		return &Error{Msg: "bad settings: " + strings.Join(problems, "; "),
			Remedy: "give --stack (or --table, --bucket, --prefix) and --from before --to, such as --from 2026-11-23T00 --to 2026-11-24T00"}
	}
	if c.ReplayID == "" {
		c.ReplayID = "1"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Progress == nil {
		c.Progress = func(Progress) {}
	}
	return nil
}

// Run replays the objects cfg chooses. It returns the report so far with
// any error that stopped it; objects that failed are in the report.
func Run(ctx context.Context, cfg Config, c Clients) (Report, error) {
	rep := Report{DryRun: cfg.DryRun}
	if err := cfg.check(); err != nil {
		return rep, err
	}
	objects, err := list(ctx, cfg, c.S3, &rep)
	if err != nil {
		return rep, err
	}
	var d *redeliver.Deliverer
	if !cfg.DryRun {
		if err := forwarderSettings(ctx, &cfg, c.Functions); err != nil {
			return rep, err
		}
		d = redeliver.New(*cfg.Forwarder, redeliver.Clients{S3: c.S3, Secrets: c.Secrets}, cfg.DatabricksOptions...)
	}
	for i, o := range objects {
		item := ObjectReport{Key: o.Key, Size: o.Size}
		if cfg.DryRun {
			item.Result = "would deliver"
		} else {
			item = deliver(ctx, cfg, d, o)
		}
		switch item.Result {
		case redeliver.Delivered:
			rep.Delivered++
		case redeliver.Skipped:
			rep.Skipped++
		case redeliver.Failed:
			rep.Failed++
		}
		rep.Items = append(rep.Items, item)
		cfg.Progress(Progress{Phase: "deliver", Done: i + 1, Total: len(objects), Failed: rep.Failed})
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// forwarderSettings reads the deployed forwarder's settings, unless
// given.
func forwarderSettings(ctx context.Context, cfg *Config, api deployed.FunctionConfigGetter) error {
	if cfg.Forwarder != nil {
		return nil
	}
	if api == nil {
		return &Error{Msg: "the forwarder's settings are unknown", Remedy: "give --stack, whose ForwarderFunctionName output names the deployed forwarder"}
	}
	f, err := deployed.Describe(ctx, api, cfg.ForwarderFunction)
	if err != nil {
		return &Error{Msg: "read the deployed forwarder's settings", Err: err,
			Remedy: "check the function name (ForwarderFunctionName) and the permission lambda:GetFunctionConfiguration"}
	}
	fc, err := forwarder.ConfigFromEnv(f.Lookup)
	if err != nil {
		return &Error{Msg: "the deployed forwarder's settings do not validate", Err: err, Remedy: "fix the forwarder's environment (make deploy), then run again"}
	}
	cfg.Forwarder = &fc
	return nil
}

// listed is one object chosen for the replay.
type listed struct {
	Key, ETag string
	Size      int64
}

// list finds the table's objects in the range, day prefix by day prefix.
func list(ctx context.Context, cfg Config, api ObjectLister, rep *Report) ([]listed, error) {
	var out []listed
	base := objectkey.DataPrefix(cfg.Prefix) + cfg.Table + "/"
	for day := cfg.From.Truncate(24 * time.Hour); day.Before(cfg.To); day = day.Add(24 * time.Hour) {
		prefix := base + "dt=" + day.Format("2006-01-02") + "/"
		rep.Prefixes = append(rep.Prefixes, prefix)
		in := &s3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket), Prefix: aws.String(prefix)}
		for {
			page, err := api.ListObjectsV2(ctx, in)
			if err != nil {
				return out, &Error{Msg: "list s3://" + cfg.Bucket + "/" + prefix, Err: err,
					Remedy: "check the bucket and prefix (--stack, or --bucket and --prefix) and the permission s3:ListBucket on the data prefix"}
			}
			for _, o := range page.Contents {
				key := aws.ToString(o.Key)
				p, err := objectkey.Parse(key)
				if err != nil || p.Errors || !strings.HasSuffix(key, objectkey.Suffix) {
					continue
				}
				at, err := time.Parse("2006-01-02 15", p.Date+" "+p.Hour)
				if err != nil || at.Before(cfg.From) || !at.Before(cfg.To) {
					continue
				}
				out = append(out, listed{Key: key, ETag: strings.Trim(aws.ToString(o.ETag), `"`), Size: aws.ToInt64(o.Size)})
				rep.Objects++
				rep.Bytes += aws.ToInt64(o.Size)
			}
			cfg.Progress(Progress{Phase: "list", Done: rep.Objects})
			if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
				break
			}
			in.ContinuationToken = page.NextContinuationToken
		}
	}
	return out, nil
}

// deliver hands one object to the forwarder.
func deliver(ctx context.Context, cfg Config, d *redeliver.Deliverer, o listed) ObjectReport {
	item := ObjectReport{Key: o.Key, Size: o.Size}
	payload, err := Event(cfg.Bucket, o, cfg.ReplayID, cfg.Now())
	if err != nil {
		item.Result, item.Error = redeliver.Failed, err.Error()
		return item
	}
	outcomes, err := d.Deliver(ctx, payload)
	for _, out := range outcomes {
		if out.Key == o.Key {
			item.Result, item.Reason, item.Destination, item.Error = out.Result, out.Reason, out.Destination, out.Error
		}
	}
	if err != nil {
		item.Result = redeliver.Failed
		if item.Error == "" {
			item.Error = err.Error()
		}
	}
	if item.Result == "" {
		item.Result, item.Error = redeliver.Failed, "the forwarder reported nothing for the object"
	}
	return item
}

// sequencerPrefix marks a replay's events: S3's own sequencers are hex.
const sequencerPrefix = "ddbstream-replay-"

// Event is the S3 event notification S3 would have sent for the object
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html),
// the key URL-encoded as S3 encodes it, so that any key survives the
// forwarder's decoding. The sequencer carries the replay's ID: the
// forwarder's job-mode idempotency token is derived from bucket, key,
// ETag and sequencer.
func Event(bucket string, o listed, replayID string, now time.Time) ([]byte, error) {
	if o.Key == "" {
		return nil, errors.New("object has no key")
	}
	ev := events.S3Event{Records: []events.S3EventRecord{{
		EventVersion: "2.1", EventSource: "aws:s3", EventTime: now.UTC(), EventName: "ObjectCreated:Put",
		S3: events.S3Entity{
			SchemaVersion: "1.0",
			Bucket:        events.S3Bucket{Name: bucket, Arn: "arn:aws:s3:::" + bucket},
			Object:        events.S3Object{Key: strings.ReplaceAll(url.QueryEscape(o.Key), "%2F", "/"), Size: o.Size, ETag: o.ETag, Sequencer: sequencerPrefix + replayID},
		},
	}}}
	return json.Marshal(ev)
}
