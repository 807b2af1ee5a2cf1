package secretsmanager_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/integration/secretsmanager"
)

// start serves an endpoint and returns the real SDK client the forwarder
// uses, pointed at it as AWS_ENDPOINT_URL_SECRETS_MANAGER points the
// forwarder there.
func start(t *testing.T, secrets map[string]string) (*secretsmanager.Endpoint, *sm.Client, string) {
	t.Helper()
	e := secretsmanager.New(secrets)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	client := sm.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}, func(o *sm.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.RetryMaxAttempts = 1
	})
	return e, client, srv.URL
}

func TestGetSecretValueByNameAndARN(t *testing.T) {
	_, client, _ := start(t, map[string]string{"local/databricks": `{"host":"h","token":"t"}`})
	for _, tc := range []struct {
		name, id string
	}{
		{"name", "local/databricks"},
		{"arn", "arn:aws:secretsmanager:us-east-1:000000000000:secret:local/databricks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := client.GetSecretValue(context.Background(), &sm.GetSecretValueInput{SecretId: aws.String(tc.id)})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				field, got, expect string
			}{
				{"SecretString", aws.ToString(out.SecretString), `{"host":"h","token":"t"}`},
				{"Name", aws.ToString(out.Name), "local/databricks"},
				{"ARN", aws.ToString(out.ARN), "arn:aws:secretsmanager:us-east-1:000000000000:secret:local/databricks-AbCdEf"},
				{"VersionId", aws.ToString(out.VersionId), "v0"},
				{"VersionStages", strings.Join(out.VersionStages, ","), "AWSCURRENT"},
			} {
				if f.got != f.expect {
					t.Errorf("%s: got %q, expect %q", f.field, f.got, f.expect)
				}
			}
			if out.CreatedDate == nil {
				t.Error("CreatedDate: got nil, expect a time")
			}
		})
	}
}

func TestRotateServesTheNewValueAsANewVersion(t *testing.T) {
	e, client, _ := start(t, map[string]string{"s": "old"})
	ctx := context.Background()
	e.Rotate("s", "new")
	out, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.SecretString); got != "new" {
		t.Errorf("SecretString: got %q, expect %q", got, "new")
	}
	if got := aws.ToString(out.VersionId); got != "v1" {
		t.Errorf("VersionId: got %q, expect %q", got, "v1")
	}
	if got, ok := e.Current("s"); got != "new" {
		t.Errorf("Current: got %q (found %v), expect %q", got, ok, "new")
	}
}

func TestPutSecretValueReplacesTheValue(t *testing.T) {
	e, client, _ := start(t, map[string]string{"s": "old"})
	ctx := context.Background()
	put, err := client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("s"), SecretString: aws.String("put")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(put.VersionId); got != "v1" {
		t.Errorf("PutSecretValue VersionId: got %q, expect %q", got, "v1")
	}
	if got := aws.ToString(put.Name); got != "s" {
		t.Errorf("PutSecretValue Name: got %q, expect %q", got, "s")
	}
	out, err := client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.SecretString); got != "put" {
		t.Errorf("SecretString after put: got %q, expect %q", got, "put")
	}
	if got := e.Reads(); got != 1 {
		t.Errorf("Reads: got %d, expect 1 (PutSecretValue is no read)", got)
	}
}

func TestUnknownSecretIsResourceNotFound(t *testing.T) {
	e, client, _ := start(t, nil)
	_, err := client.GetSecretValue(context.Background(), &sm.GetSecretValueInput{SecretId: aws.String("missing")})
	var notFound *smtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Fatalf("error: got %v, expect ResourceNotFoundException", err)
	}
	if got := e.Reads(); got != 1 {
		t.Errorf("Reads: got %d, expect 1 (a failed read counts)", got)
	}
	if _, ok := e.Current("missing"); ok {
		t.Error("Current of an unknown secret: got found, expect not found")
	}
}

func TestOtherOperationsAreRefused(t *testing.T) {
	_, client, _ := start(t, map[string]string{"s": "v"})
	_, err := client.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: aws.String("s")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error: got %v, expect an API error", err)
	}
	if got := apiErr.ErrorCode(); got != "UnknownOperationException" {
		t.Errorf("error code: got %q, expect UnknownOperationException", got)
	}
}

func TestUnsignedRequestsAreRefused(t *testing.T) {
	e, _, url := start(t, map[string]string{"s": "v"})
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"SecretId":"s"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "secretsmanager.GetSecretValue")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status: got %d, expect 400", resp.StatusCode)
	}
	if got := e.Reads(); got != 0 {
		t.Errorf("Reads: got %d, expect 0 (refused before reading)", got)
	}
}
