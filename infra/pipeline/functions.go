package pipeline

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/lambdalog"
	"github.com/ddbstream/pipeline/internal/objectkey"
)

// The functions: each one's role, code and settings, and its environment,
// built here from Props so that the construct and the variables the
// function reads are read side by side.

type functionSettings struct {
	name, description string
	statements        []iam.Statement
	logs              awslogs.LogGroup
	memory, timeout   int
	env               map[string]string
	// reserved is the function's reserved concurrency; 0 reserves none.
	reserved int
}

func newFunction(scope constructs.Construct, id string, p *Props, s functionSettings) awslambda.Function {
	role := awsiam.NewRole(scope, jsii.String(id+"Role"), &awsiam.RoleProps{
		AssumedBy:      awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description:    jsii.String("Least-privilege role of the " + s.name + " function"),
		InlinePolicies: &map[string]awsiam.PolicyDocument{s.name: policyDocument(s.statements)},
	})
	env := map[string]*string{}
	for k, v := range s.env {
		env[k] = jsii.String(v)
	}
	var reserved *float64
	if s.reserved > 0 {
		reserved = jsii.Number(s.reserved)
	}
	fn := awslambda.NewFunction(scope, jsii.String(id), &awslambda.FunctionProps{
		Description:   jsii.String(s.description),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          functionCode(p.SourceDir, s.name),
		Role:          role,
		MemorySize:    jsii.Number(s.memory),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(s.timeout)),
		Environment:   &env,
		LogGroup:      s.logs,
		LoggingFormat: awslambda.LoggingFormat_JSON,
		// Lambda's filter passes everything; the function filters at
		// LOG_LEVEL itself. Lambda counts a line without a level, such as
		// an EMF metrics line, as INFO, so a WARN filter here would drop
		// every metric (lambdalog.LevelEnv has the reference).
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_TRACE,
		SystemLogLevelV2:      awslambda.SystemLogLevel_INFO,
		// Unset (nil) when nothing is reserved: Lambda's 0 would stop it.
		ReservedConcurrentExecutions: reserved,
	})
	// awslambda.Function adds DependsOn on its role, which the GetAtt of
	// the role's ARN already implies (cfn-lint W3005); the role's policies
	// are inline, so nothing else must exist first.
	fn.Node().DefaultChild().(awscdk.CfnResource).AddDeletionOverride(jsii.String("DependsOn"))
	return fn
}

// policyDocument turns iam statements into a CDK policy document.
func policyDocument(statements []iam.Statement) awsiam.PolicyDocument {
	var out []awsiam.PolicyStatement
	for _, s := range statements {
		props := &awsiam.PolicyStatementProps{
			Sid: jsii.String(s.Sid), Effect: awsiam.Effect_ALLOW,
			Actions: jsii.Strings(s.Actions...), Resources: jsii.Strings(s.Resources...),
		}
		if s.Conditions != nil {
			cond := map[string]any{}
			for k, v := range s.Conditions {
				cond[k] = v
			}
			props.Conditions = &cond
		}
		out = append(out, awsiam.NewPolicyStatement(props))
	}
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &out})
}

// streamerEnv is the streamer's environment.
func (p Props) streamerEnv(bucket, keyARN string) map[string]string {
	env := map[string]string{
		"BUCKET_NAME": bucket, "S3_PREFIX": p.Prefix, "IMAGE_FORMAT": p.ImageFormat,
		"REPORT_BATCH_ITEM_FAILURES": "true", "METRICS_NAMESPACE": p.MetricsNamespace,
		"DEADLINE_MARGIN": "3s", lambdalog.LevelEnv: p.LogLevel,
	}
	if keyARN != "" {
		env["KMS_KEY_ID"] = keyARN
	}
	return env
}

// forwarderEnv is the forwarder's environment.
func (p Props) forwarderEnv(secretID string) map[string]string {
	env := map[string]string{
		"DATABRICKS_SECRET_ID": secretID, "DELIVERY_MODE": p.DeliveryMode, "METRICS_NAMESPACE": p.MetricsNamespace,
		"KEY_PREFIX": objectkey.DataPrefix(p.Prefix), "KEY_SUFFIX": objectkey.Suffix, lambdalog.LevelEnv: p.LogLevel,
	}
	for k, v := range map[string]string{
		"DATABRICKS_VOLUME_PATH": p.DatabricksVolumePath, "DATABRICKS_JOB_ID": p.DatabricksJobID,
		"DATABRICKS_WAREHOUSE_ID": p.DatabricksWarehouseID, "DATABRICKS_TABLE": p.DatabricksTable, "DBFS_PATH": p.DBFSPath,
	} {
		if v != "" {
			env[k] = v
		}
	}
	return env
}

// converterEnv is the export converter's environment: it writes under the
// same bucket, prefix, key and image format as the streamer.
func (p Props) converterEnv(bucket, keyARN string) map[string]string {
	env := map[string]string{
		"BUCKET_NAME": bucket, "S3_PREFIX": p.Prefix, "IMAGE_FORMAT": p.ImageFormat,
		"METRICS_NAMESPACE": p.MetricsNamespace, lambdalog.LevelEnv: p.LogLevel,
	}
	if keyARN != "" {
		env["KMS_KEY_ID"] = keyARN
	}
	return env
}

// plannerEnv is the export planner's environment: the converter it
// starts, and the exports it converts (this table's, into this bucket and
// export prefix; it skips any other).
func (p Props) plannerEnv(converterARN, bucket, exportPrefix, table string) map[string]string {
	return map[string]string{
		"CONVERTER_FUNCTION": converterARN, "METRICS_NAMESPACE": p.MetricsNamespace, lambdalog.LevelEnv: p.LogLevel,
		"BUCKET_NAME": bucket, "EXPORT_PREFIX": exportPrefix, "TABLE_NAME": table,
	}
}
