package fold

import (
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/orderkey"
)

func TestDeletedBySnapshot(t *testing.T) {
	export := time.Unix(1_790_000_000, 0)
	snapshot := orderkey.Snapshot(export)
	stream := func(at time.Time) []byte {
		k, err := orderkey.Stream(at, "100000000000000000001")
		if err != nil {
			t.Fatal(err)
		}
		return []byte(k)
	}
	older, inside := stream(export.Add(-time.Hour)), stream(export.Add(-orderkey.SnapshotMargin))
	tests := []struct {
		name   string
		state  State
		expect bool
	}{
		{"present, older than the snapshot", State{OrderKey: older, Status: StatusPresent}, true},
		{"unknown (KEYS_ONLY), older", State{OrderKey: older, Status: StatusUnknown}, true},
		{"conflict, older", State{OrderKey: older, Status: StatusConflict}, true},
		{"already removed", State{OrderKey: older, Status: StatusAbsent}, false},
		{"in the export: its row ranks at the snapshot", State{OrderKey: []byte(snapshot), Status: StatusPresent}, false},
		{"changed inside the margin", State{OrderKey: inside, Status: StatusPresent}, false},
	}
	for _, tc := range tests {
		if got := tc.state.DeletedBySnapshot(snapshot); got != tc.expect {
			t.Errorf("%s: got %v, expect %v", tc.name, got, tc.expect)
		}
	}
}
