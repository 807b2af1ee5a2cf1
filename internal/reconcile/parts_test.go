package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/internal/record"
)

func TestAppendItem(t *testing.T) {
	item := map[string]types.AttributeValue{
		"s":   &types.AttributeValueMemberS{Value: "a\"\\\n\x01é"},
		"n":   &types.AttributeValueMemberN{Value: "-1.50E+125"},
		"b":   &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"t":   &types.AttributeValueMemberBOOL{Value: true},
		"f":   &types.AttributeValueMemberBOOL{Value: false},
		"nul": &types.AttributeValueMemberNULL{Value: true},
		"ss":  &types.AttributeValueMemberSS{Value: []string{"x", "y"}},
		"ns":  &types.AttributeValueMemberNS{Value: []string{"1", "2.0"}},
		"bs":  &types.AttributeValueMemberBS{Value: [][]byte{{1}, {}}},
		"l":   &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "0"}, &types.AttributeValueMemberL{}}},
		"m":   &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"z": &types.AttributeValueMemberS{}, "a": &types.AttributeValueMemberM{}}},
	}
	got, err := appendItem(nil, item)
	if err != nil {
		t.Fatal(err)
	}
	expectTyped := `{"b":{"B":"AAEC/w=="},"bs":{"BS":["AQ==",""]},"f":{"BOOL":false},"l":{"L":[{"N":"0"},{"L":[]}]},` +
		`"m":{"M":{"a":{"M":{}},"z":{"S":""}}},"n":{"N":"-1.50E+125"},"ns":{"NS":["1","2.0"]},"nul":{"NULL":true},` +
		`"s":{"S":"a\"\\\u000a\u0001é"},"ss":{"SS":["x","y"]},"t":{"BOOL":true}}`
	if string(got) != expectTyped {
		t.Errorf("DynamoDB JSON:\n got    %s\n expect %s", got, expectTyped)
	}
	plain, err := record.NewConverter().AppendImage(nil, got)
	if err != nil {
		t.Fatal(err)
	}
	expectPlain := `{"b":"AAEC/w==","bs":["AQ==",""],"f":false,"l":[0,[]],"m":{"a":{},"z":""},"n":-1.50E+125,"ns":[1,2.0],"nul":null,` +
		`"s":"a\"\\\u000a\u0001é","ss":["x","y"],"t":true}`
	if string(plain) != expectPlain {
		t.Errorf("plain image:\n got    %s\n expect %s", plain, expectPlain)
	}
	if _, err := appendItem(nil, map[string]types.AttributeValue{"u": &types.UnknownUnionMember{Tag: "X"}}); err == nil {
		t.Errorf("an unknown attribute type: no error")
	}
}

func TestKeyAttributes(t *testing.T) {
	kt := map[string]types.ScalarAttributeType{"pk": types.ScalarAttributeTypeB, "sk": types.ScalarAttributeTypeN}
	tests := []struct {
		name   string
		keys   string
		format record.ImageFormat
		expect string // the key as DynamoDB JSON, or "error"
	}{
		{"plain", `{"pk":"AAEC/w==","sk":1E+125}`, record.Plain, `{"pk":{"B":"AAEC/w=="},"sk":{"N":"1E+125"}}`},
		{"typed", `{"pk":{"B":"AQ=="},"sk":{"N":"-0.5"}}`, record.DynamoDB, `{"pk":{"B":"AQ=="},"sk":{"N":"-0.5"}}`},
		{"a string for a number", `{"pk":"AQ==","sk":"1"}`, record.Plain, "error"},
		{"not base64", `{"pk":"!!","sk":1}`, record.Plain, "error"},
		{"a missing key", `{"pk":"AQ=="}`, record.Plain, "error"},
		{"another attribute", `{"pk":"AQ==","x":1}`, record.Plain, "error"},
		{"typed with the wrong type", `{"pk":{"S":"a"},"sk":{"N":"1"}}`, record.DynamoDB, "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			av, err := keyAttributes(tc.keys, tc.format, kt)
			got := "error"
			if err == nil {
				b, err := appendItem(nil, av)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if got != tc.expect {
				t.Errorf("got %s (%v), expect %s", got, err, tc.expect)
			}
		})
	}
}

