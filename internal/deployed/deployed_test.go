package deployed

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

type fakeLambda map[string]*lambda.GetFunctionConfigurationOutput

func (f fakeLambda) GetFunctionConfiguration(_ context.Context, in *lambda.GetFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	out, ok := f[aws.ToString(in.FunctionName)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Function not found")}
	}
	return out, nil
}

func TestDescribe(t *testing.T) {
	api := fakeLambda{
		"withGroup": {FunctionName: aws.String("withGroup"), FunctionArn: aws.String("arn:aws-cn:lambda:cn-north-1:123456789012:function:withGroup:$LATEST"),
			Role:          aws.String("arn:aws-cn:iam::123456789012:role/path/stack-StreamerRole-ABC"),
			Environment:   &types.EnvironmentResponse{Variables: map[string]string{"BUCKET_NAME": "lake"}},
			LoggingConfig: &types.LoggingConfig{LogGroup: aws.String("stack-StreamerLogs")}},
		"plain": {FunctionName: aws.String("plain"), FunctionArn: aws.String("arn:aws:lambda:eu-west-1:123456789012:function:plain")},
	}
	f, err := Describe(context.Background(), api, "withGroup")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := f.Lookup("BUCKET_NAME")
	for _, c := range []struct{ field, got, expect string }{
		{"ARN", f.ARN, "arn:aws-cn:lambda:cn-north-1:123456789012:function:withGroup"},
		{"partition", f.Partition(), "aws-cn"},
		{"region", f.Region(), "cn-north-1"},
		{"account", f.Account(), "123456789012"},
		{"role name", f.RoleName(), "stack-StreamerRole-ABC"},
		{"log group", f.LogGroup, "stack-StreamerLogs"},
		{"env", v, "lake"},
	} {
		if c.got != c.expect {
			t.Errorf("%s: got %q, expect %q", c.field, c.got, c.expect)
		}
	}
	if !ok {
		t.Error("Lookup missed BUCKET_NAME")
	}
	p, err := Describe(context.Background(), api, "plain")
	if err != nil || p.LogGroup != "/aws/lambda/plain" {
		t.Errorf("default log group: got %q, %v", p.LogGroup, err)
	}
	if _, err := Describe(context.Background(), api, "nope"); err == nil {
		t.Error("unknown function: no error")
	}
}
