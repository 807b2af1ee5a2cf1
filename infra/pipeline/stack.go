package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/eventrule"
)

// StackProps are the stack's deployment settings and the pipeline's.
type StackProps struct {
	awscdk.StackProps
	Pipeline Props
}

// NewPipelineStack returns the stack holding one pipeline. Nil props are
// the defaults, which lack a Databricks secret: synthesis then stops with
// an error naming it.
func NewPipelineStack(scope constructs.Construct, id string, props *StackProps) awscdk.Stack {
	if props == nil {
		props = &StackProps{Pipeline: DefaultProps()}
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	NewPipeline(stack, "Pipeline", &props.Pipeline)
	return stack
}

// Pipeline is the whole pipeline, grouped under one construct.
type Pipeline struct {
	constructs.Construct
	Resources iam.Resources
	Streamer  awslambda.Function
	// Forwarder is nil in delivery mode none.
	Forwarder awslambda.Function
}

// NewPipeline builds every resource of the pipeline under scope. Props that
// do not validate (nil is DefaultProps) add an error to the construct, so
// synthesis stops with a message naming each bad value; an app embedding
// the construct gets the same checks as PropsFromContext.
func NewPipeline(scope constructs.Construct, id string, p *Props) *Pipeline {
	if p == nil {
		d := DefaultProps()
		p = &d
	}
	c := constructs.NewConstruct(scope, jsii.String(id))
	if err := p.Validate(); err != nil {
		// Nothing is built from bad props: synthesis stops on the error.
		awscdk.Annotations_Of(c).AddError(jsii.String(err.Error()))
		return &Pipeline{Construct: c}
	}
	stack := awscdk.Stack_Of(c)
	res := iam.Resources{
		Partition: *awscdk.Aws_PARTITION(), Region: *awscdk.Aws_REGION(), Account: *awscdk.Aws_ACCOUNT_ID(),
		Prefix: p.Prefix,
	}

	tableName, streamARN := newTable(c, p)
	res.TableName, res.StreamARN, res.TableKeyARN = tableName, streamARN, p.ExistingTableKMSKeyARN

	// The bucket's name is generated from the account, region and stack,
	// not taken from the bucket resource: the roles' policies and the
	// trigger's rule can then name the bucket without depending on it.
	bucketName := p.BucketName
	if bucketName == "" {
		sum := sha256.Sum256([]byte(*stack.StackName()))
		bucketName = *awscdk.Fn_Join(jsii.String("-"), jsii.Strings("ddbstream", *awscdk.Aws_ACCOUNT_ID(), *awscdk.Aws_REGION(), hex.EncodeToString(sum[:])[:8]))
	}
	res.BucketName = bucketName
	var key awskms.Key
	if p.BucketEncryption == "kms" {
		key = awskms.NewKey(c, jsii.String("BucketKey"), &awskms.KeyProps{
			Description:       jsii.String("Encrypts the DynamoDB stream pipeline's objects"),
			EnableKeyRotation: jsii.Bool(true),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		})
		res.KeyARN = *key.KeyArn()
	}
	bucket := newBucket(c, p, bucketName, key)

	streamerQueue := failureQueue(c, "StreamerFailureQueue")
	res.StreamerQueueARN = *streamerQueue.QueueArn()
	streamerLogs := logGroup(c, "StreamerLogs", p)
	res.StreamerLogGroup = *streamerLogs.LogGroupName()

	keyARN := ""
	if key != nil {
		keyARN = *key.KeyArn()
	}
	streamerFn := newFunction(c, "Streamer", p, functionSettings{
		name: "streamer", statements: iam.Streamer(res), logs: streamerLogs,
		memory: p.StreamerMemoryMB, timeout: p.StreamerTimeoutSec, env: p.streamerEnv(bucketName, keyARN),
		description: "Writes each DynamoDB Streams batch to S3 as one gzip JSON Lines object",
	})
	awslambda.NewCfnEventSourceMapping(c, jsii.String("StreamMapping"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:                   streamerFn.FunctionArn(),
		EventSourceArn:                 jsii.String(streamARN),
		StartingPosition:               jsii.String(p.StartingPosition),
		BatchSize:                      jsii.Number(p.BatchSize),
		MaximumBatchingWindowInSeconds: jsii.Number(p.BatchingWindowSeconds),
		ParallelizationFactor:          jsii.Number(p.ParallelizationFactor),
		BisectBatchOnFunctionError:     jsii.Bool(p.BisectOnError),
		MaximumRetryAttempts:           jsii.Number(p.MaxRetryAttempts),
		MaximumRecordAgeInSeconds:      jsii.Number(p.MaxRecordAgeSeconds),
		FunctionResponseTypes:          jsii.Strings("ReportBatchItemFailures"),
		DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: streamerQueue.QueueArn()},
		},
	})

	// S3 sends every event to EventBridge: the forwarder's and the export
	// planner's rules select theirs.
	bucket.Node().DefaultChild().(awss3.CfnBucket).AddPropertyOverride(
		jsii.String("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled"), true)
	dl := newDelivery(c, p, &res)
	res.ExportPrefix = p.exportPrefix()
	bf := newBackfill(c, p, &res, keyARN)

	var ucRole awsiam.Role
	if p.DatabricksExternalID != "" {
		ucRole = newUnityCatalogRole(c, p, res, stack)
	}
	newMonitoring(c, p, monitored{streamer: streamerFn, streamerQueue: streamerQueue, delivery: dl, backfill: bf})
	outputs(c, p, outputValues{
		table: tableName, stream: streamARN, bucket: bucketName, streamer: streamerFn, streamerLogs: streamerLogs, streamerQueue: streamerQueue,
		delivery: dl, ucRole: ucRole, backfill: bf, exportPrefix: res.ExportPrefix, keyARN: keyARN,
	})
	suppressFindings(c, streamerFn, dl, bf, streamerQueue, bf.plannerQueue, bf.converterQueue, bf.triggerQueue, ucRole)
	pl := &Pipeline{Construct: c, Resources: res, Streamer: streamerFn}
	if dl != nil {
		pl.Forwarder = dl.fn
	}
	return pl
}

