package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/foldtest"
)

// tNow is when the tests' runs start; the lake's changes were made
// before it.
var tNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// fixture is a lake, a table and a clock.
type fixture struct {
	t      *testing.T
	s3     *fakeS3
	table  *fakeTable
	clock  *fakeClock
	format record.ImageFormat
	seq    uint64
}

func newFixture(t *testing.T, format record.ImageFormat) *fixture {
	return &fixture{t: t, s3: newFakeS3(), table: newFakeTable(), clock: &fakeClock{now: tNow}, format: format, seq: 1000}
}

// change makes a stream change of a test item; v "" removes it.
func (fx *fixture) change(pk string, sk int, v string, at time.Time) foldtest.Change {
	fx.seq++
	c := foldtest.Change{Event: "MODIFY", Keys: ddbKeys(pk, sk), New: ddbItem(pk, sk, v), Seq: foldtest.Seq(21, fx.seq), Created: at}
	if v == "" {
		c.Event, c.New = "REMOVE", ""
	}
	return c
}

// object writes changes as one lake object and returns its key.
func (fx *fixture) object(changes ...foldtest.Change) string {
	fx.t.Helper()
	lines, err := foldtest.StreamLines(fx.format, changes...)
	if err != nil {
		fx.t.Fatal(err)
	}
	return fx.putLines(changes[0].Created, changes[0].Seq, changes[len(changes)-1].Seq, lines)
}

func (fx *fixture) putLines(created time.Time, first, last string, lines [][]byte) string {
	key := objectkey.Data(objectkey.Batch{Prefix: "cdc", Table: "Orders", Stream: "2026-11-01T00:00:00.000",
		FirstSequence: first, LastSequence: last, Created: created})
	fx.s3.put(key, foldtest.Gzip(lines))
	return key
}

func (fx *fixture) config() Config {
	return Config{
		Table: "Orders", Bucket: "lake", Prefix: "cdc", ImageFormat: fx.format,
		List: fx.s3, Get: fx.s3, Scan: fx.table, BatchGet: fx.table, Describe: fx.table,
		TotalSegments: 2, TempDir: fx.t.TempDir(),
		Now: fx.clock.Now, Sleep: fx.clock.Sleep,
	}
}

func (fx *fixture) run(cfg Config) *Report {
	fx.t.Helper()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		fx.t.Fatal(err)
	}
	return rep
}

// counts is a report's outcome counts, for comparison.
type counts struct {
	equal, missing, onlyLake, different, inFlight, unverified, conflict, malformed int64
}

func countsOf(r *Report) counts {
	return counts{r.Equal, r.MissingFromLake, r.OnlyInLake, r.Different, r.InFlight, r.Unverified, r.Conflict, r.MalformedLines}
}

// exampleList renders examples as "outcome keys".
func exampleList(r *Report) []string {
	var out []string
	for _, x := range r.Examples {
		out = append(out, x.Outcome.String()+" "+x.Keys)
	}
	return out
}

