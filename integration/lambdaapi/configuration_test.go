package lambdaapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/integration/lambdaapi"
	"github.com/ddbstream/pipeline/internal/deployed"
)

// forwarderEnv is a function's environment as the local pipeline runs
// it: its settings, and the keys Lambda itself sets, which a deployed
// function's configuration never holds.
func forwarderEnv() map[string]string {
	return map[string]string{
		"DATABRICKS_SECRET_ID": "local/databricks", "DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{key}",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "LOCALFORWARDER", "AWS_SECRET_ACCESS_KEY": "secret",
	}
}

// The SDK's own GetFunctionConfiguration reads a registered function's
// configuration by every form of its name, and the settings as
// deployed.Describe (ddbstream replay, redrive) reads them.
func TestGetFunctionConfigurationThroughTheSDK(t *testing.T) {
	rec := &recorder{}
	_, client := start(t, map[string]lambdaapi.Function{
		"forwarder": {Environment: forwarderEnv()},
		"empty":     {Environment: map[string]string{}, Invoke: rec.invoke},
	})
	const unqualified = "arn:aws:lambda:us-east-1:000000000000:function:forwarder"
	settings := map[string]string{"DATABRICKS_SECRET_ID": "local/databricks", "DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{key}"}
	tests := []struct {
		name, fn, qualifier   string
		expectName, expectARN string
		// expectEnv is Environment.Variables: the settings without the
		// reserved keys; nil when Environment is absent, as for a
		// function without variables.
		expectEnv map[string]string
	}{
		{"name", "forwarder", "", "forwarder", unqualified, settings},
		{"ARN", unqualified, "", "forwarder", unqualified, settings},
		{"partial ARN", "000000000000:function:forwarder", "", "forwarder", unqualified, settings},
		{"name with $LATEST", "forwarder:$LATEST", "", "forwarder", unqualified + ":$LATEST", settings},
		{"ARN with $LATEST", unqualified + ":$LATEST", "", "forwarder", unqualified + ":$LATEST", settings},
		{"Qualifier $LATEST", "forwarder", "$LATEST", "forwarder", unqualified + ":$LATEST", settings},
		{"no variables", "empty", "", "empty", "arn:aws:lambda:us-east-1:000000000000:function:empty", nil},
	}
	for _, tc := range tests {
		in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(tc.fn)}
		if tc.qualifier != "" {
			in.Qualifier = aws.String(tc.qualifier)
		}
		out, err := client.GetFunctionConfiguration(context.Background(), in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		gotEnv := "absent"
		if out.Environment != nil {
			gotEnv = fmt.Sprint(out.Environment.Variables) // maps print sorted
		}
		expectEnv := "absent"
		if tc.expectEnv != nil {
			expectEnv = fmt.Sprint(tc.expectEnv)
		}
		for _, f := range []struct {
			field       string
			got, expect any
		}{
			{"FunctionName", aws.ToString(out.FunctionName), tc.expectName},
			{"FunctionArn", aws.ToString(out.FunctionArn), tc.expectARN},
			{"Version", aws.ToString(out.Version), "$LATEST"},
			{"State", out.State, types.StateActive},
			{"LastUpdateStatus", out.LastUpdateStatus, types.LastUpdateStatusSuccessful},
			{"Environment.Variables", gotEnv, expectEnv},
		} {
			if f.got != f.expect {
				t.Errorf("%s: %s: got %v, expect %v", tc.name, f.field, f.got, f.expect)
			}
		}
	}
	// As ddbstream replay reads the deployed forwarder.
	f, err := deployed.Describe(context.Background(), client, "forwarder")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field       string
		got, expect any
	}{
		{"Name", f.Name, "forwarder"},
		{"ARN", f.ARN, unqualified},
		{"Env[DATABRICKS_SECRET_ID]", f.Env["DATABRICKS_SECRET_ID"], "local/databricks"},
		{"Env has AWS_REGION", f.Env["AWS_REGION"] != "", false},
		{"Env has AWS_ACCESS_KEY_ID", f.Env["AWS_ACCESS_KEY_ID"] != "", false},
	} {
		if c.got != c.expect {
			t.Errorf("deployed.Describe: %s: got %v, expect %v", c.field, c.got, c.expect)
		}
	}
}

// An unknown function, a version the endpoint does not have, and a
// function registered without a configuration are refused with the
// service's error shapes, which the SDK maps.
func TestGetFunctionConfigurationErrors(t *testing.T) {
	rec := &recorder{}
	_, client := start(t, map[string]lambdaapi.Function{
		"forwarder":       {Environment: forwarderEnv()},
		"exportconverter": {Invoke: rec.invoke},
	})
	tests := []struct {
		name, fn, qualifier string
		expectCode          string
		expectStatus        int
	}{
		{"unknown function", "nope", "", "ResourceNotFoundException", http.StatusNotFound},
		{"unknown function ARN", "arn:aws:lambda:us-east-1:000000000000:function:nope", "", "ResourceNotFoundException", http.StatusNotFound},
		{"a version", "forwarder:3", "", "ResourceNotFoundException", http.StatusNotFound},
		{"a Qualifier alias", "forwarder", "live", "ResourceNotFoundException", http.StatusNotFound},
		{"no configuration registered", "exportconverter", "", "UnknownOperationException", http.StatusNotFound},
	}
	for _, tc := range tests {
		in := &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(tc.fn)}
		if tc.qualifier != "" {
			in.Qualifier = aws.String(tc.qualifier)
		}
		_, err := client.GetFunctionConfiguration(context.Background(), in)
		var api smithy.APIError
		var re *awshttp.ResponseError
		gotCode, gotStatus := "", 0
		if errors.As(err, &api) {
			gotCode = api.ErrorCode()
		}
		if errors.As(err, &re) {
			gotStatus = re.HTTPStatusCode()
		}
		if gotCode != tc.expectCode || gotStatus != tc.expectStatus {
			t.Errorf("%s: got %s %d (%v), expect %s %d", tc.name, gotCode, gotStatus, err, tc.expectCode, tc.expectStatus)
		}
		if tc.expectCode == "ResourceNotFoundException" {
			var notFound *types.ResourceNotFoundException
			if !errors.As(err, &notFound) {
				t.Errorf("%s: got %T, expect *types.ResourceNotFoundException", tc.name, err)
			}
		}
	}
}

// A function registered only for its configuration is invoked by another
// service (the forwarder by its rule): every invocation through the API is
// refused as AWS refuses a principal no policy allows, and nothing runs.
func TestConfigurationOnlyFunctionRefusesInvoke(t *testing.T) {
	e, client := start(t, map[string]lambdaapi.Function{"forwarder": {Environment: forwarderEnv()}})
	for _, typ := range []types.InvocationType{types.InvocationTypeEvent, types.InvocationTypeRequestResponse, types.InvocationTypeDryRun} {
		_, err := client.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("forwarder"), InvocationType: typ, Payload: []byte(`{}`)})
		var api smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDeniedException" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
			t.Errorf("%s: got %v, expect 403 AccessDeniedException", typ, err)
		}
	}
	for _, f := range []struct {
		field       string
		got, expect int
	}{
		{"Invocations", e.Invocations("forwarder"), 0},
		{"Accepted", e.Accepted("forwarder"), 0},
		{"Pending", e.Pending(), 0},
	} {
		if f.got != f.expect {
			t.Errorf("%s: got %d, expect %d", f.field, f.got, f.expect)
		}
	}
}
