package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/objectkey"
)

// Status is a snapshot of progress.
type Status struct {
	StreamRecords, Processed, Invocations, ObjectEvents, Delivered, PendingEvents int
	// EventsInTransit counts objects S3 stored whose event notification
	// has not reached the relay yet: the S3 server sends it after the
	// write, so a drained poller does not mean every event is known.
	EventsInTransit int
}

// Status reports progress so far.
func (p *Pipeline) Status() Status {
	// The order of the reads matters, so that a Status never looks more
	// drained than the pipeline is: the poller counts a record processed
	// only after the proxy noted its object stored; the relay notes a
	// notification only after queueing its events (Relay.Notified); and an
	// event stops being pending only after its delivery.
	st := p.Poller.Stats()
	stored := p.S3Faults.Stored()
	notified := p.Relay.Notified()
	s := Status{StreamRecords: st.Records, Processed: st.Processed, Invocations: st.Invocations,
		ObjectEvents: len(p.Relay.Arrived())}
	s.PendingEvents = p.Relay.Pending()
	for _, key := range stored {
		if !notified[key] {
			s.EventsInTransit++
		}
	}
	if p.Workspace != nil {
		// Each mode leaves its own trace: a file, a DBFS file, a run, a load.
		s.Delivered = len(p.Workspace.Files()) + len(p.Workspace.DBFSFiles()) + len(p.Workspace.Runs()) + len(p.Workspace.Loads())
	}
	return s
}

// progressEvery paces Drain's progress reports; it decides nothing.
const progressEvery = 2 * time.Second

// Drain waits until records stream records have been processed, every
// object written has had its event notification, every object event has
// been handled and, with the fake workspace, every object has been
// delivered. It sleeps on the parts' Changed channels and looks at the
// state only when one of them changed, so no interval or grace period
// decides when the pipeline is drained; ctx bounds the wait.
func (p *Pipeline) Drain(ctx context.Context, records int, progress func(Status)) error {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		// Taken before the state is read: a change after the read closes
		// one of them, so no change is missed.
		polled, stored, relayed := p.Poller.Changed(), p.S3Faults.Changed(), p.Relay.Changed()
		s := p.Status()
		settled := s.PendingEvents == 0 && s.EventsInTransit == 0
		if s.Processed >= records && settled && (p.Workspace == nil || s.Delivered >= s.ObjectEvents) {
			return nil
		}
		if failed := p.Relay.Failed(); len(failed) > 0 && settled && s.Processed >= records {
			return fmt.Errorf("%d object events went to the forwarder's on-failure destination; first: %s", len(failed), failed[0])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pipeline did not drain: %+v: %w", s, ctx.Err())
		case <-polled:
		case <-stored:
		case <-relayed:
		case <-tick.C:
			if progress != nil {
				progress(s)
			}
		}
	}
}

// Line is one record as found in S3.
type Line struct {
	Seq, Item, Op, Amount string
	V                     int
	TTL                   bool
}

// Object is one data object as found in S3.
type Object struct {
	Key    string
	SHA256 string
	Lines  []Line
}

