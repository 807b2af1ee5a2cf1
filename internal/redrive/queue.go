package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ddbstream/pipeline/internal/s3event"
)

// MessageReceiver receives a queue's messages, hiding them for a time.
type MessageReceiver interface {
	ReceiveMessage(ctx context.Context, params *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
}

// MessageDeleter deletes a message whose records are durable.
type MessageDeleter interface {
	DeleteMessage(ctx context.Context, params *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

// VisibilityChanger makes a kept message visible again at once.
type VisibilityChanger interface {
	ChangeMessageVisibility(ctx context.Context, params *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// QueueAttributesGetter counts a queue's messages, for progress.
type QueueAttributesGetter interface {
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Queue is the part of the SQS API a redrive calls.
type Queue interface {
	MessageReceiver
	MessageDeleter
	VisibilityChanger
	QueueAttributesGetter
}

// handler decides one message: its report, and whether it may be
// deleted (its records are durable, or its objects delivered).
type handler func(ctx context.Context, m sqstypes.Message) (MessageReport, bool)

// drain works through a queue: it receives its messages a page at a
// time, hiding them for the visibility timeout, has each one handled,
// deletes those handled for good (never in a dry run) and, at the end,
// makes the kept ones visible again, so that the queue ends holding
// exactly what still needs attention and its alarm stays on it.
func (r *run) drain(ctx context.Context, source Source, url string, handle handler) (q QueueReport, err error) {
	q = QueueReport{Source: source, QueueURL: url}
	total := r.queueDepth(ctx, url)
	kept := map[string]string{} // message ID -> latest receipt handle
	seen := map[string]bool{}
	defer func() { q.Released, q.ReleaseErrors = r.release(ctx, url, kept) }()
	r.progress(Progress{Source: source, Total: total})
	batch, visibility := 10, r.cfg.Visibility
	if source == Export {
		// Each message is a synchronous invocation that may run for
		// Lambda's 15 minutes: one at a time, hidden for longer than that,
		// so that none comes back while the run still holds it.
		batch, visibility = 1, max(visibility, exportVisibility)
	}
	for q.Received < r.cfg.MaxMessages {
		out, err := r.queue.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(url),
			MaxNumberOfMessages:         int32(min(batch, r.cfg.MaxMessages-q.Received)),
			VisibilityTimeout:           int32(visibility / time.Second),
			WaitTimeSeconds:             int32(r.cfg.Wait / time.Second),
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameSentTimestamp, sqstypes.MessageSystemAttributeNameApproximateReceiveCount},
			// A dead-letter queue's messages say why EventBridge gave up.
			MessageAttributeNames: []string{dlqErrorCode, dlqErrorMessage},
		})
		if err != nil {
			return q, fmt.Errorf("receive from %s: %w", url, err)
		}
		if len(out.Messages) == 0 {
			break
		}
		fresh := 0
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			if seen[id] {
				// Its visibility ran out during the run: keep the newest
				// handle, the one SQS accepts.
				if _, ok := kept[id]; ok {
					kept[id] = aws.ToString(m.ReceiptHandle)
				}
				continue
			}
			seen[id] = true
			fresh++
			q.Received++
			rep, done := handle(ctx, m)
			rep.MessageID = id
			rep.SentAt = sentAt(m)
			switch {
			case done && r.cfg.DryRun:
				kept[id] = aws.ToString(m.ReceiptHandle)
			case done:
				if _, err := r.queue.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
					// The work is done and durable; a later run finds it
					// done again (same keys, same tokens).
					rep.Outcome, rep.Error = OutcomeNotDeleted, fmt.Sprintf("done, but the message was not deleted: %v", err)
					kept[id] = aws.ToString(m.ReceiptHandle)
				} else {
					q.Deleted++
				}
			default:
				kept[id] = aws.ToString(m.ReceiptHandle)
			}
			q.count(rep)
			q.Messages = append(q.Messages, rep)
			r.progress(Progress{Source: source, Done: q.Received, Total: max(total, q.Received), Kept: len(kept) - q.wouldDelete()})
			if ctx.Err() != nil {
				return q, ctx.Err()
			}
		}
		if fresh == 0 {
			break // only messages seen already came back
		}
	}
	return q, nil
}

// queueDepth is the queue's visible messages, for the progress total; 0
// when unknown.
func (r *run) queueDepth(ctx context.Context, url string) int {
	out, err := r.queue.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	return min(n, r.cfg.MaxMessages)
}

// release makes the kept messages visible again. It runs even after an
// interruption, on a context of its own: a kept message must not stay
// hidden from the next run and from the queue's alarm.
func (r *run) release(ctx context.Context, url string, kept map[string]string) (int, int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	ok, failed := 0, 0
	for _, handle := range kept {
		_, err := r.queue.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(url), ReceiptHandle: aws.String(handle), VisibilityTimeout: 0,
		})
		if err != nil {
			failed++
			continue
		}
		ok++
	}
	return ok, failed
}

func sentAt(m sqstypes.Message) time.Time {
	ms, err := strconv.ParseInt(m.Attributes[string(sqstypes.MessageSystemAttributeNameSentTimestamp)], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// exportVisibility hides an export failure's message for longer than
// the longest Lambda invocation (15 minutes).
const exportVisibility = 16 * time.Minute

// The message attributes EventBridge sets on what it sends a rule
// target's dead-letter queue: why the event was not delivered
// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
const (
	dlqErrorCode    = "ERROR_CODE"
	dlqErrorMessage = "ERROR_MESSAGE"
)

// asyncEvent reads the event of a failure message of an asynchronously
// invoked function, noting in rep why Lambda gave up and the last error
// (or, for a dead-letter queue's event, why EventBridge did); a body it
// cannot read marks rep not understood.
func asyncEvent(m sqstypes.Message, rep *MessageReport) (json.RawMessage, *InvocationFailure, bool) {
	payload, rec, err := AsyncEvent(aws.ToString(m.Body))
	if rec != nil {
		rep.Condition, rep.LastError = rec.RequestContext.Condition, rec.ErrorMessage()
	} else if code := aws.ToString(m.MessageAttributes[dlqErrorCode].StringValue); code != "" {
		rep.Condition = "EventBridge: " + code
		rep.LastError = aws.ToString(m.MessageAttributes[dlqErrorMessage].StringValue)
	}
	if err != nil {
		rep.Outcome, rep.Error = OutcomeNotUnderstood, err.Error()
		return nil, nil, false
	}
	return payload, rec, true
}

// objectEvent reads, as asyncEvent does, a failure message whose event
// is an S3 object event, which reader (the forwarder, the planner) reads.
func objectEvent(m sqstypes.Message, rep *MessageReport, reader string) (json.RawMessage, s3event.Event, bool) {
	payload, _, ok := asyncEvent(m, rep)
	if !ok {
		return nil, s3event.Event{}, false
	}
	ev, err := s3event.Parse(payload)
	if err != nil {
		rep.Outcome, rep.Error = OutcomeNotUnderstood, fmt.Sprintf("the event is not one %s reads: %v", reader, err)
		return nil, s3event.Event{}, false
	}
	return payload, ev, true
}
