package output

import (
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/internal/envconfig"
	"github.com/ddbstream/pipeline/internal/record"
)

func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestFromEnvKeepsTheCallersDefaults: an unset variable takes the
// default the function passes (its own gzip level), a set one wins.
func TestFromEnvKeepsTheCallersDefaults(t *testing.T) {
	r := envconfig.New(env("BUCKET_NAME", "lake", "S3_PREFIX", "raw/cdc//", "IMAGE_FORMAT", "dynamodb", "CONTENT_ENCODING", "none",
		"KMS_KEY_ID", "alias/lake", "CONDITIONAL_WRITES", "false", "S3_MAX_ATTEMPTS", "2", "S3_FORCE_PATH_STYLE", "true"))
	s := FromEnv(r, Defaults(7))
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"Bucket", s.Bucket, "lake"},
		{"Prefix", s.Prefix, "raw/cdc"},
		{"ImageFormat", s.ImageFormat, record.DynamoDB},
		{"GzipLevel", s.GzipLevel, 7},
		{"ContentType", s.ContentType, "application/x-ndjson"},
		{"ContentEncoding", s.ContentEncoding, ""},
		{"KMSKeyID", s.KMSKeyID, "alias/lake"},
		{"ConditionalWrites", s.ConditionalWrites, false},
		{"S3MaxAttempts", s.S3MaxAttempts, 2},
		{"S3PathStyle", s.S3PathStyle, true},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// TestFromEnvNamesEveryBadVariable: each bad variable is named with the
// form it wants, in one error.
func TestFromEnvNamesEveryBadVariable(t *testing.T) {
	r := envconfig.New(env("BUCKET_NAME", "Bad_Bucket", "S3_PREFIX", "a//b", "GZIP_LEVEL", "0", "CONTENT_TYPE", "json",
		"IMAGE_FORMAT", "avro", "KMS_KEY_ID", "my key", "S3_MAX_ATTEMPTS", "99", "CONDITIONAL_WRITES", "maybe"))
	FromEnv(r, Defaults(1))
	err := r.Err()
	for _, want := range []string{"BUCKET_NAME", `S3_PREFIX="a//b"`, `GZIP_LEVEL="0"`, `CONTENT_TYPE="json"`,
		`IMAGE_FORMAT="avro": want one of plain, dynamodb`, `KMS_KEY_ID="my key"`, `S3_MAX_ATTEMPTS="99"`, "CONDITIONAL_WRITES"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestProblems(t *testing.T) {
	ok := Defaults(3)
	ok.Bucket = "lake"
	if p := ok.Problems(); len(p) != 0 {
		t.Errorf("defaults with a bucket: got %v, expect none", p)
	}
	bad := Settings{Prefix: "/x", GzipLevel: 10, S3MaxAttempts: -1}
	got := strings.Join(bad.Problems(), "; ")
	for _, want := range []string{"bucket is required", "gzip level must be from 1 to 9", "content type is required", "S3 attempts", "prefix"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q lack %q", got, want)
		}
	}
}