func TestOutcomes(t *testing.T) {
	h := func(d time.Duration) time.Time { return tNow.Add(-d) }
	tests := []struct {
		name   string
		format record.ImageFormat
		// setup writes the lake and the table; later, when set, runs
		// when the recheck starts waiting: what the pipeline delivers
		// in the meantime.
		setup  func(fx *fixture)
		later  func(fx *fixture)
		settle time.Duration

		expect         counts
		expectExamples []string
	}{
		{"equal", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)), fx.change("b", 2, "1", h(time.Hour)), fx.change("a", 1, "2", h(50*time.Minute)))
			fx.object(fx.change("c", 3, "7", h(40*time.Minute)), fx.change("gone", 4, "1", h(40*time.Minute)), fx.change("gone", 4, "", h(30*time.Minute)))
			fx.table.put(avItem("a", 1, "2"))
			fx.table.put(avItem("b", 2, "1"))
			fx.table.put(avItem("c", 3, "7"))
		}, nil, 0, counts{equal: 3}, nil},
		{"equal, typed images", record.DynamoDB, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)), fx.change("b", 2, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "1"))
			fx.table.put(avItem("b", 2, "1"))
		}, nil, 0, counts{equal: 2}, nil},
		{"missing from the lake", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)), fx.change("b", 2, "1", h(time.Hour)), fx.change("b", 2, "", h(time.Hour)))
			fx.table.put(avItem("a", 1, "1"))
			fx.table.put(avItem("b", 2, "1"))
			fx.table.put(avItem("d", 4, "1"))
		}, nil, 2 * time.Minute, counts{equal: 1, missing: 2},
			[]string{"missing from lake " + plainKeys("b", 2), "missing from lake " + plainKeys("d", 4)}},
		{"only in the lake", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)), fx.change("e", 5, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "1"))
		}, nil, 2 * time.Minute, counts{equal: 1, onlyLake: 1}, []string{"only in lake " + plainKeys("e", 5)}},
		{"different", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)), fx.change("b", 2, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
			fx.table.put(avItem("b", 2, "1"))
		}, nil, 2 * time.Minute, counts{equal: 1, different: 1}, []string{"different " + plainKeys("a", 1)}},
		{"different, typed images", record.DynamoDB, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
		}, nil, 0, counts{different: 1}, []string{`different {"pk":{"S":"a"},"sk":{"N":"1"}}`}},
		{"in flight: a modify, an insert and a delete the pipeline delivers during the wait", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)), fx.change("gone", 2, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
			fx.table.put(avItem("new", 3, "1"))
		}, func(fx *fixture) {
			fx.object(fx.change("a", 1, "2", h(10*time.Second)), fx.change("new", 3, "1", h(5*time.Second)), fx.change("gone", 2, "", h(5*time.Second)))
		}, 2 * time.Minute, counts{inFlight: 3},
			[]string{"in flight " + plainKeys("a", 1), "in flight " + plainKeys("gone", 2), "in flight " + plainKeys("new", 3)}},
		{"lag without a wait stays a difference", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
		}, func(fx *fixture) {
			fx.object(fx.change("a", 1, "2", h(10*time.Second)))
		}, 0, counts{different: 1}, []string{"different " + plainKeys("a", 1)}},
		{"in flight: the lake already has a change made after the recheck read", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
		}, func(fx *fixture) {
			fx.object(fx.change("a", 1, "2", h(10*time.Second)), fx.change("a", 1, "3", tNow.Add(30*time.Second)))
		}, 2 * time.Minute, counts{inFlight: 1}, []string{"in flight " + plainKeys("a", 1)}},
		{"different: a lake line older than the read disagrees with it", record.Plain, func(fx *fixture) {
			fx.object(fx.change("a", 1, "1", h(time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
		}, func(fx *fixture) {
			fx.object(fx.change("a", 1, "2", h(20*time.Second)), fx.change("a", 1, "3", h(10*time.Second)))
		}, 2 * time.Minute, counts{different: 1}, []string{"different " + plainKeys("a", 1)}},
		{"keys-only lake: unverified", record.Plain, func(fx *fixture) {
			fx.object(foldtest.Change{Event: "INSERT", Keys: ddbKeys("a", 1), Seq: "1", Created: h(time.Hour), ViewType: "KEYS_ONLY"},
				foldtest.Change{Event: "INSERT", Keys: ddbKeys("b", 2), Seq: "2", Created: h(time.Hour), ViewType: "KEYS_ONLY"})
			fx.table.put(avItem("a", 1, "1"))
		}, nil, 0, counts{unverified: 1, onlyLake: 1},
			[]string{"only in lake " + plainKeys("b", 2), "unverified " + plainKeys("a", 1)}},
		{"duplicated object and out-of-order objects", record.Plain, func(fx *fixture) {
			late := fx.change("a", 1, "2", h(30*time.Minute))
			// The later change's object sorts first by key (an earlier hour
			// is not guaranteed for it), and a batch is written twice.
			fx.putLines(h(3*time.Hour), late.Seq, late.Seq, mustLines(t, record.Plain, late))
			fx.object(fx.change("a", 1, "1", h(time.Hour)))
			dup := fx.change("b", 2, "5", h(time.Hour))
			fx.object(dup)
			fx.putLines(h(time.Hour), dup.Seq, dup.Seq+"0", mustLines(t, record.Plain, dup))
			fx.table.put(avItem("a", 1, "2"))
			fx.table.put(avItem("b", 2, "5"))
		}, nil, 0, counts{equal: 2}, nil},
		{"snapshot and stream", record.Plain, func(fx *fixture) {
			snap, err := foldtest.SnapshotLines(record.Plain, h(2*time.Hour), ddbItem("a", 1, "0"), ddbItem("b", 2, "0"), ddbItem("c", 3, "0"))
			if err != nil {
				t.Fatal(err)
			}
			fx.putLines(h(2*time.Hour), "export", "1", snap)
			fx.object(fx.change("a", 1, "1", h(time.Hour)), fx.change("c", 3, "", h(time.Hour)))
			fx.table.put(avItem("a", 1, "1"))
			fx.table.put(avItem("b", 2, "0"))
		}, nil, 0, counts{equal: 2}, nil},
		{"a lake key of another type than the table's", record.Plain, func(fx *fixture) {
			fx.object(foldtest.Change{Event: "INSERT", Keys: `{"pk":{"S":"a"},"sk":{"S":"1"}}`, New: `{"pk":{"S":"a"},"sk":{"S":"1"}}`, Seq: "1", Created: h(time.Hour)})
			fx.table.put(avItem("a", 1, "1"))
		}, nil, 0, counts{missing: 1, onlyLake: 1},
			[]string{"missing from lake " + plainKeys("a", 1), `only in lake {"pk":"a","sk":"1"}`}},
		{"an empty table and an empty lake", record.Plain, func(fx *fixture) {}, nil, 0, counts{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.format)
			tc.setup(fx)
			if tc.later != nil {
				delivered := false
				deliver := func() {
					if !delivered {
						delivered = true
						tc.later(fx)
					}
				}
				if tc.settle > 0 {
					fx.clock.onSleep = func(time.Duration) { deliver() }
				}
			}
			cfg := fx.config()
			cfg.Settle = tc.settle
			rep := fx.run(cfg)
			if got := countsOf(rep); got != tc.expect {
				t.Errorf("counts:\n got    %+v\n expect %+v", got, tc.expect)
			}
			if got := exampleList(rep); !slices.Equal(got, tc.expectExamples) {
				t.Errorf("examples:\n got    %q\n expect %q", got, tc.expectExamples)
			}
			if got, expect := rep.Differences(), tc.expect.missing+tc.expect.onlyLake+tc.expect.different+tc.expect.conflict+tc.expect.malformed; got != expect {
				t.Errorf("differences: got %d, expect %d", got, expect)
			}
			if got, expect := rep.Scanned, int64(len(fx.table.items)); got != expect {
				t.Errorf("scanned: got %d, expect %d", got, expect)
			}
			for _, x := range rep.Examples {
				if x.Lake != "" || x.Live != "" {
					t.Errorf("example %s shows values without ShowValues", x.Keys)
				}
			}
		})
	}
}

