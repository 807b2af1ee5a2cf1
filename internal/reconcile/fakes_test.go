package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// fakeS3 is a bucket in memory. It lists two keys a page, so that
// pagination is exercised.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string][]byte
	lists   int
	gets    []string
}

func newFakeS3() *fakeS3 { return &fakeS3{objects: map[string][]byte{}} }

func (f *fakeS3) put(key string, body []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[key] = body
}

func (f *fakeS3) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, aws.ToString(in.Prefix)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	start := 0
	if tok := aws.ToString(in.ContinuationToken); tok != "" {
		start, _ = slices.BinarySearch(keys, tok)
	}
	end := min(len(keys), start+2)
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(end < len(keys))}
	for _, k := range keys[start:end] {
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), Size: aws.Int64(int64(len(f.objects[k])))})
	}
	if end < len(keys) {
		out.NextContinuationToken = aws.String(keys[end])
	}
	return out, nil
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NoSuchKey{Message: aws.String("The specified key does not exist.")}
	}
	f.gets = append(f.gets, aws.ToString(in.Key))
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

// fakeTable is a DynamoDB table in memory, keyed by pk (and sk).
type fakeTable struct {
	mu       sync.Mutex
	name     string
	pk, sk   string
	pkType   types.ScalarAttributeType
	skType   types.ScalarAttributeType
	items    map[string]map[string]types.AttributeValue
	pageSize int
	// unprocessedOnce makes the first BatchGetItem leave its last key
	// unprocessed, as DynamoDB may.
	unprocessedOnce bool
	// onBatchGet runs before a BatchGetItem answers (a change racing the
	// recheck).
	onBatchGet func()
	scans      []*dynamodb.ScanInput
	scanRCU    float64
	batchGets  int
}

func newFakeTable() *fakeTable {
	return &fakeTable{name: "Orders", pk: "pk", sk: "sk", pkType: types.ScalarAttributeTypeS, skType: types.ScalarAttributeTypeN,
		items: map[string]map[string]types.AttributeValue{}, pageSize: 3}
}

// id is an item's identity in the fake: its key attributes' values.
func (f *fakeTable) id(item map[string]types.AttributeValue) string {
	var b []byte
	for _, n := range []string{f.pk, f.sk} {
		if n == "" {
			continue
		}
		b, _ = appendValue(b, item[n], 0)
		b = append(b, '|')
	}
	return string(b)
}

func (f *fakeTable) put(item map[string]types.AttributeValue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[f.id(item)] = item
}

func (f *fakeTable) delete(item map[string]types.AttributeValue) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.items, f.id(item))
}

func (f *fakeTable) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	if aws.ToString(in.TableName) != f.name {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	d := &types.TableDescription{
		TableName:            aws.String(f.name),
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(f.pk), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(f.pk), AttributeType: f.pkType}},
		TableSizeBytes:       aws.Int64(int64(len(f.items)) * 100),
		ItemCount:            aws.Int64(int64(len(f.items))),
	}
	if f.sk != "" {
		d.KeySchema = append(d.KeySchema, types.KeySchemaElement{AttributeName: aws.String(f.sk), KeyType: types.KeyTypeRange})
		d.AttributeDefinitions = append(d.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(f.sk), AttributeType: f.skType})
	}
	return &dynamodb.DescribeTableOutput{Table: d}, nil
}

