package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Change is one write to the table, which yields one stream record.
type Change struct {
	Item string
	// Op is the stream event name it yields: INSERT, MODIFY or REMOVE.
	Op string
	// V is the item's version in the record's new image (or, for REMOVE,
	// its old image).
	V int
	// TTL marks a delete of an expired item, as TTL would make. DynamoDB
	// Local runs no TTL, so the load issues these deletes itself.
	TTL bool
	At  time.Time
}

// Load is what a load generator wrote.
type Load struct {
	Items  int
	ByItem map[string][]Change
	Total  int
}

// Amount is a number with more digits than float64 keeps, written on
// every item: it must arrive in S3 exactly.
const Amount = "12345678901234567890.123456789012345678"

// ProgressEvery is how many changes Generate writes between calls of its
// progress function: often enough for a caller to start something once
// the first changes are in.
const ProgressEvery = 100

// Generate writes n changes to table: inserts, updates, deletes and
// TTL-style deletes of expired items, from several workers, each owning
// its items so that every item's changes are in a known order. progress,
// if set, is called with the count written after every ProgressEvery
// changes, from the writers' goroutines.
func Generate(ctx context.Context, c *dynamodb.Client, table string, n int, seed uint64, progress func(done int)) (*Load, error) {
	items := max(8, n/8)
	// Each worker owns items; below 32 items, fewer workers, so that none
	// is left without an item to write.
	workers := min(32, items)
	load := &Load{Items: items, ByItem: map[string][]Change{}}
	var mu sync.Mutex
	var done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := 0; w < workers; w++ {
		quota := n / workers
		if w < n%workers {
			quota++
		}
		wg.Add(1)
		go func(w, quota int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			type state struct {
				exists, ttl bool
				v           int
			}
			owned := map[int]*state{}
			var mine []int
			for i := w; i < items; i += workers {
				mine = append(mine, i)
				owned[i] = &state{}
			}
			for k := 0; k < quota; k++ {
				idx := mine[rng.IntN(len(mine))]
				st := owned[idx]
				item := fmt.Sprintf("item-%06d", idx)
				ch := Change{Item: item}
				var err error
				switch r := rng.Float64(); {
				case !st.exists:
					st.v++
					st.exists, st.ttl = true, rng.IntN(5) == 0
					ch.Op, ch.V = "INSERT", st.v
					err = put(ctx, c, table, item, st.v, st.ttl, rng)
				case st.ttl && r < 0.4, r < 0.15:
					ch.Op, ch.V, ch.TTL = "REMOVE", st.v, st.ttl
					st.exists = false
					_, err = c.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
						Key: map[string]dtypes.AttributeValue{"pk": &dtypes.AttributeValueMemberS{Value: item}}})
				default:
					st.v++
					ch.Op, ch.V = "MODIFY", st.v
					_, err = c.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(table),
						Key:              map[string]dtypes.AttributeValue{"pk": &dtypes.AttributeValueMemberS{Value: item}},
						UpdateExpression: aws.String("SET v = :v, note = :n"),
						ExpressionAttributeValues: map[string]dtypes.AttributeValue{
							":v": &dtypes.AttributeValueMemberN{Value: strconv.Itoa(st.v)},
							":n": &dtypes.AttributeValueMemberS{Value: fmt.Sprintf("update %d ✓ ünïcode", st.v)},
						}})
				}
				if err != nil {
					errc <- fmt.Errorf("write %s (%s): %w", item, ch.Op, err)
					return
				}
				ch.At = time.Now()
				mu.Lock()
				load.ByItem[item] = append(load.ByItem[item], ch)
				load.Total++
				mu.Unlock()
				if d := done.Add(1); progress != nil && d%ProgressEvery == 0 {
					progress(int(d))
				}
			}
		}(w, quota)
	}
	wg.Wait()
	select {
	case err := <-errc:
		return load, err
	default:
	}
	return load, nil
}

func put(ctx context.Context, c *dynamodb.Client, table, name string, v int, ttl bool, rng *rand.Rand) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item(name, v, ttl, rng)})
	return err
}

// item is an item as the load generator writes it: every attribute type,
// a number with more digits than float64 keeps, and for ttl an expiry in
// the past.
func item(name string, v int, ttl bool, rng *rand.Rand) map[string]dtypes.AttributeValue {
	it := map[string]dtypes.AttributeValue{
		"pk":     &dtypes.AttributeValueMemberS{Value: name},
		"v":      &dtypes.AttributeValueMemberN{Value: strconv.Itoa(v)},
		"amount": &dtypes.AttributeValueMemberN{Value: Amount},
		"tags":   &dtypes.AttributeValueMemberSS{Value: []string{"local", "test"}},
		"paid":   &dtypes.AttributeValueMemberBOOL{Value: rng.IntN(2) == 0},
		"blob":   &dtypes.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"nested": &dtypes.AttributeValueMemberM{Value: map[string]dtypes.AttributeValue{
			"list": &dtypes.AttributeValueMemberL{Value: []dtypes.AttributeValue{&dtypes.AttributeValueMemberN{Value: "-0.000000000000000000001"}, &dtypes.AttributeValueMemberNULL{Value: true}}},
		}},
	}
	if ttl {
		it["expiresAt"] = &dtypes.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)}
	}
	return it
}

// PreloadItem names the n-th preloaded item: apart from the load
// generator's items, so that the stream's checks never meet them.
func PreloadItem(n int) string { return fmt.Sprintf("pre-%06d", n) }

// Preload writes n items, PreloadItem(0) to PreloadItem(n-1), with the
// attributes the load generator's inserts have, in batches of 25
// (BatchWriteItem's limit) from a few workers. Written before the table's
// stream is enabled (Options.Preload), they are the state a table had
// before the pipeline: only a backfill brings them into the lake.
func Preload(ctx context.Context, c *dynamodb.Client, table string, n int, seed uint64) error {
	const workers, batch = 8, 25
	batches := make(chan []int)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for ids := range batches {
				reqs := make([]dtypes.WriteRequest, 0, len(ids))
				for _, i := range ids {
					reqs = append(reqs, dtypes.WriteRequest{PutRequest: &dtypes.PutRequest{Item: item(PreloadItem(i), 1, false, rng)}})
				}
				if err := writeBatch(ctx, c, table, reqs); err != nil {
					errc <- err
					return
				}
			}
		}(w)
	}
	var err error
send:
	for start := 0; start < n; start += batch {
		ids := make([]int, 0, batch)
		for i := start; i < min(n, start+batch); i++ {
			ids = append(ids, i)
		}
		select {
		case batches <- ids:
		case err = <-errc:
			break send
		case <-ctx.Done():
			err = ctx.Err()
			break send
		}
	}
	close(batches)
	wg.Wait()
	if err != nil {
		return err
	}
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// maxUnprocessedRounds bounds the resending of a batch's unprocessed
// items, which DynamoDB returns under throttling and DynamoDB Local in
// practice never does.
const maxUnprocessedRounds = 10

func writeBatch(ctx context.Context, c *dynamodb.Client, table string, reqs []dtypes.WriteRequest) error {
	for round := 0; len(reqs) > 0; round++ {
		if round == maxUnprocessedRounds {
			return fmt.Errorf("preload: %d items still unprocessed after %d rounds", len(reqs), round)
		}
		out, err := c.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]dtypes.WriteRequest{table: reqs}})
		if err != nil {
			return fmt.Errorf("preload: %w", err)
		}
		reqs = out.UnprocessedItems[table]
	}
	return nil
}
