package objectkey

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Suffix ends every data and error object key.
const Suffix = ".jsonl.gz"

// ErrorsDir is the folder, under the prefix, that holds error objects.
const ErrorsDir = "_errors"

// Batch holds what names a batch's objects.
type Batch struct {
	Prefix string
	Table  string
	// Stream is the stream label from the event source ARN, such as
	// 2026-11-01T00:00:00.000; only its letters and digits are used.
	Stream        string
	FirstSequence string
	LastSequence  string
	// Created is the first record's approximate creation time.
	Created time.Time
}

// Data returns the key of the batch's data object.
func Data(b Batch) string { return join(b.Prefix, b.path()) }

// Errors returns the key of the object holding the batch's records that
// could not be converted, named by the batch's sequence numbers. Use it
// only when those prove the object's content; otherwise ErrorsByContent.
func Errors(b Batch) string { return join(b.Prefix, ErrorsDir+"/"+b.path()) }

// ContentMarker stands where the first sequence number would be in the
// name of an errors object named by its content. Sequence numbers are
// digits, so the two forms cannot be confused.
const ContentMarker = "sha256"

// ErrorsByContent returns the key of an errors object named by sum, the
// SHA-256 of its uncompressed content, for batches whose sequence numbers
// cannot prove what the object holds:
//
//	<prefix>/_errors/table=<table>/dt=…/hour=…/<stream>-sha256-<64 hex>.jsonl.gz
//
// A retry of the same records lands on the same key and different records
// on a different key, so a 412 on this key always means "same content".
// b's sequence numbers are ignored.
func ErrorsByContent(b Batch, sum [sha256.Size]byte) string {
	b.FirstSequence, b.LastSequence = ContentMarker, hex.EncodeToString(sum[:])
	return join(b.Prefix, ErrorsDir+"/"+b.path())
}

// DataPrefix returns the prefix shared by every data key and no error key,
// for the forwarder's EventBridge rule and KEY_PREFIX.
func DataPrefix(prefix string) string { return join(prefix, "table=") }

// Malformed returns the key for a payload that is not a valid event, named
// by its SHA-256 so that a redelivered payload lands on the same key.
func Malformed(prefix string, payload []byte) string {
	sum := sha256.Sum256(payload)
	return join(prefix, ErrorsDir+"/malformed/"+hex.EncodeToString(sum[:])+".json.gz")
}

func (b Batch) path() string {
	t := b.Created.UTC()
	return fmt.Sprintf("table=%s/dt=%s/hour=%02d/%s-%s-%s%s",
		b.Table, t.Format("2006-01-02"), t.Hour(), compact(b.Stream), b.FirstSequence, b.LastSequence, Suffix)
}

func join(prefix, rest string) string {
	if prefix == "" {
		return rest
	}
	return prefix + "/" + rest
}

// compact keeps letters and digits: stream labels hold colons, which
// Hadoop-style paths (Spark, Databricks) cannot read.
func compact(s string) string {
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// ValidatePrefix checks a key prefix: empty, or segments of letters,
// digits and -_.=, separated by single slashes, with no slash at either end.
func ValidatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > 512 {
		return errors.New("prefix is longer than 512 bytes")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" {
			return errors.New("prefix must not start or end with '/' or contain '//'")
		}
		if seg == "." || seg == ".." {
			return fmt.Errorf("prefix segment %q is not allowed", seg)
		}
		for _, r := range seg {
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.=", r)) {
				return fmt.Errorf("prefix has character %q; use letters, digits and -_.=/", r)
			}
		}
	}
	return nil
}

// Parts are the pieces of a data or error key.
type Parts struct {
	Prefix string
	Table  string
	// Date is YYYY-MM-DD and Hour is HH, from the batch's first record.
	Date, Hour string
	Stream     string
	// FirstSequence and LastSequence bound the batch; both are empty for
	// a key named by its content.
	FirstSequence, LastSequence string
	// SHA256 is the hex SHA-256 of the uncompressed content of an errors
	// object named by ErrorsByContent; empty otherwise.
	SHA256 string
	// Name is the last path segment, such as 2026...-1-9.jsonl.gz.
	Name string
	// Errors is set for keys under _errors/.
	Errors bool
	// Snapshot is set for keys made by Snapshot and SnapshotErrors,
	// objects converted from a table export. Their Stream is
	// SnapshotMarker and FirstSequence and LastSequence hold the name's
	// other two fields (the export ID with '.' for '-', and the data
	// file), so that a name rebuilt from {stream}-{first}-{last} is still
	// the key's own.
	Snapshot bool
	// ExportID (as in the export ARN, with its '-') and DataFile name the
	// source of a snapshot key; both are empty for other keys.
	ExportID, DataFile string
}

