package backfill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/export/planner"
)

// fakeLambda is what the fake's Lambda API answers.
type fakeLambda struct {
	// position, state and lastModified describe the stream's mapping
	// (defaults: TRIM_HORIZON, Enabled, the stream's creation); extra
	// adds more mappings of the stream; none lists none.
	position     lambdatypes.EventSourcePosition
	state        string
	lastModified time.Time
	extra        int
	none         bool
	listed       []*lambda.ListEventSourceMappingsInput
	// invokes are the planner's invocations; planner answers them
	// (default: the planner dispatches every file, which the converter
	// then converts).
	invokes []*lambda.InvokeInput
	planner func(f *fakeAWS, in *lambda.InvokeInput) (*lambda.InvokeOutput, error)
}

// with gives cfg the fake as its Lambda client.
func (f *fakeAWS) with(cfg Config) Config {
	if cfg.Lambda == nil {
		cfg.Lambda = f
	}
	return cfg
}

func (f *fakeAWS) ListEventSourceMappings(_ context.Context, in *lambda.ListEventSourceMappingsInput, _ ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := &f.lambda
	l.listed = append(l.listed, in)
	if l.none || aws.ToString(in.EventSourceArn) != f.latestStream {
		return &lambda.ListEventSourceMappingsOutput{}, nil
	}
	created, err := streamCreated(f.streamLabel)
	if err != nil {
		return nil, err
	}
	m := lambdatypes.EventSourceMappingConfiguration{
		UUID: aws.String("a1b2c3d4-5678-90ab-cdef-111111111111"), EventSourceArn: in.EventSourceArn, State: aws.String("Enabled"),
		StartingPosition: lambdatypes.EventSourcePositionTrimHorizon, LastModified: aws.Time(created),
		FunctionArn: aws.String("arn:aws:lambda:eu-west-1:123456789012:function:streamer"),
	}
	if l.position != "" {
		m.StartingPosition = l.position
	}
	if l.state != "" {
		m.State = aws.String(l.state)
	}
	if !l.lastModified.IsZero() {
		m.LastModified = aws.Time(l.lastModified)
	}
	out := &lambda.ListEventSourceMappingsOutput{EventSourceMappings: []lambdatypes.EventSourceMappingConfiguration{m}}
	for i := range l.extra {
		o := m
		o.UUID = aws.String(fmt.Sprintf("a1b2c3d4-5678-90ab-cdef-%012d", i+2))
		out.EventSourceMappings = append(out.EventSourceMappings, o)
	}
	return out, nil
}

func (f *fakeAWS) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lambda.invokes = append(f.lambda.invokes, in)
	if f.lambda.planner != nil {
		return f.lambda.planner(f, in)
	}
	return dispatchAll(f, in)
}

// dispatchAll is a planner that starts every data file's conversion.
func dispatchAll(f *fakeAWS, _ *lambda.InvokeInput) (*lambda.InvokeOutput, error) {
	n := 0
	for _, c := range f.itemCounts {
		if c > 0 {
			n++
		}
	}
	f.convertible = n
	b, _ := json.Marshal(planner.Response{Exports: []planner.ExportResult{{Invoked: n, DataFiles: len(f.itemCounts)}}})
	return &lambda.InvokeOutput{StatusCode: 200, Payload: b}, nil
}

// PutObject stores the object unless If-None-Match: * finds the key
// taken, which S3 answers with 412 PreconditionFailed.
func (f *fakeAWS) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := aws.ToString(in.Key)
	if _, ok := f.objects[key]; ok && aws.ToString(in.IfNoneMatch) == "*" {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	if int64(len(b)) != aws.ToInt64(in.ContentLength) {
		return nil, fmt.Errorf("body of %d bytes, ContentLength %d", len(b), aws.ToInt64(in.ContentLength))
	}
	f.objects[key] = bytes.Clone(b)
	f.puts = append(f.puts, in)
	return &s3.PutObjectOutput{}, nil
}
