package reconcile

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbstream/pipeline/internal/record"
)

// An item's identity is its keys field, byte for byte (internal/fold):
// the fold, the current-state SQL and the Lakeflow pipeline all match
// lines that way, and reconcile folds the lake as they do. So a key number
// written in another spelling than DynamoDB stores it (a stream record
// with 1E+2 or 1.50 for a key DynamoDB stores as 100 or 1.5, which AWS's
// streams do not send but DynamoDB Local's do) is, for every consumer, a
// second item: reconcile reports it as one item missing from the lake and
// one only in the lake, as the consumers see it, and does not merge them.
// What it adds is the diagnosis: among the items it rechecked, it pairs
// each item only in the lake with the item missing from the lake whose key
// has the same value, and reports the pair (Report.KeyTextDiffers,
// KeyTextExamples), so that the two differences read as one cause: a
// writer that does not send DynamoDB's stored number text.

// KeyTextPair is an item whose key the lake writes differently from
// DynamoDB: the same key values, other text.
type KeyTextPair struct {
	// Lake is the keys field of the lake's lines; Live the keys as the
	// table's item renders them.
	Lake, Live string
}

// keyValue returns a text of keys (a keys field in format) that is the
// same for every spelling of its numbers, or false when keys does not
// parse as the table's key.
func keyValue(keys string, format record.ImageFormat, keyTypes map[string]types.ScalarAttributeType) (string, bool) {
	v, err := parseJSON([]byte(keys))
	if err != nil || v.kind != jObject || len(v.members) != len(keyTypes) {
		return "", false
	}
	parts := make([]string, 0, len(v.members))
	for _, m := range v.members {
		typ, ok := keyTypes[m.name]
		if !ok {
			return "", false
		}
		val := m.value
		if format == record.DynamoDB {
			if val.kind != jObject || len(val.members) != 1 || val.members[0].name != string(typ) {
				return "", false
			}
			val = val.members[0].value
		}
		text := val.text
		if typ == types.ScalarAttributeTypeN {
			if val.kind != jNumber && val.kind != jString {
				return "", false
			}
			text = numberSetKey(text)
		}
		parts = append(parts, m.name+"\x00"+string(typ)+"\x00"+text)
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01"), true
}

// pairKeyTexts finds, among the final outcomes of the rechecked items,
// those only in the lake whose key value equals that of an item missing
// from the lake, and reports each pair.
func (r *run) pairKeyTexts(final map[string]Outcome) {
	missing := map[string]string{} // key value -> live keys
	for _, k := range r.candOrder {
		if final[k] != MissingFromLake {
			continue
		}
		if v, ok := keyValue(k, r.cfg.ImageFormat, r.keyTypes); ok {
			missing[v] = k
		}
	}
	if len(missing) == 0 {
		return
	}
	for _, k := range r.candOrder {
		if final[k] != OnlyInLake {
			continue
		}
		v, ok := keyValue(k, r.cfg.ImageFormat, r.keyTypes)
		if !ok {
			continue
		}
		live, ok := missing[v]
		if !ok {
			continue
		}
		r.rep.KeyTextDiffers++
		if r.cfg.Examples > 0 {
			r.rep.KeyTextExamples = append(r.rep.KeyTextExamples, KeyTextPair{Lake: k, Live: live})
		}
	}
	slices.SortFunc(r.rep.KeyTextExamples, func(a, b KeyTextPair) int { return strings.Compare(a.Lake, b.Lake) })
	if len(r.rep.KeyTextExamples) > max(0, r.cfg.Examples) {
		r.rep.KeyTextExamples = r.rep.KeyTextExamples[:max(0, r.cfg.Examples)]
	}
}
