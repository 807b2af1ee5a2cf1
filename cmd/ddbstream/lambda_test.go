package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// streamCreated is when the fake table's stream began (its label): a
// month before the run, on any date, so the mapping has always covered any
// export now. The backfill compares it with the real clock.
var streamCreated = time.Now().UTC().AddDate(0, -1, 0).Truncate(time.Millisecond)

// The fake's Lambda: the stream's event source mapping has read it since
// the stream began; the planner is never needed.

func (f *fakeAWS) ListEventSourceMappings(_ context.Context, in *lambda.ListEventSourceMappingsInput, _ ...func(*lambda.Options)) (*lambda.ListEventSourceMappingsOutput, error) {
	if aws.ToString(in.EventSourceArn) != streamARN {
		return &lambda.ListEventSourceMappingsOutput{}, nil
	}
	return &lambda.ListEventSourceMappingsOutput{EventSourceMappings: []lambdatypes.EventSourceMappingConfiguration{{
		UUID: aws.String("a1b2c3d4-5678-90ab-cdef-111111111111"), EventSourceArn: in.EventSourceArn, State: aws.String("Enabled"),
		StartingPosition: lambdatypes.EventSourcePositionTrimHorizon, LastModified: aws.Time(streamCreated),
	}}}, nil
}

func (f *fakeAWS) Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	return nil, errors.New("the planner is not part of this fake")
}

// PutObject takes the backfill's delete lines.
func (f *fakeAWS) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if _, err := io.Copy(io.Discard, in.Body); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts = append(f.puts, aws.ToString(in.Key))
	return &s3.PutObjectOutput{}, nil
}
