package record

import "unicode/utf8"

// DynamoDB holds a number of up to 38 significant digits (leading and
// trailing zeros are trimmed), zero, or one whose magnitude is from 1E-130
// to 9.9999999999999999999999999999999999999E+125 ("Number" in
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number).
// An N value beyond that cannot have come from a table, and a reader with
// DECIMAL(38) columns would fail on it (or turn it into NULL) long after the
// line was written, so the converter refuses it with the record.
const (
	maxNumberDigits   = 38
	maxNumberExponent = 125  // of the leading digit: 9.99…E+125
	minNumberExponent = -130 // 1E-130
)

// numberFault says why the text of an N value is not a number DynamoDB
// holds; numberOK when it is one.
type numberFault uint8

const (
	numberOK numberFault = iota
	numberNotJSON
	numberTooPrecise
	numberOutOfRange
)

// dynamoNumber checks n, the text of an N value: a JSON number, of at
// most maxNumberDigits significant digits, and zero or of a magnitude
// DynamoDB holds. The common number, short and without an exponent, is
// judged by its length alone; any other is measured by numberRange.
func dynamoNumber(n []byte) numberFault {
	mantissa, intLen, exp, ok := jsonNumber(n)
	switch {
	case !ok:
		return numberNotJSON
	case exp == 0 && len(mantissa) <= maxNumberDigits:
		// Its digits fit, and with no exponent its magnitude lies
		// between 1E-37 and 1E+38.
		return numberOK
	}
	return numberRange(mantissa, intLen, exp)
}

// jsonNumber reads n, when it is exactly a JSON number (RFC 8259), in one
// pass: its mantissa (its digits, with the decimal point if any, without
// the sign), how many of them come before the point, and its exponent
// (saturating far beyond any range that matters). ok is false for
// anything else.
func jsonNumber(n []byte) (mantissa []byte, intLen, exp int, ok bool) {
	i := 0
	if i < len(n) && n[i] == '-' {
		i++
	}
	d := i
	switch {
	case i < len(n) && n[i] == '0':
		i++
	case i < len(n) && '1' <= n[i] && n[i] <= '9':
		for i < len(n) && isDigit(n[i]) {
			i++
		}
	default:
		return nil, 0, 0, false
	}
	intLen = i - d
	if i < len(n) && n[i] == '.' {
		i++
		f := i
		for i < len(n) && isDigit(n[i]) {
			i++
		}
		if i == f {
			return nil, 0, 0, false
		}
	}
	mantissa = n[d:i]
	if i == len(n) {
		return mantissa, intLen, 0, true
	}
	if n[i] != 'e' && n[i] != 'E' {
		return nil, 0, 0, false
	}
	i++
	neg := false
	if i < len(n) && (n[i] == '+' || n[i] == '-') {
		neg = n[i] == '-'
		i++
	}
	e := i
	for ; i < len(n) && isDigit(n[i]); i++ {
		if exp < 1<<30 { // saturate: far beyond the range either way
			exp = exp*10 + int(n[i]-'0')
		}
	}
	if i == e || i != len(n) {
		return nil, 0, 0, false
	}
	if neg {
		exp = -exp
	}
	return mantissa, intLen, exp, true
}

// numberRange checks the significant digits and the magnitude of a valid
// number: mantissa is its digits with the decimal point, if any, after the
// first intLen, and exp its exponent.
func numberRange(mantissa []byte, intLen, exp int) numberFault {
	first, last := -1, -1 // the first and last significant digits
	for k, c := range mantissa {
		if c != '0' && c != '.' {
			if first < 0 {
				first = k
			}
			last = k
		}
	}
	if first < 0 {
		return numberOK // zero, however written
	}
	digits := last - first + 1
	if first < intLen && last > intLen {
		digits-- // the point lies between them
	}
	if digits > maxNumberDigits {
		return numberTooPrecise
	}
	// The exponent of the leading significant digit, as in 9.99E+125.
	lead := exp + intLen - 1 - first
	if first > intLen {
		lead++ // a digit after the point
	}
	if lead > maxNumberExponent || lead < minNumberExponent {
		return numberOutOfRange
	}
	return numberOK
}

// numberErr explains why the N value n is refused; f is not numberOK.
func numberErr(n []byte, f numberFault) *ConversionError {
	switch f {
	case numberTooPrecise:
		return convErr("N value %q has more than %d significant digits, more than DynamoDB holds", clip(n), maxNumberDigits)
	case numberOutOfRange:
		return convErr("N value %q is out of DynamoDB's range (zero, or a magnitude from 1E-130 to 9.9999999999999999999999999999999999999E+125)", clip(n))
	}
	return convErr("N value %q is not a number", clip(n))
}

// maxQuoted bounds the text an error quotes from the input: the record is
// kept whole beside the reason, which only has to point at it.
const maxQuoted = 64

// clip returns s, or its first maxQuoted bytes (cut at a character) and an
// ellipsis.
func clip(s []byte) string {
	if len(s) <= maxQuoted {
		return string(s)
	}
	k := maxQuoted
	for k > 0 && !utf8.RuneStart(s[k]) {
		k--
	}
	return string(s[:k]) + "…"
}
