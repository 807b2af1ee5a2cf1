package requestlog

import (
	"maps"
	"sync"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/testing/authz"
)

// Anonymous is the principal of a request that carries no SigV4
// credential at all: AWS would evaluate it as anonymous.
const Anonymous = "anonymous"

// UnknownKey begins the principal of a request signed with an access key
// ID the Log was not given, followed by that key ID (empty when the
// Authorization header has no Credential to read one from), so that a
// client signing with the wrong key shows up rather than vanishing.
const UnknownKey = "unknown:"

// UnknownOperation begins the Operation of a request the Log could not
// name, followed by why: an unknown X-Amz-Target, a body that is not
// JSON, an S3 request shape no operation has. The request is recorded
// anyway, so that the evaluation fails on it rather than missing it.
const UnknownOperation = "unknown: "

// Log records the AWS requests made at the local endpoints, by principal.
// It is safe for concurrent use.
type Log struct {
	principals map[string]string

	mu      sync.Mutex
	entries []entry
}

type entry struct {
	principal string
	call      iam.Call
}

// New returns a Log that attributes a request to principals[access key
// ID], the principal whose local credentials signed it.
func New(principals map[string]string) *Log {
	return &Log{principals: maps.Clone(principals)}
}

// Add records a call an AWS service makes on a principal's behalf outside
// any HTTP endpoint: a Lambda destination's SendMessage with the
// function's role, EventBridge invoking a function as
// events.amazonaws.com.
func (l *Log) Add(principal string, c iam.Call) {
	l.mu.Lock()
	l.entries = append(l.entries, entry{principal, c})
	l.mu.Unlock()
}

// Entries returns every call recorded so far, in the order recorded (an
// HTTP request when its handler returned, an Add when it was made), each
// with Where set to where, so that the caller can tell the runs apart
// once several are pooled.
func (l *Log) Entries(where string) []authz.Recorded {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]authz.Recorded, len(l.entries))
	for i, e := range l.entries {
		out[i] = authz.Recorded{Principal: e.principal, Call: e.call, Where: where}
	}
	return out
}

// principal names who signed with cred.
func (l *Log) principal(cred credential) string {
	if !cred.signed {
		return Anonymous
	}
	if p, ok := l.principals[cred.keyID]; ok && cred.keyID != "" {
		return p
	}
	return UnknownKey + cred.keyID
}
