package emf

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestEmitWritesEMF(t *testing.T) {
	var out bytes.Buffer
	e := New(&out, "Pipeline", WithDimension("FunctionName", `fn"1`))
	if err := e.Emit(time.UnixMilli(1700000000123), Metric{"Records", Count, 12}, Metric{"Latency", Milliseconds, 1.5}); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(out.Bytes(), []byte("}\n")) || bytes.Count(out.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("want exactly one line, got %q", out.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"_aws": map[string]any{
			"Timestamp": 1700000000123.0,
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "Pipeline",
				"Dimensions": []any{[]any{"FunctionName"}},
				"Metrics": []any{
					map[string]any{"Name": "Records", "Unit": "Count"},
					map[string]any{"Name": "Latency", "Unit": "Milliseconds"},
				},
			}},
		},
		"FunctionName": `fn"1`,
		"Records":      12.0,
		"Latency":      1.5,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestEmitWithoutDimensions(t *testing.T) {
	var out bytes.Buffer
	if err := New(&out, "N").Emit(time.Unix(0, 0), Metric{"A", Bytes, 1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte(`"Dimensions":[[]]`)) || !json.Valid(out.Bytes()) {
		t.Errorf("got %s", out.String())
	}
}
