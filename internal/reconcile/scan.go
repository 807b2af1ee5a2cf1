package reconcile

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbstream/pipeline/internal/fold"
	"github.com/ddbstream/pipeline/internal/record"
)

// scan reads the whole table with a parallel Scan (Report.Segments
// segments, each paginated) and spills every item: its keys as a lake
// line's keys field has them (record.AppendKeys) and its image in typed
// DynamoDB JSON (record.AppendImage), which keeps the types the
// comparison needs (sets, binary) whatever the lake's image format.
// Every page waits for the shared read-capacity limiter and is charged
// its ConsumedCapacity; a throttled page is retried (throttle.go).
func (r *run) scan(ctx context.Context, live *fold.Spill) error {
	r.rep.ScanStarted = r.cfg.Now()
	g := newGroup(ctx)
	for seg := range r.rep.Segments {
		g.run(func(ctx context.Context) error { return r.scanSegment(ctx, live, seg) })
	}
	return g.wait()
}

// scanner renders items as the lake writes them; one per goroutine.
type scanner struct {
	keysConv, typedConv *record.Converter
	ks                  record.KeySchema
	item, keys, image   []byte
}

func (r *run) newScanner() *scanner {
	return &scanner{
		keysConv:  record.NewConverter(record.WithImageFormat(r.cfg.ImageFormat)),
		typedConv: record.NewConverter(record.WithImageFormat(record.DynamoDB)),
		ks:        r.keys,
	}
}

// render returns an SDK item's keys (in the lake's format) and typed
// image; both alias the scanner's buffers.
func (s *scanner) render(item map[string]types.AttributeValue) (keys, image []byte, err error) {
	if s.item, err = appendItem(s.item[:0], item); err != nil {
		return nil, nil, err
	}
	if s.keys, err = s.keysConv.AppendKeys(s.keys[:0], s.item, s.ks); err != nil {
		return nil, nil, err
	}
	if s.image, err = s.typedConv.AppendImage(s.image[:0], s.item); err != nil {
		return nil, nil, err
	}
	return s.keys, s.image, nil
}

func (r *run) scanSegment(ctx context.Context, live *fold.Spill, seg int) error {
	sc := r.newScanner()
	in := &dynamodb.ScanInput{
		TableName:              aws.String(r.cfg.Table),
		Segment:                aws.Int32(int32(seg)),
		TotalSegments:          aws.Int32(int32(r.rep.Segments)),
		ConsistentRead:         aws.Bool(r.cfg.ConsistentRead),
		ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal,
	}
	if r.cfg.PageLimit > 0 {
		in.Limit = aws.Int32(r.cfg.PageLimit)
	}
	for {
		if err := r.lim.wait(ctx); err != nil {
			return err
		}
		var out *dynamodb.ScanOutput
		err := r.patient(ctx, fmt.Sprintf("scan segment %d of %d", seg, r.rep.Segments), func() error {
			var err error
			out, err = r.cfg.Scan.Scan(ctx, in)
			return err
		})
		if err != nil {
			return fmt.Errorf("scan segment %d of %d: %w", seg, r.rep.Segments, err)
		}
		if out.ConsumedCapacity != nil {
			r.addRCU(true, aws.ToFloat64(out.ConsumedCapacity.CapacityUnits))
		}
		for _, item := range out.Items {
			keys, image, err := sc.render(item)
			if err != nil {
				return fmt.Errorf("scan segment %d: item: %w", seg, err)
			}
			if err := live.Add(fold.Rec{Keys: keys, Image: image}); err != nil {
				return err
			}
			r.scanned.Add(1)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
