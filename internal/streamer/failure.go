package streamer

import "errors"

// The partial-failure rule: what a batch's puts made durable, and where
// Lambda resumes. It is pure, so that the rule is read and tested in one
// place, apart from S3, logs and metrics.

// put is one object of a batch as the rule sees it: where its records
// start, and what became of its PutObject.
type put struct {
	// first is the batch index of the object's first record, and
	// firstSeq that record's sequence number (nil when it has none).
	first    int
	firstSeq []byte
	// made says the put was attempted; err is its error, nil when S3
	// acknowledged the object (a 412 on a content-proving key included).
	made bool
	err  error
}

// written reports whether S3 holds the object.
func (p put) written() bool { return p.made && p.err == nil }

// verdict is what the rule decided for a batch.
type verdict struct {
	// written counts the objects durably written: those before the first
	// put that failed or was never made.
	written int
	// err is the failed put's error; nil when every object was written.
	err error
	// failed counts the records from the lowest not durably written on,
	// the FailedRecords metric: those Lambda delivers again when it
	// resumes at resumeAt. When whole is set, Lambda delivers the whole
	// batch again, which may be more.
	failed int
	// resumeAt is the sequence number to report in batchItemFailures: the
	// lowest not durably written. Nil when nothing is reported, either
	// because all was written or because whole is set.
	resumeAt []byte
	// whole fails the invocation so that Lambda retries the whole batch:
	// the lowest record not written has no sequence number to name, or
	// ReportBatchItemFailures is off and Lambda would read a partial
	// answer as success.
	whole bool
}

// errNotPut stands for an object that was never put although no put
// failed: the rule never acknowledges records that are not in S3.
var errNotPut = errors.New("object not put")

// decide applies the rule to a batch of records records whose objects,
// in the order they are put (the errors object first), ended as puts
// says. A failed put stops the batch: no object after it counts as
// written, even had it been put, so a retry never covers records already
// durable under another key. Lambda resumes at the lowest record, by
// position in the batch, among the objects not written; it delivers that
// record and every one after it again.
func decide(records int, puts []put, reportItemFailures bool) verdict {
	var v verdict
	lowest := records // position of the lowest record not written
	var lowestSeq []byte
	for _, p := range puts {
		if v.err == nil && p.written() {
			v.written++
			continue
		}
		if v.err == nil {
			v.err = p.err
			if v.err == nil {
				v.err = errNotPut
			}
		}
		if p.first < lowest {
			lowest, lowestSeq = p.first, p.firstSeq
		}
	}
	if v.err == nil {
		return v
	}
	v.failed = records - lowest
	if lowestSeq == nil || !reportItemFailures {
		v.whole = true
		return v
	}
	v.resumeAt = lowestSeq
	return v
}
