// Package errorlist lists and summarises what the pipeline set aside
// under <prefix>/_errors/, for `ddbstream errors`: records the streamer
// (or the backfill's converter) could not convert, kept whole with the
// reason, and payloads that were not events at all (_errors/malformed/).
// Nothing there reaches Databricks (the forwarder's rule matches data
// keys only), so this is where an operator sees what was not delivered,
// why, how much, and over what time.
//
// The summary groups reasons with their values masked ("…" for quoted
// values, [n] for list positions), so that one kind of fault is one line
// however many items it hit, and keeps the first examples of each
// verbatim.
package errorlist

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

// ObjectLister lists the keys under a prefix.
type ObjectLister interface {
	ListObjectsV2(ctx context.Context, params *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// ObjectGetter reads an object.
type ObjectGetter interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3 is the part of the S3 API the listing calls.
type S3 interface {
	ObjectLister
	ObjectGetter
}

// Config chooses what to list.
type Config struct {
	Bucket, Prefix string
	// Table limits the listing to one table's errors objects (malformed
	// payloads name no table and are listed only without it).
	Table string
	// From and To bound the hours of the keys (From included, To
	// excluded); zero bounds nothing.
	From, To time.Time
	// Examples is how many examples each reason keeps (default 3).
	Examples int
	// NoRead lists the objects without reading them: counts of objects
	// and bytes only.
	NoRead bool
	// Progress, if set, is called after each object.
	Progress func(done, total int)
}

// Reason is one kind of fault and how often it occurred.
type Reason struct {
	// Reason is the reason with its values masked.
	Reason string
	Count  int
	// Examples are the first records' exact reasons, keys and positions.
	Examples []Example
}

// Example is one record set aside.
type Example struct {
	Key, Reason, SequenceNumber, EventID string
	// Line is the record's index in its batch (stream) or line in its
	// data file (backfill).
	Line int
}

// Object is one errors object.
type Object struct {
	Key, Table string
	// Hour is the key's dt and hour; zero for malformed payloads.
	Hour      time.Time
	Size      int64
	Records   int
	Snapshot  bool
	Malformed bool
}

// Report is what the listing found.
type Report struct {
	Objects   []Object
	Bytes     int64
	Records   int
	Malformed int
	// ByTable counts records per table.
	ByTable map[string]int
	Reasons []Reason
	// First and Last are the earliest and latest key hours.
	First, Last time.Time
	// Unreadable lists objects that could not be read, with the error.
	Unreadable []string
}

// Run lists and summarises the errors objects.
func Run(ctx context.Context, cfg Config, api S3) (Report, error) {
	rep := Report{ByTable: map[string]int{}}
	if cfg.Bucket == "" {
		return rep, fmt.Errorf("no bucket")
	}
	if err := objectkey.ValidatePrefix(cfg.Prefix); err != nil {
		return rep, fmt.Errorf("prefix: %w", err)
	}
	if cfg.Examples <= 0 {
		cfg.Examples = 3
	}
	if cfg.Progress == nil {
		cfg.Progress = func(int, int) {}
	}
	root := objectkey.ErrorsDir + "/"
	if cfg.Prefix != "" {
		root = cfg.Prefix + "/" + root
	}
	prefix := root
	if cfg.Table != "" {
		prefix = root + "table=" + cfg.Table + "/"
	}
	objects, err := list(ctx, cfg, api, root, prefix)
	if err != nil {
		return rep, err
	}
	reasons := map[string]*Reason{}
	for i, o := range objects {
		rep.Bytes += o.Size
		if o.Malformed {
			rep.Malformed++
		}
		if !o.Hour.IsZero() {
			if rep.First.IsZero() || o.Hour.Before(rep.First) {
				rep.First = o.Hour
			}
			if o.Hour.After(rep.Last) {
				rep.Last = o.Hour
			}
		}
		if !cfg.NoRead && !o.Malformed {
			n, err := read(ctx, cfg, api, o.Key, reasons)
			if err != nil {
				rep.Unreadable = append(rep.Unreadable, fmt.Sprintf("%s: %v", o.Key, err))
			}
			o.Records = n
			rep.Records += n
			rep.ByTable[o.Table] += n
		}
		rep.Objects = append(rep.Objects, o)
		cfg.Progress(i+1, len(objects))
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	for _, r := range reasons {
		rep.Reasons = append(rep.Reasons, *r)
	}
	sort.Slice(rep.Reasons, func(i, j int) bool {
		a, b := rep.Reasons[i], rep.Reasons[j]
		return a.Count > b.Count || a.Count == b.Count && a.Reason < b.Reason
	})
	return rep, nil
}

// list finds the errors objects under prefix within the hours.
func list(ctx context.Context, cfg Config, api ObjectLister, root, prefix string) ([]Object, error) {
	var out []Object
	in := &s3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket), Prefix: aws.String(prefix)}
	for {
		page, err := api.ListObjectsV2(ctx, in)
		if err != nil {
			return out, fmt.Errorf("list s3://%s/%s: %w", cfg.Bucket, prefix, err)
		}
		for _, c := range page.Contents {
			key := aws.ToString(c.Key)
			o := Object{Key: key, Size: aws.ToInt64(c.Size)}
			if strings.HasPrefix(key, root+"malformed/") {
				o.Malformed = true
				out = append(out, o)
				continue
			}
			p, err := objectkey.Parse(key)
			if err != nil || !p.Errors {
				continue
			}
			o.Table, o.Snapshot = p.Table, p.Snapshot
			o.Hour, _ = time.Parse("2006-01-02 15", p.Date+" "+p.Hour)
			if !cfg.From.IsZero() && o.Hour.Before(cfg.From.UTC().Truncate(time.Hour)) ||
				!cfg.To.IsZero() && !o.Hour.Before(cfg.To.UTC().Truncate(time.Hour)) {
				continue
			}
			out = append(out, o)
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			return out, nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// line is one record set aside: the streamer's {"reason", "index",
// "sequenceNumber", "record"} or the backfill converter's {"reason",
// "line", "eventID", "item"}.
type line struct {
	Reason         string `json:"reason"`
	Index          *int   `json:"index"`
	Line           *int   `json:"line"`
	SequenceNumber string `json:"sequenceNumber"`
	EventID        string `json:"eventID"`
}

// read counts an errors object's records by reason.
func read(ctx context.Context, cfg Config, api ObjectGetter, key string, reasons map[string]*Reason) (int, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return 0, fmt.Errorf("get: %w", err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(out.Body)
	if err != nil {
		return 0, fmt.Errorf("gunzip: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		n++
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			l.Reason = "(a line that is not JSON)"
		}
		masked := Mask(l.Reason)
		r := reasons[masked]
		if r == nil {
			r = &Reason{Reason: masked}
			reasons[masked] = r
		}
		r.Count++
		if len(r.Examples) < cfg.Examples {
			ex := Example{Key: key, Reason: l.Reason, SequenceNumber: l.SequenceNumber, EventID: l.EventID}
			switch {
			case l.Index != nil:
				ex.Line = *l.Index
			case l.Line != nil:
				ex.Line = *l.Line
			}
			r.Examples = append(r.Examples, ex)
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return n, fmt.Errorf("read: %w", err)
	}
	return n, nil
}

var (
	quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	index  = regexp.MustCompile(`\[\d+\]`)
)

// Mask hides a reason's values: quoted text becomes "…" and list
// positions [n], so that one fault reads the same for every record.
func Mask(reason string) string {
	return index.ReplaceAllString(quoted.ReplaceAllString(reason, `"…"`), "[n]")
}
