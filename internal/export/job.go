package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// Job asks the converter to convert one data file of one export. The
// planner sends it as the payload of an asynchronous invocation, and a
// local harness may build one the same way; it carries everything the
// converter needs, so the converter calls neither DynamoDB nor reads the
// manifests. Where the rows go (bucket, prefix, format) is the
// converter's own configuration, never the Job's.
//
//	{"exportArn":"arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/export/01795449600123-5f1c2e3a",
//	 "exportTime":"2026-11-23T16:00:00.123Z","table":"Orders","partitionKey":"pk","sortKey":"sk",
//	 "bucket":"lake-backfill","dataFileKey":"exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz",
//	 "itemCount":3,"md5Checksum":"sQMSpEILNgoQmarvDFonGQ==","etag":"af83d6f217c19b8b0fff8023d8ca4716-1"}
type Job struct {
	// ExportArn is the export's ARN; its last part, the export ID, names
	// the objects and goes into every line's eventID.
	ExportArn string `json:"exportArn"`
	// ExportTime is the point in time the export reflects (the summary's
	// exportTime): the rows' approximateCreationDateTime, order key and
	// dt=/hour= partition.
	ExportTime time.Time `json:"exportTime"`
	// Table is the exported table's name, the rows' table field and
	// table= partition.
	Table string `json:"table"`
	// PartitionKey and SortKey are the table's key schema (DescribeTable),
	// which an export does not carry; SortKey is empty for a table
	// without one.
	PartitionKey string `json:"partitionKey"`
	SortKey      string `json:"sortKey,omitempty"`
	// Bucket and DataFileKey locate the data file, the key resolved as
	// Location.Resolve does.
	Bucket      string `json:"bucket"`
	DataFileKey string `json:"dataFileKey"`
	// ItemCount is the manifest's itemCount for the file: the converter
	// fails the file unless it read exactly this many items.
	ItemCount int64 `json:"itemCount"`
	// MD5Checksum is the manifest's md5Checksum, base64; empty skips the
	// check.
	MD5Checksum string `json:"md5Checksum,omitempty"`
	// ETag is the manifest's etag, for logs.
	ETag string `json:"etag,omitempty"`
}

// DataFileSuffix ends the name of every data file of a DYNAMODB_JSON
// export ("data/<name>.json.gz" in the output format's documentation).
const DataFileSuffix = ".json.gz"

// maxJobBytes bounds a Job payload: a real one is well under 1 KB.
const maxJobBytes = 64 << 10

// ParseJob decodes and checks a Job. Unknown fields are refused: the
// planner and the converter are deployed together, and a field the
// converter does not know would be an instruction it silently ignored.
func ParseJob(payload []byte) (Job, error) {
	if len(payload) > maxJobBytes {
		return Job{}, fmt.Errorf("job: payload of %d bytes is larger than %d", len(payload), maxJobBytes)
	}
	var j Job
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Job{}, fmt.Errorf("job: not a JSON Job: %w", err)
	}
	if dec.More() {
		return Job{}, errors.New("job: data after the Job object")
	}
	if err := j.Validate(); err != nil {
		return Job{}, err
	}
	return j, nil
}

// Validate checks every field, naming each bad one.
func (j Job) Validate() error {
	var bad []string
	if _, _, err := ParseExportArn(j.ExportArn); err != nil {
		bad = append(bad, err.Error())
	}
	if j.Bucket == "" {
		bad = append(bad, "bucket is missing")
	}
	if _, err := j.dataFileStem(); err != nil {
		bad = append(bad, err.Error())
	}
	if j.ItemCount < 0 {
		bad = append(bad, fmt.Sprintf("itemCount %d is negative", j.ItemCount))
	}
	if _, err := DecodeMD5(j.MD5Checksum); err != nil {
		bad = append(bad, err.Error())
	}
	if len(bad) == 0 {
		s := j.Snapshot()
		if err := s.Validate(); err != nil {
			bad = append(bad, err.Error())
		}
		if _, err := objectkey.Snapshot(j.Objects("")); err != nil {
			bad = append(bad, err.Error())
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("job: %s", strings.Join(bad, "; "))
	}
	return nil
}

// ExportID is the last part of the export ARN, such as
// 01795449600123-5f1c2e3a.
func (j Job) ExportID() string {
	_, id, _ := ParseExportArn(j.ExportArn)
	return id
}

// DataFileName is the data file's name, such as
// 4vbnz2r2wy2hrjsyqifh7xkdsq.json.gz.
func (j Job) DataFileName() string { return path.Base(j.DataFileKey) }

func (j Job) dataFileStem() (string, error) {
	stem, ok := strings.CutSuffix(j.DataFileName(), DataFileSuffix)
	if j.DataFileKey == "" || !ok || stem == "" {
		return "", fmt.Errorf("dataFileKey %q is not a data file .../<name>%s", j.DataFileKey, DataFileSuffix)
	}
	return stem, nil
}

// Snapshot is what every line converted from the file says of its
// source (record.ConvertItem); its DataFile is the file's name with its
// extension, as in eventIDs.
func (j Job) Snapshot() record.Snapshot {
	return record.Snapshot{
		Table:      j.Table,
		Keys:       record.KeySchema{PartitionKey: j.PartitionKey, SortKey: j.SortKey},
		ExportTime: j.ExportTime,
		ExportID:   j.ExportID(),
		DataFile:   j.DataFileName(),
	}
}

// Objects names the file's data and errors objects under prefix
// (objectkey.Snapshot, objectkey.SnapshotErrors).
func (j Job) Objects(prefix string) objectkey.SnapshotFile {
	stem, _ := j.dataFileStem()
	return objectkey.SnapshotFile{Prefix: prefix, Table: j.Table, ExportID: j.ExportID(), DataFile: stem, ExportTime: j.ExportTime}
}
