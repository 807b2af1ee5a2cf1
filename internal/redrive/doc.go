// Package redrive delivers again what the pipeline's functions gave up
// on, for `ddbstream redrive`.
//
// The README promises that nothing is lost, but Lambda gives up in two
// places, and each leaves only a message behind:
//
//   - The streamer's event source mapping, after maxRetryAttempts or
//     maxRecordAgeSeconds, sends its on-failure queue a record that
//     locates the batch (stream ARN, shard, first and last sequence
//     numbers, size: StreamBatchFailure) and moves on. The records stay
//     in the stream for 24 hours only. Run reads exactly that range again
//     (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords up to the end),
//     rebuilds the event the mapping would have sent (Event) and runs it
//     through the streamer's own handler. The object's key depends only
//     on the batch and the write is conditional, so a redriven batch
//     lands on the key the streamer would have used, and a batch already
//     durable answers 412 and is counted written: redriving never
//     duplicates, and redriving twice changes nothing. A range past the
//     retention (TrimmedDataAccessException) or whose stream is gone is
//     reported and its message kept: only a backfill can repair it.
//   - The forwarder's asynchronous invocations, after their retries,
//     send its on-failure queue the invocation record, whose
//     requestPayload is the original event (InvocationFailure); the
//     trigger rule's dead-letter queue holds events EventBridge could
//     not hand to Lambda at all. Run gives the event to the forwarder's
//     own handler (package redeliver), so delivery keeps its idempotency:
//     the original event yields the original job-run token.
//   - The export converter's and planner's asynchronous invocations, after
//     their retries, leave the same invocation records in their on-failure
//     queues (a job per data file; a manifest-summary event), and the
//     planner trigger's dead-letter queue holds events themselves. Run
//     invokes the deployed function again, synchronously (Lambda's
//     RequestResponse), with the original payload: the conversion runs in
//     AWS with the function's role, memory and timeout, which an
//     operator's machine need not match. Snapshot names depend only on the
//     export and the data file and are written conditionally, so a file
//     converted meanwhile answers "already written".
//
// A message is deleted only after its records are durable in S3 (the
// streamer answered without a batch item failure) or its objects
// delivered (the forwarder returned no error), or once an export
// function answered without an error; every other message is kept and
// made visible again at the end of the run, so the queue's alarm goes on
// pointing at what still needs attention. A dry run reads
// the stream and the events, shows the keys and objects, and changes
// nothing.
package redrive
