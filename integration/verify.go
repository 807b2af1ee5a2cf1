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

	"github.com/ddbstream/pipeline/integration/s3faults"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// Status is a snapshot of progress.
type Status struct {
	StreamRecords, Processed, Invocations, ObjectEvents, Delivered, PendingEvents int
	// EventsInTransit counts objects S3 stored whose event notification
	// has not reached the relay yet: the S3 server sends it after the
	// write, so a drained poller does not mean every event is known.
	EventsInTransit int
	// Conversions counts the converter's asynchronous invocations queued,
	// running or waiting for a retry.
	Conversions int
}

// Status reports progress so far.
func (p *Pipeline) Status() Status {
	st := p.Poller.Stats()
	var stored []string
	for _, proxy := range []*s3faults.Proxy{p.S3Faults, p.ConverterS3Faults, p.exportWrites} {
		stored = append(stored, proxy.Stored()...)
	}
	notified := p.Relay.Notified()
	s := Status{StreamRecords: st.Records, Processed: st.Processed, Invocations: st.Invocations,
		ObjectEvents: len(p.Relay.Arrived())}
	s.PendingEvents = p.Relay.Pending()
	s.Conversions = p.Lambda.Pending()
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
// object written has had its event notification, every event has been
// handled (the forwarder's and the export planner's), every conversion
// has ended and, with the fake workspace, every object has been
// delivered. After a backfill, call it once Backfill has returned. It
// sleeps on the parts' Changed channels and looks at the state only when
// one of them changed, so no interval or grace period decides when the
// pipeline is drained; ctx bounds the wait.
//
// A drained state is taken only when no part changed while it was read:
// the parts hand work to each other in a circle (an export's summary
// starts the planner, which starts conversions, whose objects start
// deliveries), so no order of reading them alone can rule out a hand-over
// between two reads.
func (p *Pipeline) Drain(ctx context.Context, records int, progress func(Status)) error {
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	for {
		// Taken before the state is read: a change after the read closes
		// one of them, so no change is missed.
		changed := []<-chan struct{}{p.Poller.Changed(), p.S3Faults.Changed(), p.ConverterS3Faults.Changed(),
			p.exportWrites.Changed(), p.Relay.Changed(), p.Lambda.Changed(), p.Exports.Changed()}
		s := p.Status()
		settled := s.PendingEvents == 0 && s.EventsInTransit == 0 && s.Conversions == 0 && !anyClosed(changed)
		if s.Processed >= records && settled && (p.Workspace == nil || s.Delivered >= s.ObjectEvents) {
			return nil
		}
		if settled && s.Processed >= records {
			if failed := p.Relay.Failed(); len(failed) > 0 {
				return fmt.Errorf("%d object events went to the forwarder's on-failure destination; first: %s", len(failed), failed[0])
			}
			if failed := p.PlannerRoute.Failed(); len(failed) > 0 {
				return fmt.Errorf("%d export events went to the export planner's on-failure destination; first: %s", len(failed), failed[0])
			}
			if failed := p.Lambda.Failed(); len(failed) > 0 {
				return fmt.Errorf("%d conversions went to the converter's on-failure destination; first: %s: %s", len(failed), failed[0].Payload, failed[0].Error)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pipeline did not drain: %+v: %w", s, ctx.Err())
		case <-changed[0]:
		case <-changed[1]:
		case <-changed[2]:
		case <-changed[3]:
		case <-changed[4]:
		case <-changed[5]:
		case <-changed[6]:
		case <-tick.C:
			if progress != nil {
				progress(s)
			}
		}
	}
}

// anyClosed reports whether any of chs is closed: a part changed.
func anyClosed(chs []<-chan struct{}) bool {
	for _, ch := range chs {
		select {
		case <-ch:
			return true
		default:
		}
	}
	return false
}

// Line is one record as found in S3: a stream record, or a snapshot row
// of a table export (Op SNAPSHOT, no Seq).
type Line struct {
	Seq, Item, Op, Amount string
	// EventID is the line's eventID: for a snapshot row
	// "<export ID>/<data file>:<line>".
	EventID string
	V       int
	TTL     bool
}

// Snapshot reports whether the line is a snapshot row, not a change.
func (l Line) Snapshot() bool { return l.Op == record.EventSnapshot }

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
			EventID   string                     `json:"eventID"`
			Seq       string                     `json:"sequenceNumber"`
			EventName string                     `json:"eventName"`
			Keys      json.RawMessage            `json:"keys"`
			NewImage  map[string]json.RawMessage `json:"newImage"`
			OldImage  map[string]json.RawMessage `json:"oldImage"`
			TTL       bool                       `json:"ttlDelete"`
		}
		if err := json.Unmarshal(l, &rec); err != nil {
			return Object{}, fmt.Errorf("%s: line %q: %w", key, l, err)
		}
		img := rec.NewImage
		if rec.EventName == "REMOVE" {
			img = rec.OldImage
		}
		v, _ := strconv.Atoi(string(img["v"]))
		obj.Lines = append(obj.Lines, Line{Seq: rec.Seq, EventID: rec.EventID, Item: itemOf(rec.Keys), Op: rec.EventName, V: v,
			Amount: string(img["amount"]), TTL: rec.TTL})
	}
	return obj, nil
}

