package iam

// Call is one AWS API request as IAM authorizes it: the service and
// operation the SDK names, and the parameters that name its resource.
// Recorded requests (integration/requestlog) and the requests the tests
// build are Calls; Deployment.Authorize turns each into the IAM requests
// AWS evaluates for it.
type Call struct {
	// Service is the SDK's service package: s3, dynamodb,
	// dynamodbstreams, sqs, lambda, secretsmanager, cloudformation,
	// cloudwatch, cloudwatchlogs, eventbridge, iam.
	Service string
	// Operation is the API operation: PutObject, ListObjectsV2,
	// GetRecords, Invoke.
	Operation string
	// Bucket, Key and VersionID name an S3 object (Key empty: the
	// bucket); Prefix is a listing's prefix (empty: none, which S3 treats
	// alike).
	Bucket, Key, Prefix, VersionID string
	// Table is a DynamoDB table's name or ARN; Stream a stream's ARN;
	// Export an export's ARN.
	Table, Stream, Export string
	// Queue is an SQS queue's URL.
	Queue string
	// Function is a Lambda function's name, ARN or partial ARN (Invoke,
	// GetFunctionConfiguration), or ListEventSourceMappings' filter.
	Function string
	// Secret is a Secrets Manager SecretId: a name or an ARN.
	Secret string
	// Stack is a CloudFormation stack's name or ID.
	Stack string
	// LogGroup and LogStream name CloudWatch Logs' log group and stream
	// (CreateLogStream, PutLogEvents, FilterLogEvents).
	LogGroup, LogStream string
	// Status is the response's HTTP status (0: unknown). A read of a
	// missing S3 object answers 404 only to a caller allowed s3:ListBucket.
	Status int
	// SourceARN is the resource a service principal acts for (the
	// condition key aws:SourceArn): the EventBridge rule that invokes a
	// function or sends to its dead-letter queue.
	SourceARN string
}

// Deployment is what authorizing a Call depends on beyond the call: where
// the stack runs, and the keys that encrypt what the call touches.
type Deployment struct {
	Partition, Region, Account string
	// BucketKeys are the KMS keys buckets encrypt objects with by default
	// (SSE-KMS), by bucket name; S3 calls KMS with the caller's
	// permissions. A bucket not listed uses S3-managed keys.
	BucketKeys map[string]string
	// TableKeys are the customer managed keys of tables (and so of their
	// streams), by table name.
	TableKeys map[string]string
	// Secrets are secrets' ARNs by name, and the keys of those with a
	// customer managed key (SecretKeys, by ARN).
	Secrets    map[string]string
	SecretKeys map[string]string
}

// Authorization is one IAM request AWS evaluates for a Call: the action,
// the resource's ARN ("*" for actions without resource types) and the
// condition keys AWS sets.
type Authorization struct {
	Action   string
	Resource string
	Context  map[string]any
	// Why says why the call needs it when it is not the call's own
	// action: "S3 encrypts the object with the bucket's KMS key".
	Why string
}
