package integration

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ddbstream/pipeline/internal/output"
	"github.com/ddbstream/pipeline/internal/redrive"
	"github.com/ddbstream/pipeline/internal/streamer"
)

// Redrive runs ddbstream redrive's logic, internal/redrive as the command
// runs it with --source streamer, against the local pipeline: it reads
// the streamer's on-failure queue through the SQS endpoint with the SDK,
// reads each batch's range again from DynamoDB Local's stream, and writes
// it with the streamer's own handler, in process, with the streamer's
// settings (its environment, through streamer.ConfigFromEnv, as the
// command reads the deployed function's) and through the same S3 fault
// proxy, so that Drain waits for the objects' notifications and delivery.
// stream, if not nil, stands in for DynamoDB Local's stream API (a test
// wrapping p.Streams to answer as a trimmed stream does).
func (p *Pipeline) Redrive(ctx context.Context, stream redrive.Stream) (redrive.Report, error) {
	cfg, err := streamer.ConfigFromEnv(func(k string) (string, bool) { v, ok := p.streamerEnv[k]; return v, ok })
	if err != nil {
		return redrive.Report{}, fmt.Errorf("redrive: the streamer's settings: %w", err)
	}
	as := p.As(RedrivePrincipal)
	if stream == nil {
		stream = as.Streams
	}
	awsCfg := as.Config.Copy()
	awsCfg.BaseEndpoint = aws.String(p.streamerS3)
	return redrive.Run(ctx, redrive.Config{
		Sources: []redrive.Source{redrive.Streamer}, StreamerQueueURL: p.StreamerFailureQueueURL, Streamer: &cfg,
		// The messages are in the queue before a run starts: a short poll
		// finds them, and an empty answer ends the queue at once.
		Wait: -1,
	}, redrive.Clients{Queue: as.SQS, Stream: stream, S3: output.NewS3Client(awsCfg, cfg.Settings)})
}

// RedriveExports runs ddbstream redrive's logic as the command runs it
// with --source export, against the local pipeline: it reads the
// converter's and the planner's on-failure queues through the SQS
// endpoint with the SDK and invokes the function again, synchronously,
// through the Invoke endpoint with the SDK's Lambda client, with each job
// or event Lambda gave up on.
func (p *Pipeline) RedriveExports(ctx context.Context) (redrive.Report, error) {
	as := p.As(RedrivePrincipal)
	return redrive.Run(ctx, redrive.Config{
		Sources: []redrive.Source{redrive.Export}, ConverterQueueURL: p.ConverterFailureQueueURL, ConverterFunction: ConverterFunction,
		PlannerQueueURLs: []string{p.PlannerFailureQueueURL}, PlannerFunction: PlannerFunction,
		Wait: -1, // as in Redrive: the messages are there before the run
	}, redrive.Clients{Queue: as.SQS, Lambda: as.Lambda})
}

// RedriveSummary renders a redrive's report, a line per queue and per
// message, for a test's log.
func RedriveSummary(r redrive.Report) string {
	var b strings.Builder
	for _, q := range r.Queues {
		fmt.Fprintf(&b, "redrive %s queue:  %d received, %d deleted: %d redriven, %d unreadable, %d failed, %d not understood, %d not deleted; %d released\n",
			q.Source, q.Received, q.Deleted, q.Redriven, q.Unreadable, q.Failed, q.NotUnderstood, q.NotDeleted, q.Released)
		for _, m := range q.Messages {
			fmt.Fprintf(&b, "  %s (sent %s): %s; %s%s; %d records; keys %v, already in S3 %v", m.MessageID, m.SentAt.Format(time.RFC3339), m.Outcome, m.Range, m.Subject, m.Records, m.Keys, m.Existing)
			if m.Detail != "" {
				fmt.Fprintf(&b, "; %s", m.Detail)
			}
			if m.Error != "" {
				fmt.Fprintf(&b, "; %s", m.Error)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}