func newTable(scope constructs.Construct, p *Props) (name, streamARN string) {
	if p.ExistingTableName != "" {
		return p.ExistingTableName, p.ExistingStreamARN
	}
	attr := func(name, typ string) *awsdynamodb.Attribute {
		t := map[string]awsdynamodb.AttributeType{"S": awsdynamodb.AttributeType_STRING, "N": awsdynamodb.AttributeType_NUMBER, "B": awsdynamodb.AttributeType_BINARY}[typ]
		return &awsdynamodb.Attribute{Name: jsii.String(name), Type: t}
	}
	props := &awsdynamodb.TableProps{
		PartitionKey:       attr(p.PartitionKey, p.PartitionKeyType),
		BillingMode:        awsdynamodb.BillingMode_PAY_PER_REQUEST,
		Stream:             awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES,
		DeletionProtection: jsii.Bool(true),
		RemovalPolicy:      awscdk.RemovalPolicy_RETAIN,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
	}
	if p.SortKey != "" {
		props.SortKey = attr(p.SortKey, p.SortKeyType)
	}
	if p.TableName != "" {
		props.TableName = jsii.String(p.TableName)
	}
	if p.TTLAttribute != "" {
		props.TimeToLiveAttribute = jsii.String(p.TTLAttribute)
	}
	t := awsdynamodb.NewTable(scope, jsii.String("Table"), props)
	return *t.TableName(), *t.TableStreamArn()
}

func newBucket(scope constructs.Construct, p *Props, name string, key awskms.Key) awss3.Bucket {
	logs := awss3.NewBucket(scope, jsii.String("AccessLogs"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED, // server access logging delivers only to SSE-S3 buckets
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id: jsii.String("expire-access-logs"), Expiration: awscdk.Duration_Days(jsii.Number(365)),
		}},
	})
	rules := []*awss3.LifecycleRule{{
		Id:                                  jsii.String("tidy-versions"),
		NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(p.NoncurrentVersionDays)),
		AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		ExpiredObjectDeleteMarker:           jsii.Bool(true),
	}}
	if p.InfrequentAccessDays > 0 {
		rules = append(rules, &awss3.LifecycleRule{
			Id:     jsii.String("infrequent-access"),
			Prefix: jsii.String(p.Prefix + "/"),
			Transitions: &[]*awss3.Transition{{
				StorageClass: awss3.StorageClass_INFREQUENT_ACCESS(), TransitionAfter: awscdk.Duration_Days(jsii.Number(p.InfrequentAccessDays)),
			}},
		})
	}
	props := &awss3.BucketProps{
		BucketName:        jsii.String(name),
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		MinimumTLSVersion: jsii.Number(1.2),
		Versioned:         jsii.Bool(true),
		ObjectOwnership:   awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules:    &rules,
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
	}
	if key != nil {
		props.Encryption = awss3.BucketEncryption_KMS
		props.EncryptionKey = key
		props.BucketKeyEnabled = jsii.Bool(true)
	}
	bucket := awss3.NewBucket(scope, jsii.String("Output"), props)
	// Access logging is set explicitly, with a bucket policy for the log
	// delivery service, rather than through serverAccessLogsBucket, whose
	// result depends on the app's feature flags (without one it adds an ACL
	// that object ownership "bucket owner enforced" forbids).
	const logPrefix = "output-bucket/"
	bucket.Node().DefaultChild().(awss3.CfnBucket).SetLoggingConfiguration(&awss3.CfnBucket_LoggingConfigurationProperty{
		DestinationBucketName: logs.BucketName(), LogFilePrefix: jsii.String(logPrefix),
	})
	logs.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("S3ServerAccessLogs"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("logging.s3.amazonaws.com"), nil)},
		Actions:    jsii.Strings("s3:PutObject"),
		Resources:  jsii.Strings(*logs.ArnForObjects(jsii.String(logPrefix + "*"))),
		Conditions: &map[string]any{
			"ArnLike":      map[string]any{"aws:SourceArn": "arn:" + *awscdk.Aws_PARTITION() + ":s3:::" + name},
			"StringEquals": map[string]any{"aws:SourceAccount": *awscdk.Aws_ACCOUNT_ID()},
		},
	}))
	return bucket
}