// ReadObjects reads every object under prefix.
func (p *Pipeline) ReadObjects(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	pager := s3.NewListObjectsV2Paginator(p.S3Client, &s3.ListObjectsV2Input{Bucket: aws.String(p.Opts.Bucket), Prefix: aws.String(prefix)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			obj, err := p.readObject(ctx, aws.ToString(o.Key))
			if err != nil {
				return nil, err
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

func (p *Pipeline) readObject(ctx context.Context, key string) (Object, error) {
	got, err := p.S3Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.Opts.Bucket), Key: aws.String(key)})
	if err != nil {
		return Object{}, fmt.Errorf("get %s: %w", key, err)
	}
	defer got.Body.Close()
	raw, err := io.ReadAll(got.Body)
	if err != nil {
		return Object{}, err
	}
	sum := sha256.Sum256(raw)
	obj := Object{Key: key, SHA256: hex.EncodeToString(sum[:])}
	lines, err := gunzipLines(raw)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", key, err)
	}
	for _, l := range lines {
		var rec struct {
			Seq       string `json:"sequenceNumber"`
			EventName string `json:"eventName"`
			Keys      struct {
				PK string `json:"pk"`
			} `json:"keys"`
			NewImage map[string]json.RawMessage `json:"newImage"`
			OldImage map[string]json.RawMessage `json:"oldImage"`
			TTL      bool                       `json:"ttlDelete"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			return Object{}, fmt.Errorf("%s: line %q: %w", key, l, err)
		}
		img := rec.NewImage
		if rec.EventName == "REMOVE" {
			img = rec.OldImage
		}
		v, _ := strconv.Atoi(string(img["v"]))
		obj.Lines = append(obj.Lines, Line{Seq: rec.Seq, Item: rec.Keys.PK, Op: rec.EventName, V: v, Amount: string(img["amount"]), TTL: rec.TTL})
	}
	return obj, nil
}

func gunzipLines(raw []byte) ([][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out, sc.Err()
}

// ReadErrorLines returns the lines of every object under _errors/ (but
// not malformed payloads).
func (p *Pipeline) ReadErrorLines(ctx context.Context) ([]string, error) {
	var out []string
	pager := s3.NewListObjectsV2Paginator(p.S3Client, &s3.ListObjectsV2Input{Bucket: aws.String(p.Opts.Bucket), Prefix: aws.String(p.Opts.Prefix + "/" + objectkey.ErrorsDir + "/table=")})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			got, err := p.S3Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(p.Opts.Bucket), Key: o.Key})
			if err != nil {
				return nil, err
			}
			raw, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil {
				return nil, err
			}
			lines, err := gunzipLines(raw)
			if err != nil {
				return nil, err
			}
			for _, l := range lines {
				out = append(out, string(l))
			}
		}
	}
	return out, nil
}

// Report compares what was written with what arrived.
type Report struct {
	Changes, Items, StreamRecords          int
	Objects, ErrorObjects                  int
	RecordsInS3, Duplicates, Missing       int
	OutOfOrder, Unexpected, InexactNumbers int
	DeliveredObjects, RecordsDelivered     int
	UndeliveredObjects                     int
	ExactlyOnce                            bool
	LagP50, LagP99                         time.Duration
	Problems                               []string
}

func (r *Report) problem(format string, args ...any) {
	if len(r.Problems) < 20 {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// Verify checks that every change arrived exactly once and in order per
// item, in S3 and (with the fake workspace) at Databricks.
func (p *Pipeline) Verify(ctx context.Context, load *Load) (Report, error) {
	r := Report{Changes: load.Total, Items: load.Items, StreamRecords: p.Poller.Stats().Records}
	objects, err := p.ReadObjects(ctx, objectkey.DataPrefix(p.Opts.Prefix))
	if err != nil {
		return r, err
	}
	errObjects, err := p.ReadObjects(ctx, p.Opts.Prefix+"/"+objectkey.ErrorsDir+"/table=")
	if err != nil {
		return r, err
	}
	r.Objects, r.ErrorObjects = len(objects), len(errObjects)
	seen := map[string]string{}
	byItem := map[string][]Line{}
	objectOf := map[Line]string{}
	for _, o := range objects {
		for _, l := range o.Lines {
			r.RecordsInS3++
			if prev, dup := seen[l.Seq]; dup {
				r.Duplicates++
				r.problem("record %s in %s and %s", l.Seq, prev, o.Key)
				continue
			}
			seen[l.Seq] = o.Key
			byItem[l.Item] = append(byItem[l.Item], l)
			objectOf[l] = o.Key
			if l.Op != "REMOVE" && l.Amount != Amount {
				r.InexactNumbers++
				r.problem("item %s v%d: amount %s, written %s", l.Item, l.V, l.Amount, Amount)
			}
		}
	}
	arrived := p.Relay.Arrived()
	var lags []time.Duration
	for item, want := range load.ByItem {
		got := byItem[item]
		sort.Slice(got, func(i, j int) bool { return seqLess(got[i].Seq, got[j].Seq) })
		for i, w := range want {
			if i >= len(got) {
				r.Missing += len(want) - i
				r.problem("item %s: %d of %d changes missing from %s %d", item, len(want)-i, len(want), w.Op, w.V)
				break
			}
			g := got[i]
			if g.Op != w.Op || g.V != w.V {
				r.OutOfOrder++
				r.problem("item %s change %d: got %s v%d, want %s v%d", item, i, g.Op, g.V, w.Op, w.V)
			}
			if at, ok := arrived[objectOf[g]]; ok {
				lags = append(lags, at.Sub(w.At))
			}
		}
		if len(got) > len(want) {
			r.Unexpected += len(got) - len(want)
			r.problem("item %s: %d records more than changes written", item, len(got)-len(want))
		}
		delete(byItem, item)
	}
	for item, got := range byItem {
		r.Unexpected += len(got)
		r.problem("item %s: %d records for an item never written", item, len(got))
	}
	if len(lags) > 0 {
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		r.LagP50, r.LagP99 = lags[len(lags)*50/100], lags[min(len(lags)-1, len(lags)*99/100)]
	}
	if p.Workspace != nil && p.mode() == "volume" {
		files := p.Workspace.Files()
		for _, o := range objects {
			path := strings.ReplaceAll(p.Opts.VolumePath, "{key}", o.Key)
			f, ok := files[path]
			if !ok || f.SHA256 != o.SHA256 {
				r.UndeliveredObjects++
				r.problem("object %s not delivered intact to %s", o.Key, path)
				continue
			}
			r.DeliveredObjects++
			lines, err := gunzipLines(f.Data)
			if err != nil {
				return r, fmt.Errorf("delivered %s: %w", path, err)
			}
			r.RecordsDelivered += len(lines)
		}
	}
	r.ExactlyOnce = r.Duplicates == 0 && r.Missing == 0 && r.OutOfOrder == 0 && r.Unexpected == 0 &&
		r.InexactNumbers == 0 && r.RecordsInS3 == r.Changes &&
		(p.Workspace == nil || p.mode() != "volume" || (r.UndeliveredObjects == 0 && r.RecordsDelivered == r.Changes))
	return r, nil
}

// mode is the forwarder's delivery mode.
func (p *Pipeline) mode() string {
	if m := p.Opts.ForwarderEnv["DELIVERY_MODE"]; m != "" {
		return m
	}
	return "volume"
}

// String is the summary make local prints.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "changes written to DynamoDB:   %d (over %d items)\n", r.Changes, r.Items)
	fmt.Fprintf(&b, "stream records read:          %d\n", r.StreamRecords)
	fmt.Fprintf(&b, "S3 objects:                   %d data, %d under _errors/\n", r.Objects, r.ErrorObjects)
	fmt.Fprintf(&b, "records in S3:                %d (duplicates %d, missing %d, out of order %d, unexpected %d, inexact numbers %d)\n",
		r.RecordsInS3, r.Duplicates, r.Missing, r.OutOfOrder, r.Unexpected, r.InexactNumbers)
	fmt.Fprintf(&b, "delivered to Databricks:      %d objects, %d records (%d objects not delivered)\n", r.DeliveredObjects, r.RecordsDelivered, r.UndeliveredObjects)
	fmt.Fprintf(&b, "lag DynamoDB write -> S3:     p50 %s, p99 %s\n", r.LagP50.Round(time.Millisecond), r.LagP99.Round(time.Millisecond))
	verdict := "YES: every change arrived exactly once, in order per item"
	if !r.ExactlyOnce {
		verdict = "NO"
	}
	fmt.Fprintf(&b, "exactly once:                 %s\n", verdict)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	return b.String()
}
