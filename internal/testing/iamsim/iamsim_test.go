package iamsim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	role = "arn:aws:iam::111122223333:role/operator"
	key  = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
)

var identity = []Policy{{Name: "operator", Document: map[string]any{
	"Version": "2012-10-17",
	"Statement": []map[string]any{
		{"Sid": "ListDataKeys", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::lake",
			"Condition": map[string]any{"StringLike": map[string]any{"s3:prefix": []string{"cdc/table=*"}}}},
		{"Sid": "ReadObjects", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/cdc/*"},
		{"Sid": "NoSecrets", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::lake/cdc/secret/*"},
		{"Sid": "Decrypt", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": key,
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": "s3.us-east-1.amazonaws.com"}}},
		{"Sid": "ListStreams", "Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
	},
}}}

// keyPolicy is KMS's default key policy: the account's IAM policies decide.
var keyPolicy = map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{
	"Sid": "EnableIAMPolicies", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::111122223333:root"},
	"Action": "kms:*", "Resource": "*",
}}}

func TestEvaluate(t *testing.T) {
	s := Require(t)
	tests := []struct {
		name    string
		req     Request
		want    Decision
		explain []string
		ignored []string
	}{
		{"list with a granted prefix",
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::lake", Context: map[string]any{"s3:prefix": "cdc/table=t/"}},
			Allowed, []string{"ListDataKeys allows"}, nil},
		{"list with a prefix the condition does not match",
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::lake", Context: map[string]any{"s3:prefix": "cdc/_errors/table=t/"}},
			ImplicitlyDenied, []string{"ListDataKeys", "s3:prefix", `"cdc/_errors/table=t/" does not match`}, nil},
		{"list without s3:prefix",
			Request{Action: "s3:ListBucket", Resource: "arn:aws:s3:::lake"},
			ImplicitlyDenied, []string{"has no s3:prefix"}, nil},
		{"get outside the granted resource",
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::lake/other/x"},
			ImplicitlyDenied, []string{"ReadObjects does not apply", "arn:aws:s3:::lake/cdc/*"}, nil},
		{"explicit deny",
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::lake/cdc/secret/x"},
			ExplicitlyDenied, []string{"NoSecrets denies"}, nil},
		{"a context key that does not apply is reported",
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::lake/cdc/x", Context: map[string]any{"s3:prefix": "cdc/"}},
			Allowed, nil, []string{"s3:prefix"}},
		{"KMS with the key policy",
			Request{Action: "kms:Decrypt", Resource: key, ResourcePolicy: keyPolicy, Context: map[string]any{"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
			Allowed, nil, nil},
		{"KMS without the key policy",
			Request{Action: "kms:Decrypt", Resource: key, Context: map[string]any{"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
			ImplicitlyDenied, nil, nil},
		{"KMS through another service",
			Request{Action: "kms:Decrypt", Resource: key, ResourcePolicy: keyPolicy, Context: map[string]any{"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}},
			ImplicitlyDenied, []string{"kms:ViaService"}, nil},
		{"unknown action",
			Request{Action: "s3:GetObjects", Resource: "arn:aws:s3:::lake/cdc/x"},
			Invalid, []string{"invalid.action"}, nil},
		{"wildcard-only action on a resource",
			Request{Action: "dynamodb:ListStreams", Resource: "arn:aws:dynamodb:us-east-1:111122223333:table/t/stream/2026-01-01T00:00:00.000"},
			Invalid, []string{"must.use.wildcard"}, nil},
		{"wildcard-only action on *",
			Request{Action: "dynamodb:ListStreams", Resource: "*"},
			Allowed, nil, nil},
		{"a resource type the action does not support",
			Request{Action: "dynamodb:GetRecords", Resource: "arn:aws:s3:::lake"},
			Invalid, []string{"no.resource.types"}, nil},
	}
	reqs := make([]Request, len(tests))
	for i, tc := range tests {
		tc.req.Principal, tc.req.IdentityPolicies = role, identity
		reqs[i] = tc.req
	}
	// Twice: identical requests are evaluated once and answered in order.
	got, err := s.Evaluate(context.Background(), append(reqs, reqs...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*len(tests) {
		t.Fatalf("got %d results for %d requests", len(got), 2*len(tests))
	}
	for i, tc := range tests {
		g := got[i]
		if g.Decision != tc.want {
			t.Errorf("%s: got %s, want %s: %s", tc.name, g.Decision, tc.want, g.Explanation)
		}
		for _, e := range tc.explain {
			if !strings.Contains(g.Explanation, e) {
				t.Errorf("%s: explanation %q lacks %q", tc.name, g.Explanation, e)
			}
		}
		if strings.Join(g.IgnoredContextKeys, ",") != strings.Join(tc.ignored, ",") {
			t.Errorf("%s: ignored context keys %v, want %v", tc.name, g.IgnoredContextKeys, tc.ignored)
		}
		if again := got[len(tests)+i]; again.Decision != g.Decision || again.Explanation != g.Explanation {
			t.Errorf("%s: the repeated request got %s (%s)", tc.name, again.Decision, again.Explanation)
		}
	}
	if g := got[0].Grants; len(g) != 1 || g[0] != (Grant{Policy: "operator", Sid: "ListDataKeys"}) {
		t.Errorf("grants of the allowed list: %+v", g)
	}
}

func TestFindRefusesAnotherVersion(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := writeFile(dir, name, content); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module x\n")
	if _, err := Find(dir); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Errorf("without node_modules: %v", err)
	}
	write("node_modules/@cloud-copilot/iam-simulate/package.json", `{"version":"0.1.1"}`)
	if _, err := Find(dir); err == nil || !strings.Contains(err.Error(), "want "+Version) {
		t.Errorf("another version: %v", err)
	}
}

func writeFile(dir, name, content string) error {
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}