// itemOf names a line's item: the load generator's string pk, or, for
// other keys, the keys field as written.
func itemOf(keys json.RawMessage) string {
	var k map[string]json.RawMessage
	var pk string
	if json.Unmarshal(keys, &k) == nil && len(k) == 1 && json.Unmarshal(k["pk"], &pk) == nil {
		return pk
	}
	return string(keys)
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
	// SnapshotObjects and SnapshotRows are a backfill's objects and rows
	// (eventName SNAPSHOT): items as exported, not changes, so they are
	// counted apart. SnapshotDuplicates counts rows found twice: the same
	// eventID, or the same item twice in one export.
	SnapshotObjects, SnapshotRows, SnapshotDuplicates int
	// DeleteObjects and DeleteLines are a backfill's delete lines
	// (REMOVEs at the snapshot's rank of items its export lacked).
	DeleteObjects, DeleteLines         int
	DeliveredObjects, RecordsDelivered int
	UndeliveredObjects                 int
	ExactlyOnce                        bool
	LagP50, LagP99                     time.Duration
	Problems                           []string
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
// item, in S3 and (with the fake workspace) at Databricks, and that no
// snapshot row of a backfill arrived twice.
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
	r.ErrorObjects = len(errObjects)
	seen := map[string]string{}
	snapshotRows := map[string]string{} // eventID, and export ID + item, to object
	byItem := map[string][]Line{}
	objectOf := map[Line]string{}
	for _, o := range objects {
		parts, err := objectkey.Parse(o.Key)
		if err == nil && parts.Snapshot && parts.DataFile == record.SnapshotDeletes {
			r.DeleteObjects++
			for _, l := range o.Lines {
				r.DeleteLines++
				if l.Op != record.EventRemove {
					r.Unexpected++
					r.problem("%s: a %s line among the delete lines", o.Key, l.Op)
				}
			}
			continue
		}
		if err == nil && parts.Snapshot {
			r.SnapshotObjects++
			for _, l := range o.Lines {
				r.SnapshotRows++
				exportID, _, _ := strings.Cut(l.EventID, "/")
				for _, id := range []string{"eventID " + l.EventID, "export " + exportID + " item " + l.Item} {
					if prev, dup := snapshotRows[id]; dup {
						r.SnapshotDuplicates++
						r.problem("snapshot row %s in %s and %s", id, prev, o.Key)
						break
					}
					snapshotRows[id] = o.Key
				}
				if !l.Snapshot() {
					r.Unexpected++
					r.problem("%s: a %s line in a snapshot object", o.Key, l.Op)
				}
			}
			continue
		}
		r.Objects++
		for _, l := range o.Lines {
			if l.Snapshot() {
				r.Unexpected++
				r.problem("%s: a snapshot row in a stream object", o.Key)
				continue
			}
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
		r.InexactNumbers == 0 && r.RecordsInS3 == r.Changes && r.SnapshotDuplicates == 0 &&
		(p.Workspace == nil || p.mode() != "volume" || (r.UndeliveredObjects == 0 && r.RecordsDelivered == r.Changes+r.SnapshotRows))
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
	fmt.Fprintf(&b, "S3 objects:                   %d data, %d snapshot, %d under _errors/\n", r.Objects, r.SnapshotObjects, r.ErrorObjects)
	fmt.Fprintf(&b, "records in S3:                %d (duplicates %d, missing %d, out of order %d, unexpected %d, inexact numbers %d)\n",
		r.RecordsInS3, r.Duplicates, r.Missing, r.OutOfOrder, r.Unexpected, r.InexactNumbers)
	if r.SnapshotObjects > 0 || r.SnapshotRows > 0 {
		fmt.Fprintf(&b, "snapshot rows in S3:          %d (duplicates %d)\n", r.SnapshotRows, r.SnapshotDuplicates)
	}
	if r.DeleteObjects > 0 {
		fmt.Fprintf(&b, "backfill delete lines in S3:  %d in %d objects\n", r.DeleteLines, r.DeleteObjects)
	}
	fmt.Fprintf(&b, "delivered to Databricks:      %d objects, %d records (%d objects not delivered)\n", r.DeliveredObjects, r.RecordsDelivered, r.UndeliveredObjects)
	fmt.Fprintf(&b, "lag DynamoDB write -> S3:     p50 %s, p99 %s\n", r.LagP50.Round(time.Millisecond), r.LagP99.Round(time.Millisecond))
	verdict := "YES: every change arrived exactly once, in order per item"
	if r.SnapshotRows > 0 {
		verdict += "; every snapshot row once"
	}
	if !r.ExactlyOnce {
		verdict = "NO"
	}
	fmt.Fprintf(&b, "exactly once:                 %s\n", verdict)
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  problem: %s\n", p)
	}
	return b.String()
}
