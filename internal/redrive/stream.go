package redrive

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// ShardIteratorGetter starts reading a shard at a sequence number.
type ShardIteratorGetter interface {
	GetShardIterator(ctx context.Context, params *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
}

// RecordsGetter reads a shard's records from an iterator.
type RecordsGetter interface {
	GetRecords(ctx context.Context, params *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// Stream is the part of the DynamoDB Streams API a streamer redrive
// reads with.
type Stream interface {
	ShardIteratorGetter
	RecordsGetter
}

// UnreadableError is a range the stream can no longer give: its records
// are past the 24-hour retention (TrimmedDataAccessException: "You
// request a shard iterator with a sequence number older than the trim
// point (24 hours)",
// https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodbstreams/client/exceptions/TrimmedDataAccessException.html),
// or the stream or shard is gone. Nothing can redrive it; its message is
// kept as the record of what was lost.
type UnreadableError struct {
	Reason string
	Err    error
}

func (e *UnreadableError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *UnreadableError) Unwrap() error { return e.Err }

// getRecordsLimit is GetRecords' largest page
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_GetRecords.html).
const getRecordsLimit = 1000

// readRange reads a batch's records from the stream: from its start
// sequence number (AT_SEQUENCE_NUMBER) up to and including its end. It
// refuses a range it cannot read whole, as it could not prove that
// anything it redrives is the batch the message describes.
func readRange(ctx context.Context, api Stream, b BatchInfo, maxEmptyReads int) ([]types.Record, error) {
	iter, err := shardIterator(ctx, api, b, types.ShardIteratorTypeAtSequenceNumber, b.StartSequenceNumber)
	if err != nil {
		return nil, err
	}
	var recs []types.Record
	empty, expired := 0, false
	for {
		out, err := api.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(getRecordsLimit)})
		var exp *types.ExpiredIteratorException
		if errors.As(err, &exp) && !expired {
			// An iterator lives 15 minutes; start again after the last
			// record read (or at the start), once.
			expired = true
			at, seq := types.ShardIteratorTypeAtSequenceNumber, b.StartSequenceNumber
			if len(recs) > 0 {
				at, seq = types.ShardIteratorTypeAfterSequenceNumber, sequenceOf(recs[len(recs)-1])
			}
			if iter, err = shardIterator(ctx, api, b, at, seq); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, unreadable(fmt.Errorf("get records of %s: %w", b.ShardID, err))
		}
		for _, r := range out.Records {
			seq := sequenceOf(r)
			if !sequenceNumber(seq) {
				return nil, fmt.Errorf("a record of shard %s has no sequence number", b.ShardID)
			}
			if compareSequence(seq, b.EndSequenceNumber) > 0 {
				return checkRange(recs, b)
			}
			if len(recs) == 0 && seq != b.StartSequenceNumber {
				return nil, &UnreadableError{Reason: "the batch's first record is no longer in the stream",
					Err: fmt.Errorf("shard %s starts at %s, not %s", b.ShardID, seq, b.StartSequenceNumber)}
			}
			recs = append(recs, r)
			if seq == b.EndSequenceNumber {
				return checkRange(recs, b)
			}
		}
		if out.NextShardIterator == nil {
			return nil, fmt.Errorf("shard %s ended before sequence number %s (read %d records)", b.ShardID, b.EndSequenceNumber, len(recs))
		}
		if len(out.Records) == 0 {
			if empty++; empty > maxEmptyReads {
				return nil, fmt.Errorf("shard %s: no record up to %s after %d empty reads (read %d records)", b.ShardID, b.EndSequenceNumber, empty, len(recs))
			}
		} else {
			empty = 0
		}
		iter = out.NextShardIterator
	}
}

func shardIterator(ctx context.Context, api ShardIteratorGetter, b BatchInfo, at types.ShardIteratorType, seq string) (*string, error) {
	out, err := api.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: aws.String(b.StreamARN), ShardId: aws.String(b.ShardID),
		ShardIteratorType: at, SequenceNumber: aws.String(seq),
	})
	if err != nil {
		return nil, unreadable(fmt.Errorf("get shard iterator of %s at %s: %w", b.ShardID, seq, err))
	}
	if out.ShardIterator == nil {
		return nil, fmt.Errorf("get shard iterator of %s at %s: no iterator returned", b.ShardID, seq)
	}
	return out.ShardIterator, nil
}

// unreadable marks the errors that say the records are gone for good.
func unreadable(err error) error {
	var trimmed *types.TrimmedDataAccessException
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &trimmed):
		return &UnreadableError{Reason: "past the stream's 24-hour retention (TrimmedDataAccessException)", Err: err}
	case errors.As(err, &notFound):
		return &UnreadableError{Reason: "the stream or shard no longer exists (ResourceNotFoundException)", Err: err}
	}
	return err
}

// checkRange holds the records read to the batch the message describes:
// its first and last sequence numbers, and its size.
func checkRange(recs []types.Record, b BatchInfo) ([]types.Record, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("shard %s holds no record from %s to %s", b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber)
	}
	if last := sequenceOf(recs[len(recs)-1]); last != b.EndSequenceNumber {
		return nil, fmt.Errorf("shard %s has no record %s (the range ends at %s)", b.ShardID, b.EndSequenceNumber, last)
	}
	if b.BatchSize > 0 && len(recs) != b.BatchSize {
		return nil, fmt.Errorf("shard %s holds %d records from %s to %s; the message says %d", b.ShardID, len(recs), b.StartSequenceNumber, b.EndSequenceNumber, b.BatchSize)
	}
	return recs, nil
}
