package authz

import (
	"crypto/sha256"
	"regexp"
	"sort"
	"strings"

	"github.com/ddbstream/pipeline/iam"
)

// Deployment is what iam.Deployment.Authorize needs of the stack: where
// it runs, the KMS key each bucket encrypts with by default (SSE-KMS,
// from the bucket's BucketEncryption) and each table's customer managed
// key (its SSESpecification), and the secrets its policies name, each
// with an ARN standing for it. A bucket encrypting with the AWS managed
// key (aws:kms without a key ID) is not listed: that key is not the
// stack's, its policy not in the template.
func (s *Stack) Deployment() iam.Deployment {
	d := iam.Deployment{Partition: s.env.Partition, Region: s.env.Region, Account: s.env.Account,
		BucketKeys: map[string]string{}, TableKeys: map[string]string{}, Secrets: map[string]string{}, SecretKeys: map[string]string{}}
	for _, id := range s.ids {
		r := s.resources[id]
		switch r.typ {
		case "AWS::S3::Bucket":
			enc, _ := r.props["BucketEncryption"].(map[string]any)
			rules, _ := enc["ServerSideEncryptionConfiguration"].([]any)
			for _, rule := range rules {
				m, _ := rule.(map[string]any)
				def, _ := m["ServerSideEncryptionByDefault"].(map[string]any)
				alg, _ := def["SSEAlgorithm"].(string)
				key, _ := def["KMSMasterKeyID"].(string)
				if strings.HasPrefix(alg, "aws:kms") && key != "" {
					d.BucketKeys[r.name] = s.keyARN(key)
				}
			}
		case "AWS::DynamoDB::Table":
			sse, _ := r.props["SSESpecification"].(map[string]any)
			key, _ := sse["KMSMasterKeyId"].(string)
			if sse["SSEEnabled"] == true && key != "" {
				d.TableKeys[r.name] = s.keyARN(key)
			}
		}
	}
	for name, ref := range s.secrets {
		d.Secrets[name] = ref.arn
	}
	return d
}

// keyARN is a key's ARN from an ID, alias or ARN.
func (s *Stack) keyARN(key string) string {
	switch {
	case strings.HasPrefix(key, "arn:"):
		return key
	case strings.HasPrefix(key, "alias/"):
		return s.arn("kms", key)
	}
	return s.arn("kms", "key/"+key)
}

// secretPattern is a secret's ARN as a policy names it: in full, or with
// "-??????" for the six characters Secrets Manager appends to the name
// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html#auth-and-access_examples_wildcard).
var secretPattern = regexp.MustCompile(`^arn:[^:]+:secretsmanager:[^:]*:[0-9]*:secret:(.+)-([A-Za-z0-9]{6}|\?{6})$`)

// findSecrets collects the secrets the stack's resources name by ARN.
func (s *Stack) findSecrets() {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			m := secretPattern.FindStringSubmatch(v)
			if m == nil {
				return
			}
			ref := secretRef{pattern: v, arn: v}
			if m[2] == "??????" {
				ref.arn = strings.TrimSuffix(v, "??????") + secretSuffix(m[1])
			}
			if old, ok := s.secrets[m[1]]; !ok || old.pattern > ref.pattern {
				s.secrets[m[1]] = ref
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(v[k])
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, id := range s.ids {
		walk(s.resources[id].props)
	}
}

// secretSuffix stands for the random characters of a secret's ARN.
func secretSuffix(name string) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte("secret:" + name))
	b := make([]byte, 6)
	for i := range b {
		b[i] = letters[int(sum[i])%len(letters)]
	}
	return string(b)
}