// Scan pages through one segment's items in id order, pageSize (or
// Limit) items a page, charging 0.5 RCU per item (each under 4 KB).
func (f *fakeTable) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scans = append(f.scans, in)
	if aws.ToString(in.TableName) != f.name {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
	}
	if in.ReturnConsumedCapacity != types.ReturnConsumedCapacityTotal {
		return nil, errors.New("fake: want ReturnConsumedCapacity TOTAL")
	}
	seg, total := int(aws.ToInt32(in.Segment)), int(aws.ToInt32(in.TotalSegments))
	var ids []string
	for id := range f.items {
		if total == 0 || int(fnv(id)%uint32(total)) == seg {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	start := 0
	if in.ExclusiveStartKey != nil {
		after := f.id(in.ExclusiveStartKey)
		start = len(ids)
		for i, id := range ids {
			if id > after {
				start = i
				break
			}
		}
	}
	n := f.pageSize
	if in.Limit != nil {
		n = int(*in.Limit)
	}
	end := min(len(ids), start+n)
	out := &dynamodb.ScanOutput{}
	per := 0.5
	if aws.ToBool(in.ConsistentRead) {
		per = 1
	}
	for _, id := range ids[start:end] {
		out.Items = append(out.Items, f.items[id])
	}
	out.ConsumedCapacity = &types.ConsumedCapacity{TableName: in.TableName, CapacityUnits: aws.Float64(per * float64(max(1, end-start)))}
	f.scanRCU += *out.ConsumedCapacity.CapacityUnits
	if end < len(ids) {
		last := f.items[ids[end-1]]
		out.LastEvaluatedKey = map[string]types.AttributeValue{f.pk: last[f.pk]}
		if f.sk != "" {
			out.LastEvaluatedKey[f.sk] = last[f.sk]
		}
	}
	return out, nil
}

func fnv(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func (f *fakeTable) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	if f.onBatchGet != nil {
		f.onBatchGet()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batchGets++
	req, ok := in.RequestItems[f.name]
	if !ok || len(in.RequestItems) != 1 {
		return nil, errors.New("fake: want one table's keys")
	}
	if len(req.Keys) > 100 {
		return nil, fmt.Errorf("fake: %d keys, over BatchGetItem's 100", len(req.Keys))
	}
	if !aws.ToBool(req.ConsistentRead) {
		return nil, errors.New("fake: the recheck must read strongly consistently")
	}
	keys := req.Keys
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}
	if f.unprocessedOnce && len(keys) > 1 {
		f.unprocessedOnce = false
		out.UnprocessedKeys = map[string]types.KeysAndAttributes{f.name: {Keys: keys[len(keys)-1:], ConsistentRead: aws.Bool(true)}}
		keys = keys[:len(keys)-1]
	}
	for _, k := range keys {
		if len(k) != 1+min(1, len(f.sk)) {
			return nil, errors.New("fake: a key must hold exactly the key attributes")
		}
		if item, ok := f.items[f.id(k)]; ok {
			out.Responses[f.name] = append(out.Responses[f.name], item)
		}
	}
	out.ConsumedCapacity = []types.ConsumedCapacity{{TableName: aws.String(f.name), CapacityUnits: aws.Float64(float64(len(keys)))}}
	return out, nil
}

// fakeClock is a clock that Sleep advances; onSleep runs at each sleep,
// as the world (the pipeline delivering) moves on.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
	// onSleep runs after each sleep, one call at a time (hookMu): the
	// scan's segments sleep in parallel when throttled.
	onSleep func(d time.Duration)
	hookMu  sync.Mutex
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept += d
	hook := c.onSleep
	c.mu.Unlock()
	if hook != nil {
		c.hookMu.Lock()
		hook(d)
		c.hookMu.Unlock()
	}
	return ctx.Err()
}

// Item helpers: the test table's items as the SDK returns them and as
// DynamoDB JSON for lake lines.

func avItem(pk string, sk int, v string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberN{Value: fmt.Sprint(sk)},
		"v":  &types.AttributeValueMemberN{Value: v},
	}
}

// ddbItem is avItem as DynamoDB JSON, with v first: the lake's attribute
// order need not be the live one's.
func ddbItem(pk string, sk int, v string) string {
	return fmt.Sprintf(`{"v":{"N":%q},"pk":{"S":%q},"sk":{"N":"%d"}}`, v, pk, sk)
}

func ddbKeys(pk string, sk int) string { return fmt.Sprintf(`{"pk":{"S":%q},"sk":{"N":"%d"}}`, pk, sk) }

// plainKeys is the keys field of the test items in the plain format.
func plainKeys(pk string, sk int) string { return fmt.Sprintf(`{"pk":%q,"sk":%d}`, pk, sk) }
