package redrive

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Event builds the payload the event source mapping would have sent the
// streamer for records (GetRecords output), in the shape of a Lambda
// DynamoDB Streams event
// (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): the
// stream record as GetRecords returns it, with the mapping's
// eventSourceARN added. The streamer's converter reads the exact text of
// this JSON, so the rebuild keeps what it reads exactly:
//
//   - N, NS: the SDK keeps a number as the string DynamoDB sent
//     (AttributeValueMemberN.Value), so it is written back as that text,
//     never through float64 (38 digits, 1E+125, -0, 19.990 survive);
//   - S, SS, keys and attribute names: written with only ", \ and control
//     characters escaped, the canonical form the converter writes keys in;
//   - B, BS: the SDK decoded the base64; it is encoded again with the
//     standard alphabet and padding, which is what DynamoDB sends;
//   - ApproximateCreationDateTime: the SDK parsed epoch seconds into a
//     time with millisecond precision (smithy-go's ParseEpochSeconds); it
//     is written back as epoch seconds with at most three decimals, the
//     whole seconds DynamoDB sends staying a whole number.
//
// Map members are written in name order (the SDK's maps have none), so a
// rebuilt event is deterministic. The data object's key depends only on
// the stream label, the first and last sequence numbers and the first
// record's creation hour, all kept exactly, so a redriven batch lands on
// the key the streamer would have used.
func Event(records []types.Record, streamARN string) ([]byte, error) {
	b := make([]byte, 0, 512*len(records)+16)
	b = append(b, `{"Records":[`...)
	for i, r := range records {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendRecord(b, r, streamARN); err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
	}
	return append(b, `]}`...), nil
}

func appendRecord(b []byte, r types.Record, streamARN string) ([]byte, error) {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, name)
		b = append(b, ':')
	}
	str := func(name string, v *string) {
		if v != nil {
			field(name)
			b = appendString(b, *v)
		}
	}
	str("eventID", r.EventID)
	if r.EventName != "" {
		field("eventName")
		b = appendString(b, string(r.EventName))
	}
	str("eventVersion", r.EventVersion)
	str("eventSource", r.EventSource)
	str("awsRegion", r.AwsRegion)
	if d := r.Dynamodb; d != nil {
		field("dynamodb")
		var err error
		if b, err = appendStreamRecord(b, d); err != nil {
			return nil, err
		}
	}
	field("eventSourceARN")
	b = appendString(b, streamARN)
	if u := r.UserIdentity; u != nil {
		field("userIdentity")
		b = append(b, '{')
		n := 0
		for _, m := range []struct {
			name string
			v    *string
		}{{"type", u.Type}, {"principalId", u.PrincipalId}} {
			if m.v == nil {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendString(b, m.name)
			b = append(b, ':')
			b = appendString(b, *m.v)
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func appendStreamRecord(b []byte, d *types.StreamRecord) ([]byte, error) {
	b = append(b, '{')
	n := 0
	sep := func(name string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(b, name)
		b = append(b, ':')
	}
	if d.ApproximateCreationDateTime != nil {
		sep("ApproximateCreationDateTime")
		b = appendEpochSeconds(b, *d.ApproximateCreationDateTime)
	}
	for _, img := range []struct {
		name string
		m    map[string]types.AttributeValue
	}{{"Keys", d.Keys}, {"NewImage", d.NewImage}, {"OldImage", d.OldImage}} {
		if img.m == nil {
			continue
		}
		sep(img.name)
		var err error
		if b, err = appendMap(b, img.m); err != nil {
			return nil, fmt.Errorf("dynamodb.%s: %w", img.name, err)
		}
	}
	if d.SequenceNumber != nil {
		sep("SequenceNumber")
		b = appendString(b, *d.SequenceNumber)
	}
	if d.SizeBytes != nil {
		sep("SizeBytes")
		b = strconv.AppendInt(b, *d.SizeBytes, 10)
	}
	if d.StreamViewType != "" {
		sep("StreamViewType")
		b = appendString(b, string(d.StreamViewType))
	}
	return append(b, '}'), nil
}

// appendEpochSeconds writes t as epoch seconds: whole seconds as an
// integer, otherwise with the milliseconds the SDK kept.
func appendEpochSeconds(b []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	sec, frac := ms/1000, ms%1000
	if frac < 0 {
		sec, frac = sec-1, frac+1000
	}
	b = strconv.AppendInt(b, sec, 10)
	if frac == 0 {
		return b
	}
	d := []byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	for d[len(d)-1] == '0' {
		d = d[:len(d)-1]
	}
	return append(b, d...)
}

func appendMap(b []byte, m map[string]types.AttributeValue) ([]byte, error) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var err error
		if b, err = appendAttribute(b, m[k]); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return append(b, '}'), nil
}

// appendAttribute writes one attribute value in DynamoDB JSON,
// {"<type>": value}.
func appendAttribute(b []byte, v types.AttributeValue) ([]byte, error) {
	open := func(t string) { b = append(b, `{"`+t+`":`...) }
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		open("S")
		b = appendString(b, v.Value)
	case *types.AttributeValueMemberN:
		open("N")
		b = appendString(b, v.Value)
	case *types.AttributeValueMemberB:
		open("B")
		b = appendBase64(b, v.Value)
	case *types.AttributeValueMemberBOOL:
		open("BOOL")
		b = strconv.AppendBool(b, v.Value)
	case *types.AttributeValueMemberNULL:
		open("NULL")
		b = strconv.AppendBool(b, v.Value)
	case *types.AttributeValueMemberSS:
		open("SS")
		b = appendStrings(b, v.Value)
	case *types.AttributeValueMemberNS:
		open("NS")
		b = appendStrings(b, v.Value)
	case *types.AttributeValueMemberBS:
		open("BS")
		b = append(b, '[')
		for i, x := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendBase64(b, x)
		}
		b = append(b, ']')
	case *types.AttributeValueMemberL:
		open("L")
		b = append(b, '[')
		for i, x := range v.Value {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendAttribute(b, x); err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		b = append(b, ']')
	case *types.AttributeValueMemberM:
		open("M")
		var err error
		if b, err = appendMap(b, v.Value); err != nil {
			return nil, err
		}
	case *types.UnknownUnionMember:
		// A type newer than this SDK: the streamer's converter keeps the
		// record under _errors/ with the reason, which is what it would
		// have done with the mapping's event.
		open(v.Tag)
		b = append(b, "null"...)
	case nil:
		return nil, fmt.Errorf("attribute value is nil")
	default:
		return nil, fmt.Errorf("attribute value of unknown type %T", v)
	}
	return append(b, '}'), nil
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendBase64(b []byte, v []byte) []byte {
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// appendString writes s as a JSON string escaping only '"', '\' and
// control characters: the canonical form of the converter's keys. Bytes
// that are not UTF-8 (DynamoDB sends none) become U+FFFD, as
// encoding/json writes them, so the event is always valid JSON.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// sequenceOf is a record's sequence number, "" when it has none.
func sequenceOf(r types.Record) string {
	if r.Dynamodb == nil {
		return ""
	}
	return aws.ToString(r.Dynamodb.SequenceNumber)
}