func TestSameImage(t *testing.T) {
	tests := []struct {
		name   string
		lake   string
		format record.ImageFormat
		live   string
		expect bool
	}{
		{"order", `{"b":1,"a":"x"}`, record.Plain, `{"a":{"S":"x"},"b":{"N":"1"}}`, true},
		{"a member more", `{"b":1,"a":"x","c":null}`, record.Plain, `{"a":{"S":"x"},"b":{"N":"1"}}`, false},
		{"a member less", `{"a":"x"}`, record.Plain, `{"a":{"S":"x"},"b":{"N":"1"}}`, false},
		{"a name twice", `{"a":"x","a":"x"}`, record.Plain, `{"a":{"S":"x"},"b":{"S":"x"}}`, false},
		{"escaped the same", `{"a":"\u0041\/"}`, record.Plain, `{"a":{"S":"A/"}}`, true},
		{"number spelling", `{"a":1.0}`, record.Plain, `{"a":{"N":"1"}}`, true},
		{"1.50 is 1.5", `{"a":1.50}`, record.Plain, `{"a":{"N":"1.5"}}`, true},
		{"1E+2 is 100", `{"a":1E+2}`, record.Plain, `{"a":{"N":"100"}}`, true},
		{"-0 is 0", `{"a":-0}`, record.Plain, `{"a":{"N":"0"}}`, true},
		{"typed 1.50 is 1.5", `{"a":{"N":"1.50"}}`, record.DynamoDB, `{"a":{"N":"1.5"}}`, true},
		{"typed 1E+2 is 100", `{"a":{"N":"1E+2"}}`, record.DynamoDB, `{"a":{"N":"100"}}`, true},
		{"a number is not its string", `{"a":"1.5"}`, record.Plain, `{"a":{"N":"1.5"}}`, false},
		{"1.5 is not 15", `{"a":1.5}`, record.Plain, `{"a":{"N":"15"}}`, false},
		{"number set spelling", `{"a":[1.0,2E1]}`, record.Plain, `{"a":{"NS":["20","1"]}}`, true},
		{"typed number set spelling", `{"a":{"NS":["1.0","2E1"]}}`, record.DynamoDB, `{"a":{"NS":["20","1"]}}`, true},
		{"nested deep", `{"a":{"b":[{"c":[0.50]}]}}`, record.Plain, `{"a":{"M":{"b":{"L":[{"M":{"c":{"L":[{"N":"0.5"}]}}}]}}}}`, true},
		{"typed nested deep", `{"a":{"M":{"b":{"L":[{"M":{"c":{"NS":["5E-1"]}}}]}}}}`, record.DynamoDB, `{"a":{"M":{"b":{"L":[{"M":{"c":{"NS":["0.5"]}}}]}}}}`, true},
		// The plain format's limit: an array is a set exactly when the
		// live attribute is one, so a list that became a set of the same
		// members is not told apart; the typed format tells them.
		{"plain: a list and a set of the same members", `{"a":[2,1]}`, record.Plain, `{"a":{"NS":["1","2"]}}`, true},
		{"typed: a list is not a set", `{"a":{"L":[{"N":"2"},{"N":"1"}]}}`, record.DynamoDB, `{"a":{"NS":["1","2"]}}`, false},
		{"null", `{"a":null}`, record.Plain, `{"a":{"NULL":true}}`, true},
		{"false is not null", `{"a":false}`, record.Plain, `{"a":{"NULL":true}}`, false},
		{"bool", `{"a":true}`, record.Plain, `{"a":{"BOOL":true}}`, true},
		{"bool flipped", `{"a":false}`, record.Plain, `{"a":{"BOOL":true}}`, false},
		{"set order", `{"a":[3,1,2]}`, record.Plain, `{"a":{"NS":["1","2","3"]}}`, true},
		{"set with a duplicate", `{"a":["x","x"]}`, record.Plain, `{"a":{"SS":["x","y"]}}`, false},
		{"list order", `{"a":[3,1]}`, record.Plain, `{"a":{"L":[{"N":"1"},{"N":"3"}]}}`, false},
		{"nested", `{"m":{"l":[{"x":"1"}],"n":{}}}`, record.Plain, `{"m":{"M":{"n":{"M":{}},"l":{"L":[{"M":{"x":{"S":"1"}}}]}}}}`, true},
		{"a broken lake image", `{"a":`, record.Plain, `{"a":{"S":"x"}}`, false},
		{"an invalid lake number", `{"a":01}`, record.Plain, `{"a":{"N":"01"}}`, false},
		{"typed", `{"b":{"N":"1"},"a":{"SS":["y","x"]}}`, record.DynamoDB, `{"a":{"SS":["x","y"]},"b":{"N":"1"}}`, true},
		{"typed, another type", `{"b":{"S":"1"}}`, record.DynamoDB, `{"b":{"N":"1"}}`, false},
		{"typed null", `{"b":{"NULL":true}}`, record.DynamoDB, `{"b":{"NULL":true}}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sameImage([]byte(tc.lake), tc.format, []byte(tc.live))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.expect {
				t.Errorf("got %v, expect %v", got, tc.expect)
			}
		})
	}
}

func TestLimiter(t *testing.T) {
	clock := &fakeClock{now: tNow}
	l := newLimiter(100, clock.Now, clock.Sleep)
	ctx := context.Background()
	// The first page goes at once; its 250 RCUs are then waited off.
	for i, expect := range []time.Duration{0, 2500 * time.Millisecond, 5000 * time.Millisecond} {
		before := clock.slept
		if err := l.wait(ctx); err != nil {
			t.Fatal(err)
		}
		got := clock.slept
		if got < expect || got > expect+10*time.Millisecond {
			t.Errorf("page %d: waited until %v (from %v), expect %v", i, got, before, expect)
		}
		l.spend(250)
	}
	// Idle time buys no more than a second of capacity.
	clock.Sleep(ctx, time.Hour)
	l.spend(100)
	before := clock.slept
	if err := l.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if clock.slept != before {
		t.Errorf("after an idle hour, 100 RCUs needed a wait of %v", clock.slept-before)
	}
	l.spend(300)
	before = clock.slept
	_ = l.wait(ctx)
	if got := clock.slept - before; got < 3*time.Second-time.Millisecond || got > 3*time.Second+10*time.Millisecond {
		t.Errorf("300 RCUs past a full bucket: waited %v, expect 3s", got)
	}
}

// TestSettle: the wait ends when the iterator age shows the pipeline past
// the recheck's read, and lasts the whole Settle when it never does.
func TestSettle(t *testing.T) {
	tests := []struct {
		name          string
		age           func(now time.Time) (time.Duration, error)
		expectSettled bool
		expectSlept   time.Duration
	}{
		{"caught up after a while", func(now time.Time) (time.Duration, error) {
			// The stream is 2 minutes behind until 3 minutes from now.
			if now.Before(tNow.Add(3 * time.Minute)) {
				return 2 * time.Minute, nil
			}
			return 0, nil
		}, true, 2*time.Minute + 30*time.Second}, // now - 2m reaches t2 + the 30s margin
		{"never caught up", func(time.Time) (time.Duration, error) { return time.Hour, nil }, false, 10 * time.Minute},
		{"the metric fails", func(time.Time) (time.Duration, error) { return 0, errors.New("no data") }, false, 10 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, record.Plain)
			fx.object(fx.change("a", 1, "1", tNow.Add(-time.Hour)))
			fx.table.put(avItem("a", 1, "2"))
			fx.clock.onSleep = func(time.Duration) {
				if fx.clock.Now().After(tNow.Add(time.Minute)) && len(fx.s3.objects) == 1 {
					fx.object(fx.change("a", 1, "2", tNow.Add(-5*time.Second)))
				}
			}
			cfg := fx.config()
			cfg.Settle = 10 * time.Minute
			cfg.IteratorAge = func(context.Context) (time.Duration, error) { return tc.age(fx.clock.Now()) }
			rep := fx.run(cfg)
			if rep.Settled != tc.expectSettled {
				t.Errorf("settled: got %v, expect %v", rep.Settled, tc.expectSettled)
			}
			if fx.clock.slept != tc.expectSlept {
				t.Errorf("slept: got %v, expect %v", fx.clock.slept, tc.expectSlept)
			}
			if rep.InFlight != 1 || rep.RecheckObjects != 1 {
				t.Errorf("in flight %d from %d new objects, expect 1 from 1", rep.InFlight, rep.RecheckObjects)
			}
		})
	}
}

// failing wraps the fakes with one call that fails.
type failingScan struct{ *fakeTable }

func (failingScan) Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	return nil, &types.ProvisionedThroughputExceededException{Message: new(string)}
}

func TestErrorsEndTheRun(t *testing.T) {
	tests := []struct {
		name   string
		alter  func(fx *fixture, cfg *Config)
		expect string
	}{
		{"no such table", func(_ *fixture, cfg *Config) { cfg.Table = "Nope" }, "describe table"},
		{"scan fails", func(fx *fixture, cfg *Config) { cfg.Scan = failingScan{fx.table} }, "scan segment"},
		{"an object vanishes between listing and reading", func(fx *fixture, cfg *Config) {
			cfg.List = vanishing{fx.s3}
		}, "NoSuchKey"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, record.Plain)
			fx.object(fx.change("a", 1, "1", tNow.Add(-time.Hour)))
			fx.table.put(avItem("a", 1, "1"))
			cfg := fx.config()
			tc.alter(fx, &cfg)
			rep, err := Run(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.expect) || rep != nil {
				t.Errorf("got %v, %v; expect an error about %s", rep, err, tc.expect)
			}
		})
	}
}

// vanishing lists the bucket and then deletes what it listed.
type vanishing struct{ *fakeS3 }

func (v vanishing) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	out, err := v.fakeS3.ListObjectsV2(ctx, in, opts...)
	if err == nil {
		v.mu.Lock()
		for _, o := range out.Contents {
			delete(v.objects, *o.Key)
		}
		v.mu.Unlock()
	}
	return out, err
}

func TestDecimalKey(t *testing.T) {
	tests := []struct {
		in, expect string
		ok         bool
	}{
		{"0", "0", true}, {"-0", "0", true}, {"0.000", "0", true}, {"0E+5", "0", true},
		{"1.5", "15e-1", true}, {"1.50", "15e-1", true}, {"01.50", "15e-1", true}, {"+1.5", "15e-1", true},
		{"100", "1e2", true}, {"1E+2", "1e2", true}, {"1e2", "1e2", true}, {"10E1", "1e2", true}, {"1000e-1", "1e2", true},
		{"-3.140", "-314e-2", true}, {".5", "5e-1", true}, {"5.", "5e0", true},
		{"1E+130", "1e130", true}, {"1E-130", "1e-130", true}, {"1e125", "1e125", true},
		{"12345678901234567890123456789012345678", "12345678901234567890123456789012345678e0", true},
		{"", "", false}, {"-", "", false}, {".", "", false}, {"1e", "", false}, {"1e+", "", false}, {"1x", "", false},
		{"NaN", "", false}, {"1e99999999999", "", false}, {"1.2.3", "", false},
	}
	for _, tc := range tests {
		got, ok := decimalKey(tc.in)
		if got != tc.expect || ok != tc.ok {
			t.Errorf("%q: got %q, %v; expect %q, %v", tc.in, got, ok, tc.expect, tc.ok)
		}
	}
}

func TestIsThrottle(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		expect bool
	}{
		{"provisioned throughput", &types.ProvisionedThroughputExceededException{}, true},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"request limit", &smithy.GenericAPIError{Code: "RequestLimitExceeded"}, true},
		{"retry quota spent", ratelimit.QuotaExceededError{}, true},
		{"wrapped by the SDK", fmt.Errorf("scan: %w", &smithy.OperationError{Err: &types.ProvisionedThroughputExceededException{}}), true},
		{"not found", &types.ResourceNotFoundException{}, false},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDeniedException"}, false},
		{"canceled", context.Canceled, false},
	}
	for _, tc := range tests {
		if got := isThrottle(tc.err); got != tc.expect {
			t.Errorf("%s: got %v, expect %v", tc.name, got, tc.expect)
		}
	}
}

func TestThrottleDelay(t *testing.T) {
	for attempt := range 40 {
		d := throttleDelay(attempt)
		step := min(ThrottleMaxDelay, ThrottleBaseDelay<<min(attempt, 16))
		if d < step/2 || d > step || d > ThrottleMaxDelay {
			t.Errorf("attempt %d: %s, outside [%s, %s]", attempt, d, step/2, step)
		}
	}
}
