package eventgen

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestDefaultEventFitsOneInvocation(t *testing.T) {
	e := Event(DefaultOptions())
	const invokeCap = 6 << 20
	if len(e) > invokeCap || len(e) < invokeCap*9/10 {
		t.Errorf("default event is %d bytes; want just under the %d-byte invoke cap", len(e), invokeCap)
	}
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(e, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Records) != DefaultOptions().Records {
		t.Fatalf("%d records", len(ev.Records))
	}
	names := map[string]int{}
	ttl := 0
	for i, r := range ev.Records {
		names[r.EventName]++
		if r.UserIdentity != nil {
			ttl++
		}
		if i > 0 && r.Change.SequenceNumber <= ev.Records[i-1].Change.SequenceNumber {
			t.Fatalf("sequence numbers out of order at %d", i)
		}
	}
	if names["INSERT"] == 0 || names["MODIFY"] == 0 || names["REMOVE"] == 0 || ttl == 0 {
		t.Errorf("event names %v, TTL deletes %d; want all kinds", names, ttl)
	}
}

func TestDeterministic(t *testing.T) {
	o := DefaultOptions()
	o.Records = 100
	if !bytes.Equal(Event(o), Event(o)) {
		t.Error("same options, different events")
	}
	o2 := o
	o2.Seed++
	if bytes.Equal(Event(o), Event(o2)) {
		t.Error("the seed does not change the content")
	}
}
