package envconfig

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsAndValues(t *testing.T) {
	r := New(env(map[string]string{"S": " x ", "I": "7", "B": "false", "D": "3s", "O": "b", "EMPTY": ""}))
	if got := r.String("S", "d"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := r.String("EMPTY", "d"); got != "d" {
		t.Errorf("empty value should fall back to the default, got %q", got)
	}
	if got := r.Int("I", 1, 0, 9); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Int("UNSET", 4, 0, 9); got != 4 {
		t.Errorf("Int default = %d", got)
	}
	if got := r.Bool("B", true); got {
		t.Error("Bool = true")
	}
	if got := r.Duration("D", time.Second, 0, time.Minute); got != 3*time.Second {
		t.Errorf("Duration = %v", got)
	}
	if got := r.OneOf("O", "a", "a", "b"); got != "b" {
		t.Errorf("OneOf = %q", got)
	}
	if got := r.Required("S", "a name"); got != "x" {
		t.Errorf("Required = %q", got)
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsNameVariableAndForm(t *testing.T) {
	r := New(env(map[string]string{"I": "12", "B": "yes please", "D": "soon", "O": "c", "C": "v"}))
	r.Int("I", 1, 1, 9)
	r.Bool("B", false)
	r.Duration("D", time.Second, 0, time.Minute)
	r.OneOf("O", "a", "a", "b")
	r.Required("MISSING", "an S3 bucket name")
	r.Check("C", "v", errors.New("is wrong"))
	r.Check("OK", "v", nil)
	err := r.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`I="12": want a whole number from 1 to 9`,
		`B="yes please": want true or false`,
		`D="soon": want a duration from 0s to 1m0s`,
		`O="c": want one of a, b`,
		`MISSING is not set: want an S3 bucket name`,
		`C="v": is wrong`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
