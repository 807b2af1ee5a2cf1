package record

import (
	"strings"
	"testing"
)

// TestDynamoNumber checks the number rules at their edges: DynamoDB's
// range and precision (number.go) and JSON's number grammar, on which it
// agrees with validNumber.
func TestDynamoNumber(t *testing.T) {
	tests := []struct {
		n    string
		want numberFault
	}{
		{"0", numberOK}, {"-0", numberOK}, {"0.000", numberOK}, {"0e999999999999999999999", numberOK},
		{"1E-130", numberOK}, {"-1E-130", numberOK}, {"0.1E-129", numberOK}, {"1000E-133", numberOK},
		{"9.9999999999999999999999999999999999999E+125", numberOK}, {"99999999999999999999999999999999999999E+88", numberOK},
		{"1E+125", numberOK}, {"10E+124", numberOK}, {"0.001E+128", numberOK},
		{"12345678901234567890123456789012345678", numberOK}, {"-1234567890123456789012345678901234567800000", numberOK},
		{"1.0000000000000000000000000000000000000000", numberOK}, {"0.00012345678901234567890123456789012345678", numberOK},
		{"19.990", numberOK}, {"-3E-2", numberOK},
		{"1E+126", numberOutOfRange}, {"10E+125", numberOutOfRange}, {"1e999", numberOutOfRange}, {"-1e999", numberOutOfRange},
		{"1E-131", numberOutOfRange}, {"0.1E-130", numberOutOfRange}, {"1e99999999999999999999", numberOutOfRange},
		{"1e-99999999999999999999", numberOutOfRange},
		{"1" + strings.Repeat("0", 125), numberOK}, {"1" + strings.Repeat("0", 126), numberOutOfRange},
		{"0." + strings.Repeat("0", 129) + "1", numberOK}, {"0." + strings.Repeat("0", 130) + "1", numberOutOfRange},
		{"123456789012345678901234567890123456789", numberTooPrecise}, {"1.23456789012345678901234567890123456789", numberTooPrecise},
		{"0.000123456789012345678901234567890123456789", numberTooPrecise}, {"1000000000000000000000000000000000000001", numberTooPrecise},
		{"", numberNotJSON}, {"-", numberNotJSON}, {"01", numberNotJSON}, {"1.", numberNotJSON}, {".5", numberNotJSON},
		{"1e", numberNotJSON}, {"+1", numberNotJSON}, {"1,5", numberNotJSON}, {"NaN", numberNotJSON}, {"1e+-1", numberNotJSON},
	}
	for _, tc := range tests {
		if got := dynamoNumber([]byte(tc.n)); got != tc.want {
			t.Errorf("dynamoNumber(%q) = %d; want %d", tc.n, got, tc.want)
		}
		if valid := validNumber([]byte(tc.n)); valid != (tc.want != numberNotJSON) {
			t.Errorf("%q: validNumber %v disagrees", tc.n, valid)
		}
	}
}