func failureQueue(scope constructs.Construct, id string) awssqs.Queue {
	return awssqs.NewQueue(scope, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
}

func logGroup(scope constructs.Construct, id string, p *Props) awslogs.LogGroup {
	lg := awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{RemovalPolicy: awscdk.RemovalPolicy_RETAIN})
	lg.Node().DefaultChild().(awslogs.CfnLogGroup).SetRetentionInDays(jsii.Number(p.LogRetentionDays))
	return lg
}

// Trigger retry settings: EventBridge retries a delivery to Lambda it
// could not make (throttled, no permission) up to these limits, the
// largest the API allows (RetryPolicy: 185 attempts, 86,400 s), then sends
// the event to the trigger's dead-letter queue. Once Lambda has accepted
// the event, the forwarder's own async invoke configuration applies.
const (
	triggerRetryAttempts   = 185
	triggerMaxEventAgeSecs = 86400
)

// triggerForwarder sends S3 "Object Created" events for data keys to the
// forwarder through Amazon EventBridge.
//
// Why not a bucket notification: S3 matches notification filter values
// against URL-encoded keys, so a prefix holding '=' (cdc/table=) must be
// written %3D and, written plainly, silently never fires
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-filtering.html);
// and a bucket notification configuration cannot overlap with the one
// Databricks' managed file events for Auto Loader write
// (https://docs.databricks.com/aws/en/ingestion/cloud-object-storage/auto-loader/migrating-to-file-events).
// With EventBridgeConfiguration S3 sends every event to the default bus
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-s3-bucket-eventbridgeconfiguration.html)
// and the rule, defined once in eventrule, filters them. EventBridge
// invokes Lambda asynchronously, so the forwarder's retries and on-failure
// queue apply after delivery; the rule's own dead-letter queue keeps events
// it could not deliver at all.
func triggerForwarder(scope constructs.Construct, fn awslambda.Function, dlq awssqs.Queue, res iam.Resources) awsevents.CfnRule {
	return invokeOnObjectCreated(scope, "Forwarder", fn, dlq, eventrule.Forwarder(res.BucketName, res.Prefix), "New pipeline data objects to the forwarder")
}

// delivery is the forwarder and what serves it; nil in delivery mode none,
// where Databricks reads the objects itself (Auto Loader).
type delivery struct {
	fn                  awslambda.Function
	logs                awslogs.LogGroup
	queue, triggerQueue awssqs.Queue
}

