// Package deployed reads a deployed function's settings: its ARN, role,
// log group and environment, from one GetFunctionConfiguration call.
//
// The operator commands run the functions' own code in process
// (ddbstream redrive and replay) or check what is deployed (ddbstream
// doctor). They take the functions' configuration from the functions
// themselves, through the same ConfigFromEnv the functions run at start,
// so that a redriven batch lands where the streamer writes and a
// redelivered object goes where the forwarder delivers, whatever the
// stack's settings.
package deployed

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// FunctionConfigGetter is the one Lambda call this package makes.
type FunctionConfigGetter interface {
	GetFunctionConfiguration(ctx context.Context, params *lambda.GetFunctionConfigurationInput, optFns ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error)
}

// Function is what the commands need of a deployed function.
type Function struct {
	// Name is the function's name, ARN its unqualified ARN.
	Name, ARN string
	// RoleARN is its execution role.
	RoleARN string
	// LogGroup is the log group it writes to: the one its logging
	// configuration names, else Lambda's default /aws/lambda/<name>.
	LogGroup string
	// Env is its environment.
	Env map[string]string
}

// Describe reads the function named name (a name or an ARN).
func Describe(ctx context.Context, api FunctionConfigGetter, name string) (Function, error) {
	out, err := api.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
	if err != nil {
		return Function{}, fmt.Errorf("get configuration of function %s: %w", name, err)
	}
	f := Function{
		Name: aws.ToString(out.FunctionName), ARN: unqualified(aws.ToString(out.FunctionArn)), RoleARN: aws.ToString(out.Role),
		Env: map[string]string{},
	}
	if f.Name == "" {
		f.Name = name
	}
	if out.Environment != nil {
		for k, v := range out.Environment.Variables {
			f.Env[k] = v
		}
	}
	if out.LoggingConfig != nil && aws.ToString(out.LoggingConfig.LogGroup) != "" {
		f.LogGroup = aws.ToString(out.LoggingConfig.LogGroup)
	} else {
		f.LogGroup = "/aws/lambda/" + f.Name
	}
	return f, nil
}

// unqualified drops a version or alias (":$LATEST") from a function ARN:
// policies and rule targets name the function itself.
func unqualified(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) == 8 && parts[5] == "function" {
		return strings.Join(parts[:7], ":")
	}
	return arn
}

// Lookup reads the function's environment as os.LookupEnv reads the
// process's, for the functions' ConfigFromEnv.
func (f Function) Lookup(key string) (string, bool) {
	v, ok := f.Env[key]
	return v, ok
}

// Partition, Region and Account are the parts of the function's ARN
// (arn:<partition>:lambda:<region>:<account>:function:<name>); empty
// when the ARN is not one.
func (f Function) Partition() string { return arnPart(f.ARN, 1) }

// Region is the function's region, from its ARN.
func (f Function) Region() string { return arnPart(f.ARN, 3) }

// Account is the function's account, from its ARN.
func (f Function) Account() string { return arnPart(f.ARN, 4) }

func arnPart(arn string, i int) string {
	parts := strings.SplitN(arn, ":", 7)
	if len(parts) < 7 || parts[0] != "arn" {
		return ""
	}
	return parts[i]
}

// RoleName is the name of the function's role: the last segment of its
// ARN (arn:aws:iam::123456789012:role/path/name).
func (f Function) RoleName() string {
	if i := strings.LastIndexByte(f.RoleARN, '/'); i >= 0 {
		return f.RoleARN[i+1:]
	}
	return ""
}