func mustLines(t *testing.T, format record.ImageFormat, changes ...foldtest.Change) [][]byte {
	t.Helper()
	lines, err := foldtest.StreamLines(format, changes...)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestNumbersAndKeys: numbers compare as decimals, at any depth and in
// number sets, binary and numeric keys join, and attribute and set order
// do not matter.
func TestNumbersAndKeys(t *testing.T) {
	const n38 = "12345678901234567890123456789012345678"
	tests := []struct {
		name     string
		lakeItem string
		liveItem map[string]types.AttributeValue
		expect   Outcome
	}{
		{"1E+125", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"1E+125"}}`, avItem("a", 1, "1E+125"), Equal},
		{"38 digits", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"` + n38 + `"}}`, avItem("a", 1, n38), Equal},
		{"38 digits, the last one off", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"` + n38 + `"}}`, avItem("a", 1, "12345678901234567890123456789012345679"), Different},
		{"trailing zeros are trimmed", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"19.990"}}`, avItem("a", 1, "19.99"), Equal},
		{"DynamoDB Local's 3.140", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"3.140"}}`, avItem("a", 1, "3.14"), Equal},
		{"1.50 is 1.5", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"1.50"}}`, avItem("a", 1, "1.5"), Equal},
		{"1E+2 is 100", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"1E+2"}}`, avItem("a", 1, "100"), Equal},
		{"-0 is 0", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"-0"}}`, avItem("a", 1, "0"), Equal},
		{"exponent spelling", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"1e125"}}`, avItem("a", 1, "1E+125"), Equal},
		{"1.5 is not 1.05", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"1.5"}}`, avItem("a", 1, "1.05"), Different},
		{"-1 is not 1", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"N":"-1"}}`, avItem("a", 1, "1"), Different},
		{"nested numbers and number sets as decimals", `{"pk":{"S":"a"},"sk":{"N":"1"},"m":{"M":{"l":{"L":[{"N":"2.50"},{"M":{"x":{"N":"1E+1"}}}]},"s":{"NS":["1.0","3E0","20"]}}}}`,
			map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberN{Value: "1"},
				"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "2.5"},
						&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"x": &types.AttributeValueMemberN{Value: "10"}}}}},
					"s": &types.AttributeValueMemberNS{Value: []string{"20", "3", "1"}},
				}}}, Equal},
		{"a nested number that differs", `{"pk":{"S":"a"},"sk":{"N":"1"},"m":{"M":{"l":{"L":[{"N":"2.51"}]}}}}`,
			map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberN{Value: "1"},
				"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "2.5"}}}}}}, Different},
		{"sets in another order, maps in another order", `{"sk":{"N":"1"},"pk":{"S":"a"},"v":{"SS":["b","a","c"]},"m":{"M":{"y":{"NS":["2","10"]},"x":{"BS":["AQ==","AA=="]}}}}`,
			map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberN{Value: "1"},
				"v": &types.AttributeValueMemberSS{Value: []string{"a", "c", "b"}},
				"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
					"x": &types.AttributeValueMemberBS{Value: [][]byte{{0}, {1}}},
					"y": &types.AttributeValueMemberNS{Value: []string{"10", "2"}},
				}}}, Equal},
		{"a list's order matters", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"L":[{"S":"b"},{"S":"a"}]}}`,
			map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberN{Value: "1"},
				"v": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "a"}, &types.AttributeValueMemberS{Value: "b"}}}}, Different},
		{"escapes and types", `{"pk":{"S":"a"},"sk":{"N":"1"},"s":{"S":"\u00e9\/\"<"},"n":{"NULL":true},"b":{"BOOL":false},"e":{"L":[]},"o":{"M":{}}}`,
			map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}, "sk": &types.AttributeValueMemberN{Value: "1"},
				"s": &types.AttributeValueMemberS{Value: "é/\"<"}, "n": &types.AttributeValueMemberNULL{Value: true},
				"b": &types.AttributeValueMemberBOOL{Value: false}, "e": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
				"o": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}}, Equal},
		{"a string is not a number", `{"pk":{"S":"a"},"sk":{"N":"1"},"v":{"S":"1"}}`, avItem("a", 1, "1"), Different},
	}
	for _, format := range []record.ImageFormat{record.Plain, record.DynamoDB} {
		for _, tc := range tests {
			t.Run(format.String()+"/"+tc.name, func(t *testing.T) {
				fx := newFixture(t, format)
				fx.object(foldtest.Change{Event: "INSERT", Keys: ddbKeys("a", 1), New: tc.lakeItem, Seq: "1", Created: tNow.Add(-time.Hour)})
				fx.table.put(tc.liveItem)
				rep := fx.run(fx.config())
				if got := rep.Count(tc.expect); got != 1 || rep.Equal+rep.Different != 1 {
					t.Errorf("got %+v, expect one item %v", countsOf(rep), tc.expect)
				}
			})
		}
	}
}

