package record

import (
	"strings"
	"testing"
)

// TestLongPathIsClipped: the path of a fault deep under long names keeps
// its outermost part; the record is kept whole beside the reason.
func TestLongPathIsClipped(t *testing.T) {
	name := strings.Repeat("n", 100)
	image := `{"id":{"S":"k"},` + strings.Repeat(`"`+name+`":{"M":{`, 20) + `"x":{"N":"1e999"}` + strings.Repeat(`}}`, 20) + `}`
	r := convertOne(t, oneRecord(image))
	if r.Err == nil {
		t.Fatal("converted")
	}
	if !strings.HasPrefix(r.Err.Path, "dynamodb.NewImage."+name+"."+name) || !strings.HasSuffix(r.Err.Path, "…") || len(r.Err.Path) > maxPath+len("…") {
		t.Errorf("path of %d bytes: %s", len(r.Err.Path), r.Err.Path)
	}
	if want := `N value "1e999" is out of DynamoDB's range`; !strings.HasPrefix(r.Err.Reason, want) {
		t.Errorf("reason %q; want %q", r.Err.Reason, want)
	}
}
