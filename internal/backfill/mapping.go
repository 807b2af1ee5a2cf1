package backfill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/ddbstream/pipeline/internal/orderkey"
)

// streamRetention is how long a DynamoDB stream keeps a record: a mapping
// that starts at TRIM_HORIZON reads back at most this far
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
const streamRetention = 24 * time.Hour

// latestPollingDelay bounds how long after it is created or updated a
// LATEST mapping may take to start reading. AWS: "during event source
// mapping creation, it may take several minutes to start polling events
// from the stream", "during event source mapping updates, it may take up
// to 90 seconds to stop and restart polling", so "if you specify LATEST
// as the starting position for the stream, the event source mapping could
// miss events during a create or update"
// (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html, "Polling
// and stream starting positions"). "Several minutes" has no published
// bound; a quarter of an hour is taken.
const latestPollingDelay = 15 * time.Minute

// mapping is what the check learns of the event source mapping that
// carries the stream into the lake.
type mapping struct {
	uuid, state, position string
	// lastModified is "the date that the event source mapping was last
	// updated, or its state changed"
	// (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html).
	// AWS publishes no creation time, so this is the latest moment the
	// mapping can have started reading.
	lastModified time.Time
	// readsFrom is the earliest change the lake is known to hold from
	// this mapping on (see readingSince).
	readsFrom time.Time
}

// readingSince is the earliest time from which the mapping surely carried
// every change of the stream into the lake:
//
//   - LATEST starts at the newest record once the mapping polls, which
//     is up to latestPollingDelay after it was created or updated (at the
//     latest its LastModified); what came before may be missed;
//   - TRIM_HORIZON starts at the oldest record still in the stream, at
//     most streamRetention before the mapping was created, so a late
//     start misses nothing;
//
// and never before the stream existed. (AT_TIMESTAMP is for Kinesis
// only.) Taking LastModified for the creation errs on the safe side: an
// update of an older TRIM_HORIZON mapping delays a backfill by the margin
// at most, one of a LATEST mapping by the polling delay too.
func readingSince(position string, lastModified, streamCreated time.Time) time.Time {
	start := lastModified.Add(latestPollingDelay)
	if position == string(lambdatypes.EventSourcePositionTrimHorizon) {
		start = lastModified.Add(-streamRetention)
	}
	if start.Before(streamCreated) {
		return streamCreated
	}
	return start
}

// mapping finds the event source mapping that reads the table's current
// stream into the pipeline (the streamer's, when its function is known)
// and checks that it is enabled.
func (b *run) mapping(ctx context.Context, t table) (mapping, error) {
	in := &lambda.ListEventSourceMappingsInput{EventSourceArn: aws.String(t.stream)}
	if b.cfg.StreamerFunction != "" {
		in.FunctionName = aws.String(b.cfg.StreamerFunction)
	}
	var found []lambdatypes.EventSourceMappingConfiguration
	for {
		out, err := b.cfg.Lambda.ListEventSourceMappings(ctx, in)
		if err != nil {
			return mapping{}, fmt.Errorf("list the event source mappings of %s: %w", t.stream, err)
		}
		found = append(found, out.EventSourceMappings...)
		if aws.ToString(out.NextMarker) == "" {
			break
		}
		in.Marker = out.NextMarker
	}
	reader := "function " + b.cfg.StreamerFunction
	if b.cfg.StreamerFunction == "" {
		reader = "any function"
	}
	switch {
	case len(found) == 0:
		return mapping{}, &Error{Msg: fmt.Sprintf("no event source mapping reads the table's current stream %s into %s: changes after the export would reach neither the lake nor the snapshot", t.stream, reader),
			Remedy: "deploy the pipeline stack so that its mapping reads the current stream (existingStreamArn for an imported table), then run backfill"}
	case len(found) > 1:
		var uuids []string
		for _, m := range found {
			uuids = append(uuids, aws.ToString(m.UUID))
		}
		return mapping{}, &Error{Msg: fmt.Sprintf("%d event source mappings read stream %s (%s): which one carries it into the lake is unknown", len(found), t.stream, strings.Join(uuids, ", ")),
			Remedy: "give --streamer-function (or --stack, whose StreamerFunctionName output names it)"}
	}
	c := found[0]
	m := mapping{uuid: aws.ToString(c.UUID), state: aws.ToString(c.State), position: string(c.StartingPosition), lastModified: aws.ToTime(c.LastModified).UTC()}
	switch m.state {
	case "Enabled":
	case "Creating", "Enabling", "Updating":
		return m, &Error{Msg: fmt.Sprintf("event source mapping %s of stream %s is %s", m.uuid, t.stream, m.state), Unfinished: true,
			Remedy: "run backfill again once it is Enabled (aws lambda get-event-source-mapping --uuid " + m.uuid + ")"}
	default:
		return m, &Error{Msg: fmt.Sprintf("event source mapping %s of stream %s is %s: the stream's changes are not carried into the lake", m.uuid, t.stream, m.state),
			Remedy: "enable it (aws lambda update-event-source-mapping --uuid " + m.uuid + " --enabled), then run backfill once the stream is read again"}
	}
	if m.lastModified.IsZero() {
		return m, fmt.Errorf("event source mapping %s has no LastModified time", m.uuid)
	}
	m.readsFrom = readingSince(m.position, m.lastModified, t.streamCreated)
	return m, nil
}

// covers checks that the lake holds the stream's changes from
// orderkey.SnapshotMargin before exportTime on: a snapshot row ranks at
// its export time less the margin, so a change after that which the
// mapping never read would be in neither the export nor the lake.
func (m mapping) covers(table string, exportTime time.Time) error {
	ready := m.readsFrom.Add(orderkey.SnapshotMargin)
	if !ready.After(exportTime) {
		return nil
	}
	since := fmt.Sprintf("event source mapping %s (%s, last changed %s) carries the stream of %s into the lake from %s on",
		m.uuid, m.position, m.lastModified.Format(time.RFC3339), table, m.readsFrom.Format(time.RFC3339))
	return &Error{
		Msg: fmt.Sprintf("%s, less than %s before the export time %s: a change made between the two would be in neither the export nor the lake",
			since, orderkey.SnapshotMargin, exportTime.Format(time.RFC3339)),
		Remedy: fmt.Sprintf("run backfill again after %s (that time plus %s; the export time also trails the clock by point-in-time recovery's lag, typically 5 minutes)",
			ready.Format(time.RFC3339), orderkey.SnapshotMargin),
	}
}