func TestBinaryAndNumericKeys(t *testing.T) {
	for _, format := range []record.ImageFormat{record.Plain, record.DynamoDB} {
		t.Run(format.String(), func(t *testing.T) {
			fx := newFixture(t, format)
			fx.table.pk, fx.table.pkType, fx.table.sk, fx.table.skType = "id", types.ScalarAttributeTypeB, "n", types.ScalarAttributeTypeN
			item := func(id []byte, n, v string) map[string]types.AttributeValue {
				return map[string]types.AttributeValue{"id": &types.AttributeValueMemberB{Value: id}, "n": &types.AttributeValueMemberN{Value: n},
					"v": &types.AttributeValueMemberS{Value: v}}
			}
			fx.object(
				foldtest.Change{Event: "INSERT", Keys: `{"n":{"N":"-5.5"},"id":{"B":"AAEC/w=="}}`, New: `{"id":{"B":"AAEC/w=="},"n":{"N":"-5.5"},"v":{"S":"x"}}`, Seq: "1", Created: tNow.Add(-time.Hour)},
				foldtest.Change{Event: "INSERT", Keys: `{"id":{"B":"AQ=="},"n":{"N":"1E+125"}}`, New: `{"id":{"B":"AQ=="},"n":{"N":"1E+125"},"v":{"S":"y"}}`, Seq: "2", Created: tNow.Add(-time.Hour)},
				foldtest.Change{Event: "INSERT", Keys: `{"id":{"B":"Ag=="},"n":{"N":"0"}}`, New: `{"id":{"B":"Ag=="},"n":{"N":"0"},"v":{"S":"z"}}`, Seq: "3", Created: tNow.Add(-time.Hour)})
			fx.table.put(item([]byte{0, 1, 2, 255}, "-5.5", "x"))
			fx.table.put(item([]byte{1}, "1E+125", "changed"))
			fx.table.put(item([]byte{3}, "0", "new"))
			cfg := fx.config()
			cfg.ShowValues = true
			rep := fx.run(cfg)
			if got, expect := countsOf(rep), (counts{equal: 1, different: 1, missing: 1, onlyLake: 1}); got != expect {
				t.Errorf("counts:\n got    %+v\n expect %+v", got, expect)
			}
			if fx.table.batchGets == 0 {
				t.Errorf("the recheck did not read the differing items")
			}
			if format == record.Plain {
				expect := []string{`missing from lake {"id":"Aw==","n":0}`, `only in lake {"id":"Ag==","n":0}`, `different {"id":"AQ==","n":1E+125}`}
				if got := exampleList(rep); !slices.Equal(got, expect) {
					t.Errorf("examples:\n got    %q\n expect %q", got, expect)
				}
			}
		})
	}
}

