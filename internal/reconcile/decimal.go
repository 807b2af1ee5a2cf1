package reconcile

import (
	"strconv"
	"strings"
)

// Numbers are compared as decimals, not as text. DynamoDB stores a number
// as a decimal of up to 38 significant digits and "leading and trailing
// zeroes are trimmed"
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html#HowItWorks.DataTypes.Number),
// so a Scan answers 1.5 for an item written as 1.50, and 100 for 1E+2.
// A stream record is expected to carry the stored form too, but DynamoDB
// Local's records carry numbers as the request wrote them (3.140, 1E+2),
// and a lake written from any other source may as well. As decimals,
// 1.50 equals 1.5, 1E+2 equals 100, 1e130 equals 1E+130 and -0 equals 0:
// the same value, whatever its spelling. 38 significant digits are kept
// exactly (no float64), so 12345678901234567890123456789012345678 and
// ...679 still differ.

// decimalKey returns a canonical text of the decimal value of n, the same
// for every spelling of one value: "0" for zero, else an optional '-', the
// significant digits without leading or trailing zeros, 'e' and the
// exponent of the last digit ("15e-1" for 1.50, "1e2" for 1E+2). ok is
// false for text that is no decimal number (the comparison then falls
// back to the exact text). It accepts what JSON numbers and DynamoDB's N
// strings hold: a sign, digits with an optional fraction, an optional
// exponent.
func decimalKey(n string) (key string, ok bool) {
	i := 0
	neg := false
	if i < len(n) && (n[i] == '-' || n[i] == '+') {
		neg = n[i] == '-'
		i++
	}
	var digits strings.Builder
	digits.Grow(len(n))
	intDigits, fracDigits := 0, 0
	for ; i < len(n) && n[i] >= '0' && n[i] <= '9'; i++ {
		digits.WriteByte(n[i])
		intDigits++
	}
	if i < len(n) && n[i] == '.' {
		i++
		for ; i < len(n) && n[i] >= '0' && n[i] <= '9'; i++ {
			digits.WriteByte(n[i])
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return "", false
	}
	exp := -fracDigits // the exponent of the last digit written
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		start := i
		if i < len(n) && (n[i] == '-' || n[i] == '+') {
			i++
		}
		if i == len(n) || n[i] < '0' || n[i] > '9' {
			return "", false
		}
		// DynamoDB's exponents stay within a few hundred; a longer one is
		// no number it could hold, so it is compared as text.
		e, err := strconv.ParseInt(n[start:], 10, 32)
		if err != nil || e > 1<<20 || e < -(1<<20) {
			return "", false
		}
		exp += int(e)
		i = len(n)
	}
	if i != len(n) {
		return "", false
	}
	d := strings.TrimLeft(digits.String(), "0")
	if d == "" {
		return "0", true
	}
	trimmed := strings.TrimRight(d, "0")
	exp += len(d) - len(trimmed)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteString(trimmed)
	b.WriteByte('e')
	b.WriteString(strconv.Itoa(exp))
	return b.String(), true
}

// sameNumber reports whether two number texts hold the same decimal
// value; text that is no decimal number equals only the same text.
func sameNumber(a, b string) bool {
	if a == b {
		return true
	}
	ka, okA := decimalKey(a)
	kb, okB := decimalKey(b)
	return okA && okB && ka == kb
}

// numberSetKey is the text a number set's member sorts and compares by:
// its decimal key, or its text when it is none.
func numberSetKey(n string) string {
	if k, ok := decimalKey(n); ok {
		return k
	}
	return "text:" + n
}
