package reconcile

import (
	"encoding/base64"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbstream/pipeline/internal/record"
)

// appendItem writes an item as the SDK returns it (Scan, BatchGetItem) as
// DynamoDB JSON, {"name":{"S":"x"},...}: the input record.AppendKeys and
// AppendImage take, the same text a stream record carries. The SDK's
// attributevalue package is not used: it is a separate module, and its
// Marshal turns values into Go types, not into this JSON. Numbers stay
// the SDK's string, which is DynamoDB's exact text (never float64); binary
// values are written as standard base64, as DynamoDB JSON carries them.
// Attributes are written in name order, so the text is deterministic.
func appendItem(dst []byte, item map[string]types.AttributeValue) ([]byte, error) {
	names := make([]string, 0, len(item))
	for n := range item {
		names = append(names, n)
	}
	slices.Sort(names)
	dst = append(dst, '{')
	for i, n := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, n)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, item[n], 0); err != nil {
			return dst, fmt.Errorf("attribute %q: %w", n, err)
		}
	}
	return append(dst, '}'), nil
}

// appendStringSet writes a string or number set's members, each as a JSON
// string: numbers keep DynamoDB's exact text.
func appendStringSet(dst []byte, values []string) []byte {
	dst = append(dst, '[')
	for i, s := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// maxNesting is DynamoDB's limit on nested attribute values.
const maxNesting = 32

func appendValue(dst []byte, v types.AttributeValue, depth int) ([]byte, error) {
	if depth > maxNesting {
		return dst, fmt.Errorf("nested deeper than %d levels", maxNesting)
	}
	var err error
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		dst = append(dst, `{"S":`...)
		dst = appendString(dst, v.Value)
	case *types.AttributeValueMemberN:
		dst = append(dst, `{"N":`...)
		dst = appendString(dst, v.Value)
	case *types.AttributeValueMemberB:
		dst = append(dst, `{"B":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v.Value)
		dst = append(dst, '"')
	case *types.AttributeValueMemberBOOL:
		if v.Value {
			dst = append(dst, `{"BOOL":true`...)
		} else {
			dst = append(dst, `{"BOOL":false`...)
		}
	case *types.AttributeValueMemberNULL:
		dst = append(dst, `{"NULL":true`...)
	case *types.AttributeValueMemberSS:
		dst = appendStringSet(append(dst, `{"SS":`...), v.Value)
	case *types.AttributeValueMemberNS:
		dst = appendStringSet(append(dst, `{"NS":`...), v.Value)
	case *types.AttributeValueMemberBS:
		dst = append(dst, `{"BS":[`...)
		for i, b := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '"')
			dst = base64.StdEncoding.AppendEncode(dst, b)
			dst = append(dst, '"')
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberL:
		dst = append(dst, `{"L":[`...)
		for i, e := range v.Value {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		dst = append(dst, ']')
	case *types.AttributeValueMemberM:
		dst = append(dst, `{"M":`...)
		if dst, err = appendMap(dst, v.Value, depth+1); err != nil {
			return dst, err
		}
	default:
		return dst, fmt.Errorf("attribute value of type %T", v)
	}
	return append(dst, '}'), nil
}

func appendMap(dst []byte, m map[string]types.AttributeValue, depth int) ([]byte, error) {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	dst = append(dst, '{')
	for i, n := range names {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, n)
		dst = append(dst, ':')
		var err error
		if dst, err = appendValue(dst, m[n], depth); err != nil {
			return dst, fmt.Errorf("%s: %w", n, err)
		}
	}
	return append(dst, '}'), nil
}

// appendString writes s as a JSON string: '"', '\' and control characters
// escaped, invalid UTF-8 as U+FFFD (a Go string from the SDK's JSON
// decoder is valid UTF-8 already).
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
			i++
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(dst, '"')
}

// keyAttributes turns a lake line's keys field back into the key a
// GetItem or BatchGetItem takes. keyTypes gives each key attribute's
// scalar type (DescribeTable's AttributeDefinitions), which a plain keys
// field cannot carry: "AAEC" may be a string or base64 binary.
func keyAttributes(keys string, format record.ImageFormat, keyTypes map[string]types.ScalarAttributeType) (map[string]types.AttributeValue, error) {
	v, err := parseJSON([]byte(keys))
	if err != nil {
		return nil, fmt.Errorf("keys %s: %w", keys, err)
	}
	if v.kind != jObject || len(v.members) != len(keyTypes) {
		return nil, fmt.Errorf("keys %s: want an object of the %d key attributes", keys, len(keyTypes))
	}
	out := make(map[string]types.AttributeValue, len(v.members))
	for _, m := range v.members {
		typ, ok := keyTypes[m.name]
		if !ok {
			return nil, fmt.Errorf("keys %s: %q is not a key attribute", keys, m.name)
		}
		val := m.value
		if format == record.DynamoDB {
			if val.kind != jObject || len(val.members) != 1 || val.members[0].name != string(typ) {
				return nil, fmt.Errorf("keys %s: %q is not {%q: ...}", keys, m.name, typ)
			}
			val = val.members[0].value
		}
		switch {
		case typ == types.ScalarAttributeTypeS && val.kind == jString:
			out[m.name] = &types.AttributeValueMemberS{Value: val.text}
		case typ == types.ScalarAttributeTypeN && (val.kind == jNumber || format == record.DynamoDB && val.kind == jString):
			out[m.name] = &types.AttributeValueMemberN{Value: val.text}
		case typ == types.ScalarAttributeTypeB && val.kind == jString:
			b, err := base64.StdEncoding.DecodeString(val.text)
			if err != nil {
				return nil, fmt.Errorf("keys %s: %q is not base64: %w", keys, m.name, err)
			}
			out[m.name] = &types.AttributeValueMemberB{Value: b}
		default:
			return nil, fmt.Errorf("keys %s: %q is not of type %s", keys, m.name, typ)
		}
	}
	return out, nil
}