// newDelivery deploys the forwarder, unless the delivery mode is none.
func newDelivery(c constructs.Construct, p *Props, res *iam.Resources) *delivery {
	if p.DeliveryMode == DeliveryNone {
		return nil
	}
	d := &delivery{
		queue: failureQueue(c, "ForwarderFailureQueue"), triggerQueue: failureQueue(c, "ForwarderTriggerDeadLetterQueue"),
		logs: logGroup(c, "ForwarderLogs", p),
	}
	res.ForwarderQueueARN, res.ForwarderLogGroup = *d.queue.QueueArn(), *d.logs.LogGroupName()
	secretID := p.DatabricksSecretARN
	res.SecretARN = p.DatabricksSecretARN
	if secretID == "" {
		secretID = p.DatabricksSecretName
		// A secret's ARN ends in six random characters after its name.
		res.SecretARN = fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", res.Partition, res.Region, res.Account, p.DatabricksSecretName)
	}
	res.SecretKeyARN = p.DatabricksSecretKMSKeyARN
	d.fn = newFunction(c, "Forwarder", p, functionSettings{
		name: "forwarder", statements: iam.Forwarder(*res), logs: d.logs,
		memory: p.ForwarderMemoryMB, timeout: p.ForwarderTimeoutSec, env: p.forwarderEnv(secretID),
		description: "Delivers each new pipeline object to Databricks",
	})
	asyncConfig(c, "ForwarderAsyncConfig", d.fn, d.queue, p)
	triggerForwarder(c, d.fn, d.triggerQueue, *res)
	return d
}

// invokeOnObjectCreated routes the S3 events pattern selects to fn: a rule
// on the default bus (construct id+"Trigger"), a retry policy and a
// dead-letter queue, and a Lambda permission for that rule only.
func invokeOnObjectCreated(scope constructs.Construct, id string, fn awslambda.Function, dlq awssqs.Queue, pattern eventrule.Pattern, description string) awsevents.CfnRule {
	rule := awsevents.NewCfnRule(scope, jsii.String(id+"Trigger"), &awsevents.CfnRuleProps{
		Description:  jsii.String(description),
		EventPattern: pattern.Document(),
		State:        jsii.String("ENABLED"),
		Targets: &[]*awsevents.CfnRule_TargetProperty{{
			Id:  jsii.String(id),
			Arn: fn.FunctionArn(),
			RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{
				MaximumRetryAttempts: jsii.Number(triggerRetryAttempts), MaximumEventAgeInSeconds: jsii.Number(triggerMaxEventAgeSecs),
			},
			DeadLetterConfig: &awsevents.CfnRule_DeadLetterConfigProperty{Arn: dlq.QueueArn()},
		}},
	})
	awslambda.NewCfnPermission(scope, jsii.String("AllowTriggerToInvoke"+id), &awslambda.CfnPermissionProps{
		Action:       jsii.String("lambda:InvokeFunction"),
		FunctionName: fn.FunctionArn(),
		Principal:    jsii.String("events.amazonaws.com"),
		SourceArn:    rule.AttrArn(),
	})
	// EventBridge needs the queue's permission to dead-letter, for this
	// rule only (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
	dlq.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(id + "TriggerDeadLetters"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sqs:SendMessage"),
		Resources:  jsii.Strings(*dlq.QueueArn()),
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": *rule.AttrArn()}},
	}))
	return rule
}

func newUnityCatalogRole(scope constructs.Construct, p *Props, res iam.Resources, stack awscdk.Stack) awsiam.Role {
	// The role must trust itself, so its ARN is built from a generated
	// name rather than read from the role.
	sum := sha256.Sum256([]byte(*stack.StackName()))
	name := "ddbstream-databricks-uc-" + hex.EncodeToString(sum[:])[:8]
	uc := iam.UnityCatalogAccess{
		RoleARN:      fmt.Sprintf("arn:%s:iam::%s:role/%s", res.Partition, res.Account, name),
		AccountARN:   fmt.Sprintf("arn:%s:iam::%s:root", res.Partition, res.Account),
		PrincipalARN: p.DatabricksUCPrincipalARN,
		ExternalID:   p.DatabricksExternalID,
	}
	role := awsiam.NewRole(scope, jsii.String("DatabricksUnityCatalogRole"), &awsiam.RoleProps{
		RoleName:       jsii.String(name),
		Description:    jsii.String("Read-only access for a Databricks Unity Catalog storage credential on the pipeline prefix"),
		AssumedBy:      awsiam.NewArnPrincipal(jsii.String(uc.PrincipalARN)), // replaced below by iam's trust policy
		InlinePolicies: &map[string]awsiam.PolicyDocument{"databricks-unity-catalog": policyDocument(iam.UnityCatalog(res, uc))},
	})
	// The trust policy is iam's, to the letter: Databricks' role and the
	// role itself, each bound to the external ID.
	var trust map[string]any
	raw, _ := json.Marshal(iam.UnityCatalogTrust(uc))
	_ = json.Unmarshal(raw, &trust)
	role.Node().DefaultChild().(awsiam.CfnRole).AddPropertyOverride(jsii.String("AssumeRolePolicyDocument"), trust)
	return role
}