// Parse splits a key made by Data, Errors, ErrorsByContent, Snapshot or
// SnapshotErrors, so that consumers (the forwarder's destination
// templates) can use its parts.
func Parse(key string) (Parts, error) {
	var p Parts
	segs := strings.Split(key, "/")
	if len(segs) < 4 {
		return p, fmt.Errorf("key %q has fewer than 4 segments", key)
	}
	n := len(segs)
	table, okT := strings.CutPrefix(segs[n-4], "table=")
	date, okD := strings.CutPrefix(segs[n-3], "dt=")
	hour, okH := strings.CutPrefix(segs[n-2], "hour=")
	if !okT || !okD || !okH || table == "" {
		return p, fmt.Errorf("key %q is not .../table=T/dt=D/hour=H/NAME", key)
	}
	if _, err := time.Parse("2006-01-02", date); err != nil {
		return p, fmt.Errorf("key %q: dt=%q is not a date", key, date)
	}
	if len(hour) != 2 || hour < "00" || hour > "23" {
		return p, fmt.Errorf("key %q: hour=%q is not 00-23", key, hour)
	}
	name := segs[n-1]
	base, ok := strings.CutSuffix(name, Suffix)
	fields := strings.Split(base, "-")
	if !ok || len(fields) != 3 {
		return p, fmt.Errorf("key %q: name %q is not <stream>-<first>-<last>%s", key, name, Suffix)
	}
	prefix := segs[:n-4]
	if len(prefix) > 0 && prefix[len(prefix)-1] == ErrorsDir {
		p.Errors = true
		prefix = prefix[:len(prefix)-1]
	}
	p.Prefix = strings.Join(prefix, "/")
	p.Table, p.Date, p.Hour, p.Name = table, date, hour, name
	p.Stream = fields[0]
	if p.Stream == SnapshotMarker {
		if !snapshotToken(fields[1], ".") || !snapshotToken(fields[2], "_") {
			return Parts{}, fmt.Errorf("key %q: name %q is not %s-<export ID>-<data file>%s", key, name, SnapshotMarker, Suffix)
		}
		p.Snapshot = true
		p.FirstSequence, p.LastSequence = fields[1], fields[2]
		p.ExportID, p.DataFile = strings.ReplaceAll(fields[1], ".", "-"), fields[2]
		return p, nil
	}
	if fields[1] != ContentMarker {
		p.FirstSequence, p.LastSequence = fields[1], fields[2]
		return p, nil
	}
	if !p.Errors {
		return Parts{}, fmt.Errorf("key %q: only errors keys are named by %s", key, ContentMarker)
	}
	if !isSHA256(fields[2]) {
		return Parts{}, fmt.Errorf("key %q: %q is not a hex SHA-256", key, fields[2])
	}
	p.SHA256 = fields[2]
	return p, nil
}

func isSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, r := range s {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') {
			return false
		}
	}
	return true
}

// SnapshotMarker stands where a stream label would be in the name of an
// object converted from a table export's data file. Stream labels are
// compacted timestamps (20261101T000000000) and error keys without a
// stream use "unknown", so no stream object's name starts with it.
const SnapshotMarker = "snapshot"

// SnapshotFile holds what names the objects converted from one data file
// of a DynamoDB table export.
type SnapshotFile struct {
	Prefix string
	Table  string
	// ExportID is the last part of the export ARN, such as
	// 01795449600123-5f1c2e3a: letters, digits and '-'.
	ExportID string
	// DataFile is the data file's name without its directory and
	// extension, such as 4vbnz2r2wy2hrjsyqifh7xkdsq: letters, digits and
	// '_'.
	DataFile string
	// ExportTime is the export's point in time; it gives dt= and hour=,
	// as a stream batch's first record does.
	ExportTime time.Time
}

// Snapshot returns the key of the data object converted from one export
// data file:
//
//	<prefix>/table=<table>/dt=YYYY-MM-DD/hour=HH/snapshot-<export ID>-<data file>.jsonl.gz
//
// with the export ID's '-' written as '.' (01795449600123.5f1c2e3a), so
// that the name keeps the <stream>-<first>-<last> form of stream objects:
// the forwarder's destination templates, which rebuild names from
// {stream}-{first}-{last}, stay unique for these keys too. The name is a
// function of the export and the data file only, so a retried conversion
// lands on the same key, and the key proves the content: a conditional
// write that finds it taken (412) means the file is already converted.
// It lives under DataPrefix, so the forwarder's rule delivers it as any
// stream object.
func Snapshot(f SnapshotFile) (string, error) {
	p, err := f.path()
	if err != nil {
		return "", err
	}
	return join(f.Prefix, p), nil
}

// SnapshotErrors returns the key of the object holding the lines of the
// same data file that could not be converted: Snapshot's name under
// <prefix>/_errors/.
func SnapshotErrors(f SnapshotFile) (string, error) {
	p, err := f.path()
	if err != nil {
		return "", err
	}
	return join(f.Prefix, ErrorsDir+"/"+p), nil
}

func (f SnapshotFile) path() (string, error) {
	if f.Table == "" || strings.ContainsAny(f.Table, "/") {
		return "", fmt.Errorf("snapshot key: table %q is not a table name", f.Table)
	}
	if !snapshotToken(f.ExportID, "-") {
		return "", fmt.Errorf("snapshot key: export ID %q: want letters, digits and '-'", f.ExportID)
	}
	if !snapshotToken(f.DataFile, "_") {
		return "", fmt.Errorf("snapshot key: data file %q: want letters, digits and '_'", f.DataFile)
	}
	t := f.ExportTime.UTC()
	return fmt.Sprintf("table=%s/dt=%s/hour=%02d/%s-%s-%s%s", f.Table, t.Format("2006-01-02"), t.Hour(),
		SnapshotMarker, strings.ReplaceAll(f.ExportID, "-", "."), f.DataFile, Suffix), nil
}

// snapshotToken reports whether s is non-empty and made of letters,
// digits and the characters in extra. Refusing anything else keeps the
// name's fields apart and the mapping from export to key one-to-one.
func snapshotToken(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune(extra, r)) {
			return false
		}
	}
	return true
}
