package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/function"
)

// testConfig is a function configuration read from one variable.
type testConfig struct{ Namespace string }

func loadTestConfig(lookup func(string) (string, bool)) (testConfig, error) {
	v, ok := lookup("NAMESPACE")
	if !ok {
		return testConfig{}, errors.New("NAMESPACE is not set: want a namespace")
	}
	return testConfig{Namespace: v}, nil
}

// testHandler records the Telemetry its constructor was given.
type testHandler struct{ tel function.Telemetry }

func (testHandler) Invoke(context.Context, []byte) ([]byte, error) { return []byte(`{}`), nil }

func TestBootstrap(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		awsErr     error
		buildErr   error
		expectErr  string
		expectLogs []string // "LEVEL msg error", one per line
	}{
		{"started", map[string]string{"NAMESPACE": "NS"}, nil, nil, "", nil},
		{"bad LOG_LEVEL is reported, INFO used", map[string]string{"NAMESPACE": "NS", "LOG_LEVEL": "LOUD"}, nil, nil, "",
			[]string{`WARN log level not understood LOG_LEVEL: unknown log level "LOUD" (want TRACE, DEBUG, INFO, WARN, ERROR or FATAL); logging at INFO`}},
		{"bad AWS_LAMBDA_LOG_LEVEL is reported", map[string]string{"NAMESPACE": "NS", "AWS_LAMBDA_LOG_LEVEL": "verbose"}, nil, nil, "",
			[]string{`WARN log level not understood AWS_LAMBDA_LOG_LEVEL: unknown log level "verbose" (want TRACE, DEBUG, INFO, WARN, ERROR or FATAL); logging at INFO`}},
		{"bad configuration stops the function", map[string]string{}, nil, nil, "NAMESPACE is not set: want a namespace",
			[]string{"ERROR fn not started NAMESPACE is not set: want a namespace"}},
		{"AWS configuration not loaded", map[string]string{"NAMESPACE": "NS"}, errors.New("no region"), nil, "load AWS configuration: no region",
			[]string{"ERROR fn not started load AWS configuration: no region"}},
		{"handler not built", map[string]string{"NAMESPACE": "NS", "LOG_LEVEL": "ERROR"}, nil, errors.New("fn config: bucket is required"), "fn config: bucket is required",
			[]string{"ERROR fn not started fn config: bucket is required"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			env := map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "stack-fn"}
			for k, v := range tc.env {
				env[k] = v
			}
			p := process{
				lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
				stdout: &stdout,
				loadAWS: func(context.Context) (aws.Config, error) {
					return aws.Config{Region: "eu-west-1"}, tc.awsErr
				},
			}
			built := false
			h, err := bootstrap(p, "fn", loadTestConfig, func(s Setup, cfg testConfig) (lambda.Handler, error) {
				built = true
				if s.AWS.Region != "eu-west-1" {
					t.Errorf("AWS configuration: got region %q, expect eu-west-1", s.AWS.Region)
				}
				if tc.buildErr != nil {
					return nil, tc.buildErr
				}
				return testHandler{function.NewTelemetry(s.Telemetry(cfg.Namespace)...)}, nil
			})

			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.expectErr {
				t.Errorf("error: got %q, expect %q", gotErr, tc.expectErr)
			}
			if got, expect := h != nil, tc.expectErr == ""; got != expect {
				t.Errorf("handler returned: got %v, expect %v", got, expect)
			}
			if got, expect := built, tc.expectErr == "" || tc.buildErr != nil; got != expect {
				t.Errorf("constructor called: got %v, expect %v", got, expect)
			}
			var gotLogs []string
			for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
				if l == "" {
					continue
				}
				var line map[string]any
				if err := json.Unmarshal([]byte(l), &line); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				gotLogs = append(gotLogs, strings.Join([]string{line["level"].(string), line["msg"].(string), line["error"].(string)}, " "))
			}
			if strings.Join(gotLogs, "\n") != strings.Join(tc.expectLogs, "\n") {
				t.Errorf("logs:\ngot    %q\nexpect %q", gotLogs, tc.expectLogs)
			}
		})
	}
}

// TestSetupTelemetry: the handler's metrics go to standard output in the
// configured namespace with the FunctionName dimension, and its logs to
// the function's logger at the configured level.
func TestSetupTelemetry(t *testing.T) {
	var stdout bytes.Buffer
	env := map[string]string{"NAMESPACE": "Custom", "AWS_LAMBDA_FUNCTION_NAME": "stack-streamer", "LOG_LEVEL": "WARN"}
	p := process{
		lookup:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		stdout:  &stdout,
		loadAWS: func(context.Context) (aws.Config, error) { return aws.Config{}, nil },
	}
	h, err := bootstrap(p, "fn", loadTestConfig, func(s Setup, cfg testConfig) (lambda.Handler, error) {
		return testHandler{function.NewTelemetry(s.Telemetry(cfg.Namespace)...)}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tel := h.(testHandler).tel
	tel.Log.Info("below the level")
	tel.Emit(context.Background(), time.Unix(0, 0), emf.Metric{Name: "Records", Unit: emf.Count, Value: 2})

	var line struct {
		AWS struct {
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
			}
		} `json:"_aws"`
		FunctionName string
		Records      float64
	}
	if err := json.Unmarshal(stdout.Bytes(), &line); err != nil {
		t.Fatalf("standard output %q: %v", stdout.String(), err)
	}
	got := struct {
		namespace, dimension, functionName string
		records                            float64
	}{line.AWS.CloudWatchMetrics[0].Namespace, line.AWS.CloudWatchMetrics[0].Dimensions[0][0], line.FunctionName, line.Records}
	expect := struct {
		namespace, dimension, functionName string
		records                            float64
	}{"Custom", "FunctionName", "stack-streamer", 2}
	if got != expect {
		t.Errorf("metric line: got %+v, expect %+v", got, expect)
	}
}
