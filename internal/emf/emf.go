package emf

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"sync"
	"time"
)

// DefaultNamespace is the CloudWatch namespace of the pipeline's metrics
// unless METRICS_NAMESPACE (or the stack's metricsNamespace) says
// otherwise. Both functions and the stack default to it, so that the
// alarms and dashboard read the namespace the functions write.
const DefaultNamespace = "DynamoDBStreamPipeline"

// Unit is a CloudWatch metric unit.
type Unit string

// Units the pipeline uses.
const (
	Count        Unit = "Count"
	Bytes        Unit = "Bytes"
	Milliseconds Unit = "Milliseconds"
)

// Metric is one value to record.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Emitter writes one EMF line per Emit call.
type Emitter struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	dims      [][2]string
}

// Option configures an Emitter.
type Option func(*Emitter)

// WithDimension adds a dimension, such as FunctionName, to every metric.
func WithDimension(name, value string) Option {
	return func(e *Emitter) { e.dims = append(e.dims, [2]string{name, value}) }
}

// New returns an Emitter writing to w, usually os.Stdout.
func New(w io.Writer, namespace string, opts ...Option) *Emitter {
	e := &Emitter{w: w, namespace: namespace}
	for _, o := range opts {
		o(e)
	}
	return e
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}

// Emit writes the metrics as one EMF line stamped with t.
func (e *Emitter) Emit(t time.Time, metrics ...Metric) error {
	var b []byte
	b = append(b, `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, t.UnixMilli(), 10)
	b = append(b, `,"CloudWatchMetrics":[{"Namespace":`...)
	b = appendString(b, e.namespace)
	b = append(b, `,"Dimensions":[[`...)
	for i, d := range e.dims {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, d[0])
	}
	b = append(b, `]],"Metrics":[`...)
	for i, m := range metrics {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Name":`...)
		b = appendString(b, m.Name)
		b = append(b, `,"Unit":`...)
		b = appendString(b, string(m.Unit))
		b = append(b, '}')
	}
	b = append(b, `]}]}`...)
	for _, d := range e.dims {
		b = append(b, ',')
		b = appendString(b, d[0])
		b = append(b, ':')
		b = appendString(b, d[1])
	}
	for _, m := range metrics {
		b = append(b, ',')
		b = appendString(b, m.Name)
		b = append(b, ':')
		b = strconv.AppendFloat(b, m.Value, 'f', -1, 64)
	}
	b = append(b, "}\n"...)
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := io.Copy(e.w, bytes.NewReader(b))
	return err
}