// TestDamagedLake: a removed object and an altered line are found.
func TestDamagedLake(t *testing.T) {
	tests := []struct {
		name   string
		damage func(fx *fixture, keys []string)
		expect counts
	}{
		{"intact", func(*fixture, []string) {}, counts{equal: 3}},
		{"an object removed", func(fx *fixture, keys []string) { delete(fx.s3.objects, keys[1]) },
			counts{equal: 1, different: 1, missing: 1}},
		{"a value altered", func(fx *fixture, keys []string) {
			lines := mustLines(t, record.Plain, fx.change("c", 3, "1", tNow.Add(-time.Hour)))
			lines[0] = []byte(strings.Replace(string(lines[0]), `"v":1`, `"v":2`, 1))
			fx.s3.put(keys[0], foldtest.Gzip(lines))
		}, counts{equal: 2, different: 1}},
		{"a line broken", func(fx *fixture, keys []string) {
			lines := mustLines(t, record.Plain, fx.change("c", 3, "1", tNow.Add(-time.Hour)))
			lines[0] = lines[0][:len(lines[0])-9]
			fx.s3.put(keys[0], foldtest.Gzip(lines))
		}, counts{equal: 2, missing: 1, malformed: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, record.Plain)
			k0 := fx.object(fx.change("c", 3, "1", tNow.Add(-3*time.Hour)))
			k1 := fx.object(fx.change("a", 1, "1", tNow.Add(-2*time.Hour)), fx.change("a", 1, "2", tNow.Add(-2*time.Hour)), fx.change("b", 2, "1", tNow.Add(-2*time.Hour)))
			fx.object(fx.change("x", 9, "1", tNow.Add(-time.Hour)), fx.change("a", 1, "1", tNow.Add(-3*time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
			fx.table.put(avItem("b", 2, "1"))
			fx.table.put(avItem("c", 3, "1"))
			// x was inserted and then deleted in DynamoDB; the lake lost the
			// REMOVE only when the object holding it is damaged: here it is
			// simply not in the table and not in the lake's damage.
			fx.table.put(avItem("x", 9, "1"))
			fx.table.delete(avItem("x", 9, "1"))
			fx.object(fx.change("x", 9, "", tNow.Add(-30*time.Minute)))
			tc.damage(fx, []string{k0, k1})
			rep := fx.run(fx.config())
			if got := countsOf(rep); got != tc.expect {
				t.Errorf("counts:\n got    %+v\n expect %+v", got, tc.expect)
			}
			if tc.expect.malformed > 0 {
				if len(rep.Malformed) != 1 || rep.Malformed[0].Object != k0 || rep.Malformed[0].Line != 1 {
					t.Errorf("malformed: got %+v, expect line 1 of %s", rep.Malformed, k0)
				}
			}
		})
	}
}

// TestScanAndReadCapacity: a larger table is scanned in parallel
// segments, paginated, every page asks for its consumed capacity, the
// limiter keeps to the rate, and spilling through tiny partitions gives
// the same result.
func TestScanAndReadCapacity(t *testing.T) {
	fx := newFixture(t, record.Plain)
	var changes []foldtest.Change
	for i := range 120 {
		changes = append(changes, fx.change(fmt.Sprintf("p%d", i%7), i, fmt.Sprint(i), tNow.Add(-time.Hour)))
		fx.table.put(avItem(fmt.Sprintf("p%d", i%7), i, fmt.Sprint(i)))
	}
	for start := 0; start < len(changes); start += 25 {
		fx.object(changes[start:min(len(changes), start+25)]...)
	}
	fx.table.put(avItem("extra", 1, "1"))
	fx.table.put(avItem("extra", 2, "1"))
	fx.table.unprocessedOnce = true
	cfg := fx.config()
	cfg.TotalSegments = 4
	cfg.PageLimit = 5
	cfg.ReadRate = 10
	cfg.Partitions = 3
	cfg.PartitionMemory = 2 << 10
	var last Progress
	calls := 0
	cfg.Progress = func(p Progress) { last = p; calls++ }
	rep := fx.run(cfg)
	if got, expect := countsOf(rep), (counts{equal: 120, missing: 2}); got != expect {
		t.Errorf("counts:\n got    %+v\n expect %+v", got, expect)
	}
	if rep.Segments != 4 {
		t.Errorf("segments: got %d, expect 4", rep.Segments)
	}
	segs := map[int32]bool{}
	for _, in := range fx.table.scans {
		segs[*in.Segment] = true
		if *in.TotalSegments != 4 || *in.Limit != 5 || *in.ConsistentRead {
			t.Errorf("scan input: segment %d of %d, limit %d, consistent %v", *in.Segment, *in.TotalSegments, *in.Limit, *in.ConsistentRead)
		}
	}
	if len(segs) != 4 {
		t.Errorf("segments scanned: got %d, expect 4", len(segs))
	}
	if got, expect := rep.ScanRCU, fx.table.scanRCU; got != expect || got < 0.5*122 {
		t.Errorf("scan RCU: got %v, expect %v", got, expect)
	}
	if rep.RecheckRCU != 2 || fx.table.batchGets != 2 {
		t.Errorf("recheck: %v RCU in %d requests, expect 2 in 2 (one unprocessed key retried)", rep.RecheckRCU, fx.table.batchGets)
	}
	// 10 RCU/s: what was consumed beyond the first second's worth was
	// waited for.
	if minWait := time.Duration((rep.ConsumedRCU() - 10 - 2.5*4) / 10 * float64(time.Second)); fx.clock.slept < minWait {
		t.Errorf("slept %v for %.1f RCU at 10 RCU/s, expect at least %v", fx.clock.slept, rep.ConsumedRCU(), minWait)
	}
	if rep.FoldedPartitions <= rep.Partitions {
		t.Errorf("folded partitions: got %d of %d, expect the 2 KiB budget to split them", rep.FoldedPartitions, rep.Partitions)
	}
	if calls == 0 || last.Phase != PhaseDone || last.ItemsScanned != 122 || last.ObjectsRead != 5 || last.EstimatedItems != 122 {
		t.Errorf("last progress: %+v after %d calls", last, calls)
	}
}

func TestShowValuesAndRecheckCap(t *testing.T) {
	fx := newFixture(t, record.Plain)
	fx.object(fx.change("a", 1, "1", tNow.Add(-time.Hour)), fx.change("b", 2, "1", tNow.Add(-time.Hour)), fx.change("c", 3, "1", tNow.Add(-time.Hour)))
	fx.table.put(avItem("a", 1, "9"))
	fx.table.put(avItem("b", 2, "9"))
	fx.table.put(avItem("c", 3, "9"))
	cfg := fx.config()
	cfg.ShowValues = true
	cfg.MaxRecheck = 1
	cfg.Examples = 2
	rep := fx.run(cfg)
	if rep.Different != 3 || rep.Rechecked != 1 || rep.NotRechecked != 2 {
		t.Errorf("different %d, rechecked %d, not rechecked %d; expect 3, 1, 2", rep.Different, rep.Rechecked, rep.NotRechecked)
	}
	if len(rep.Examples) != 2 {
		t.Fatalf("examples: got %d, expect 2", len(rep.Examples))
	}
	x := rep.Examples[0]
	if x.Keys != plainKeys("a", 1) || x.Lake != `{"v":1,"pk":"a","sk":1}` || x.Live != `{"pk":"a","sk":1,"v":9}` || x.LakeOrderKey == "" {
		t.Errorf("first example: %+v", x)
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := Run(context.Background(), Config{Prefix: "/bad"})
	for _, want := range []string{"table", "bucket", "prefix", "List", "Scan"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// TestKeyNumberSpelling: a key number the lake writes in another spelling
// than DynamoDB stores (a DynamoDB Local stream record's 1E+2 for 100) is
// a second item for every consumer of the lake, which matches keys byte
// for byte; reconcile reports it as such, and pairs the two so that the
// cause is named.
func TestKeyNumberSpelling(t *testing.T) {
	for _, format := range []record.ImageFormat{record.Plain, record.DynamoDB} {
		t.Run(format.String(), func(t *testing.T) {
			fx := newFixture(t, format)
			fx.object(
				foldtest.Change{Event: "INSERT", Keys: `{"pk":{"S":"a"},"sk":{"N":"1E+2"}}`, New: `{"pk":{"S":"a"},"sk":{"N":"1E+2"},"v":{"N":"1"}}`, Seq: "1", Created: tNow.Add(-time.Hour)},
				fx.change("b", 2, "2", tNow.Add(-time.Hour)))
			fx.table.put(avItem("a", 100, "1"))
			fx.table.put(avItem("b", 2, "2"))
			rep := fx.run(fx.config())
			if got, expect := countsOf(rep), (counts{equal: 1, missing: 1, onlyLake: 1}); got != expect {
				t.Errorf("counts:\n got    %+v\n expect %+v", got, expect)
			}
			lake, live := `{"pk":"a","sk":1E+2}`, `{"pk":"a","sk":100}`
			if format == record.DynamoDB {
				lake, live = `{"pk":{"S":"a"},"sk":{"N":"1E+2"}}`, `{"pk":{"S":"a"},"sk":{"N":"100"}}`
			}
			if expect := []KeyTextPair{{Lake: lake, Live: live}}; rep.KeyTextDiffers != 1 || !slices.Equal(rep.KeyTextExamples, expect) {
				t.Errorf("key text: got %d %v, expect 1 %v", rep.KeyTextDiffers, rep.KeyTextExamples, expect)
			}
		})
	}
}

// throttlingTable throttles the first scans Scan calls and the first
// gets BatchGetItem calls, as a table over its capacity for a while does.
type throttlingTable struct {
	*fakeTable
	mu          sync.Mutex
	scans, gets int
	err         func() error
}

func (f *throttlingTable) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	f.mu.Lock()
	throttle := f.scans != 0
	if f.scans > 0 {
		f.scans--
	}
	f.mu.Unlock()
	if throttle {
		return nil, f.err()
	}
	return f.fakeTable.Scan(ctx, in, o...)
}

func (f *throttlingTable) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.mu.Lock()
	throttle := f.gets != 0
	if f.gets > 0 {
		f.gets--
	}
	f.mu.Unlock()
	if throttle {
		return nil, f.err()
	}
	return f.fakeTable.BatchGetItem(ctx, in, o...)
}

// sdkThrottle is what the SDK returns once its own attempts are spent on
// a throttled request: the operation error around DynamoDB's exception,
// joined with its retry quota's refusal once that is exhausted.
func sdkThrottle() error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "Scan", Err: errors.Join(
		&retry.MaxAttemptsError{Attempt: 3, Err: &types.ProvisionedThroughputExceededException{Message: aws.String("The level of configured provisioned throughput for the table was exceeded.")}},
		ratelimit.QuotaExceededError{Available: 0, Requested: 5})}
}

// TestPatientUnderThrottling: a table that throttles the first 20 Scan
// calls and the first 5 BatchGetItem calls (each after the SDK's own
// attempts) is reconciled all the same, waiting with a capped backoff on
// the injected clock; one that never stops throttling ends the run after
// MaxThrottleWait with ErrThrottled.
func TestPatientUnderThrottling(t *testing.T) {
	t.Run("for a while", func(t *testing.T) {
		fx := newFixture(t, record.Plain)
		var changes []foldtest.Change
		for i := range 10 {
			changes = append(changes, fx.change("a", i, fmt.Sprint(i), tNow.Add(-time.Hour)))
			fx.table.put(avItem("a", i, fmt.Sprint(i)))
		}
		fx.object(changes...)
		fx.table.put(avItem("z", 1, "99")) // missing from the lake: the recheck reads it
		var sleeps []time.Duration
		fx.clock.onSleep = func(d time.Duration) { sleeps = append(sleeps, d) }
		tt := &throttlingTable{fakeTable: fx.table, scans: 20, gets: 5, err: sdkThrottle}
		cfg := fx.config()
		cfg.Scan, cfg.BatchGet = tt, tt
		rep := fx.run(cfg)
		if got, expect := countsOf(rep), (counts{equal: 10, missing: 1}); got != expect {
			t.Errorf("counts:\n got    %+v\n expect %+v", got, expect)
		}
		if rep.ThrottledRequests != 25 || len(sleeps) != 25 {
			t.Errorf("throttled requests %d, sleeps %d; expect 25 each", rep.ThrottledRequests, len(sleeps))
		}
		for _, d := range sleeps {
			if d <= 0 || d > ThrottleMaxDelay {
				t.Errorf("a backoff of %s, outside (0, %s]", d, ThrottleMaxDelay)
			}
		}
	})
	t.Run("without end", func(t *testing.T) {
		fx := newFixture(t, record.Plain)
		fx.table.put(avItem("a", 1, "1"))
		tt := &throttlingTable{fakeTable: fx.table, scans: -1, err: sdkThrottle}
		cfg := fx.config()
		cfg.Scan, cfg.MaxThrottleWait = tt, 10*time.Minute
		_, err := Run(context.Background(), cfg)
		if !errors.Is(err, ErrThrottled) || !strings.Contains(err.Error(), "for 10m0s") {
			t.Fatalf("error: got %v, expect ErrThrottled after 10m0s", err)
		}
	})
	t.Run("other errors are not retried", func(t *testing.T) {
		fx := newFixture(t, record.Plain)
		tt := &throttlingTable{fakeTable: fx.table, scans: -1, err: func() error {
			return &types.ResourceNotFoundException{Message: aws.String("Requested resource not found")}
		}}
		cfg := fx.config()
		cfg.Scan = tt
		if _, err := Run(context.Background(), cfg); err == nil || fx.clock.slept != 0 {
			t.Fatalf("error %v after sleeping %s; expect a failure at once", err, fx.clock.slept)
		}
	})
}
