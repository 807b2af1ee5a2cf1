package record

import "bytes"

// parseStreamARN splits
// arn:<partition>:dynamodb:<region>:<account>:table/<name>/stream/<label>.
func parseStreamARN(arn []byte) (table, label []byte, ok bool) {
	rest := arn
	for n := 0; n < 5; n++ {
		k := bytes.IndexByte(rest, ':')
		if k < 0 {
			return nil, nil, false
		}
		if n == 0 && string(rest[:k]) != "arn" || n == 2 && string(rest[:k]) != "dynamodb" {
			return nil, nil, false
		}
		rest = rest[k+1:]
	}
	const tp, sp = "table/", "/stream/"
	if !bytes.HasPrefix(rest, []byte(tp)) {
		return nil, nil, false
	}
	rest = rest[len(tp):]
	k := bytes.Index(rest, []byte(sp))
	if k < 0 {
		return nil, nil, false
	}
	table, label = rest[:k], rest[k+len(sp):]
	if !ValidTableName(table) || len(label) == 0 || bytes.IndexByte(label, '/') >= 0 {
		return nil, nil, false
	}
	return table, label, true
}

// ValidTableName reports whether name uses only the characters DynamoDB
// allows in table names, which also makes it safe in S3 keys unescaped.
func ValidTableName(name []byte) bool { return validTableName(name) }

// validTableName is ValidTableName for a string too, without converting.
func validTableName[T string | []byte](name T) bool {
	if len(name) == 0 || len(name) > 255 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
