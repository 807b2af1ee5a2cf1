package iam

import (
	"encoding/json"
	"sort"

	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
)

// Statement is one Allow statement.
type Statement struct {
	Sid       string
	Actions   []string
	Resources []string
	// Conditions is the IAM Condition block, if any.
	Conditions map[string]map[string]any
}

// Resources names what the roles act on. Values may be CloudFormation
// tokens when infra builds them, or readable placeholders for Export.
type Resources struct {
	Partition, Region, Account string
	BucketName                 string
	// Prefix is the key prefix under which the pipeline writes; empty for
	// the whole bucket.
	Prefix string
	// KeyARN is the bucket's customer managed key; empty for S3-managed.
	KeyARN string
	// TableName and StreamARN identify the source table's stream.
	TableName, StreamARN string
	// TableKeyARN is the source table's customer managed key, when an
	// imported table is encrypted with one: the event source mapping
	// decrypts the stream's records with the streamer's role.
	TableKeyARN string
	// StreamerQueueARN and ForwarderQueueARN are the on-failure queues.
	StreamerQueueARN, ForwarderQueueARN string
	// SecretARN is the Databricks secret (for a name: its ARN with -??????).
	SecretARN string
	// SecretKeyARN is the secret's customer managed key, if it has one.
	SecretKeyARN string
	// StreamerLogGroup and ForwarderLogGroup are log group names.
	StreamerLogGroup, ForwarderLogGroup string

	// ExportPrefix is where table exports are written: outside Prefix, so
	// that no export object is ever taken for pipeline data.
	ExportPrefix string
	// ConverterFunctionARN is the export converter the planner invokes.
	ConverterFunctionARN string
	// PlannerQueueARN and ConverterQueueARN are the export functions'
	// on-failure queues.
	PlannerQueueARN, ConverterQueueARN string
	// ExportTriggerQueueARN is the dead-letter queue of the planner's
	// trigger rule: events EventBridge could not hand to the planner.
	ExportTriggerQueueARN string
	// PlannerLogGroup and ConverterLogGroup are their log group names.
	PlannerLogGroup, ConverterLogGroup string

	// What the operator commands act on besides the above (ddbstream
	// redrive, replay, doctor): the functions whose settings they read,
	// the functions' roles whose policies doctor compares with these
	// statements, and the forwarder trigger's dead-letter queue.
	StreamerFunctionARN, ForwarderFunctionARN, PlannerFunctionARN       string
	StreamerRoleARN, ForwarderRoleARN, PlannerRoleARN, ConverterRoleARN string
	ForwarderTriggerQueueARN                                            string
}

// BucketARN is the bucket's ARN.
func (r Resources) BucketARN() string { return "arn:" + r.Partition + ":s3:::" + r.BucketName }

// ObjectsARN covers the objects under the prefix, and only those.
func (r Resources) ObjectsARN() string {
	if r.Prefix == "" {
		return r.BucketARN() + "/*"
	}
	return r.BucketARN() + "/" + r.Prefix + "/*"
}

// dataObjectsARN covers the data objects (objectkey.DataPrefix), which
// the forwarder reads: it skips every other key (KEY_PREFIX).
func (r Resources) dataObjectsARN() string {
	return r.BucketARN() + "/" + objectkey.DataPrefix(r.Prefix) + "*"
}

// pipelineObjectsARNs cover what the streamer writes: the data objects
// and, under <prefix>/_errors/, the records set aside; with no prefix,
// not the rest of the bucket (the exports, for one).
func (r Resources) pipelineObjectsARNs() []string {
	return []string{r.dataObjectsARN(), r.BucketARN() + "/" + r.errorsPrefix() + "*"}
}

// SnapshotObjectsARNs cover the objects converted from table exports and
// their errors objects (objectkey.Snapshot and SnapshotErrors, for any
// table, date, hour, export and data file), and no stream object: a
// stream object's name starts with its stream label, never with
// objectkey.SnapshotMarker.
func (r Resources) SnapshotObjectsARNs() []string {
	name := "dt=*/hour=*/" + objectkey.SnapshotMarker + "-*"
	return []string{
		r.BucketARN() + "/" + objectkey.DataPrefix(r.Prefix) + "*/" + name,
		r.BucketARN() + "/" + r.errorsPrefix() + "table=*/" + name,
	}
}

// tableDataPrefix is where the table's data objects are:
// <prefix>/table=<table>/.
func (r Resources) tableDataPrefix() string {
	return objectkey.DataPrefix(r.Prefix) + r.TableName + "/"
}

// TableARN is the source table's ARN.
func (r Resources) TableARN() string {
	return "arn:" + r.Partition + ":dynamodb:" + r.Region + ":" + r.Account + ":table/" + r.TableName
}

// ExportObjectsARN covers the objects of the table exports, and only those.
func (r Resources) ExportObjectsARN() string { return r.BucketARN() + "/" + r.ExportPrefix + "/*" }

// listUnder lets a role list the keys under prefix only: with it, S3
// answers a read of a missing key there with 404 rather than 403.
func (r Resources) listUnder(sid, prefix string) Statement {
	return Statement{Sid: sid, Actions: []string{"s3:ListBucket"}, Resources: []string{r.BucketARN()},
		Conditions: map[string]map[string]any{"StringLike": {"s3:prefix": []string{prefix + "*"}}}}
}

func (r Resources) logGroupARN(name string) string {
	return "arn:" + r.Partition + ":logs:" + r.Region + ":" + r.Account + ":log-group:" + name + ":*"
}

func (r Resources) viaService(service string) map[string]map[string]any {
	return map[string]map[string]any{"StringEquals": {"kms:ViaService": service + "." + r.Region + ".amazonaws.com"}}
}

// OperationActions is the one table from the AWS API operations the code
// calls (SDK service package:Operation) to what IAM authorizes them
// with; Deployment.Authorize turns a call into its IAM requests with it,
// and the tests check the roles' grants against it.
//
// HEAD needs the same actions as GET. Without s3:ListBucket, S3 answers a
// read of a missing key with 403 AccessDenied instead of 404 NoSuchKey
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html):
// NotFound. A read of a given version (GetObject or HeadObject with
// VersionId) needs s3:GetObjectVersion and not s3:GetObject ("The
// s3:GetObject permission is not required in this scenario", same page):
// only code listed in VersionReaders does that. Deleting a version needs
// s3:DeleteObjectVersion as well as s3:DeleteObject
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html).
// HeadBucket is s3:ListBucket
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html).
//
// The export converter streams objects with multipart uploads: creating,
// uploading parts and completing all need s3:PutObject, and aborting needs
// s3:AbortMultipartUpload
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
// Key lists the KMS actions the service then calls with the caller's
// permissions (Deployment.Authorize has the documentation). The
// planner's Invoke is the IAM action lambda:InvokeFunction.
var OperationActions = map[string]Operation{
	"s3:PutObject":               {Actions: []string{"s3:PutObject"}, Key: []string{"kms:GenerateDataKey"}},
	"s3:GetObject":               {Actions: []string{"s3:GetObject"}, Versioned: []string{"s3:GetObjectVersion"}, NotFound: []string{"s3:ListBucket"}, Key: []string{"kms:Decrypt"}},
	"s3:HeadObject":              {Actions: []string{"s3:GetObject"}, Versioned: []string{"s3:GetObjectVersion"}, NotFound: []string{"s3:ListBucket"}},
	"s3:CreateMultipartUpload":   {Actions: []string{"s3:PutObject"}, Key: []string{"kms:GenerateDataKey"}},
	"s3:UploadPart":              {Actions: []string{"s3:PutObject"}, Key: []string{"kms:Decrypt"}},
	"s3:CompleteMultipartUpload": {Actions: []string{"s3:PutObject"}, Key: []string{"kms:Decrypt"}},
	"s3:AbortMultipartUpload":    {Actions: []string{"s3:AbortMultipartUpload"}},
	"s3:DeleteObject":            {Actions: []string{"s3:DeleteObject"}, Versioned: []string{"s3:DeleteObject", "s3:DeleteObjectVersion"}},
	// Listing keys under a prefix; the statements scope it by s3:prefix.
	"s3:ListObjectsV2": {Actions: []string{"s3:ListBucket"}},
	"s3:HeadBucket":    {Actions: []string{"s3:ListBucket"}},
	"s3:CreateBucket":  {Actions: []string{"s3:CreateBucket"}},

	"secretsmanager:GetSecretValue": {Actions: []string{"secretsmanager:GetSecretValue"}, Key: []string{"kms:Decrypt"}},
	"lambda:Invoke":                 {Actions: []string{"lambda:InvokeFunction"}},
	"cloudformation:DescribeStacks": {Actions: []string{"cloudformation:DescribeStacks"}},

	// DynamoDB: item reads and writes, a stream's records and an export
	// read the table, whose key DynamoDB decrypts with the caller's
	// permissions when the table has a customer managed key.
	"dynamodb:Scan":                      {Actions: []string{"dynamodb:Scan"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:Query":                     {Actions: []string{"dynamodb:Query"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:GetItem":                   {Actions: []string{"dynamodb:GetItem"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:BatchGetItem":              {Actions: []string{"dynamodb:BatchGetItem"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:PutItem":                   {Actions: []string{"dynamodb:PutItem"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:UpdateItem":                {Actions: []string{"dynamodb:UpdateItem"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:DeleteItem":                {Actions: []string{"dynamodb:DeleteItem"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:BatchWriteItem":            {Actions: []string{"dynamodb:BatchWriteItem"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:DescribeTable":             {Actions: []string{"dynamodb:DescribeTable"}},
	"dynamodb:CreateTable":               {Actions: []string{"dynamodb:CreateTable"}},
	"dynamodb:UpdateTable":               {Actions: []string{"dynamodb:UpdateTable"}},
	"dynamodb:DescribeContinuousBackups": {Actions: []string{"dynamodb:DescribeContinuousBackups"}},
	"dynamodb:UpdateContinuousBackups":   {Actions: []string{"dynamodb:UpdateContinuousBackups"}},
	"dynamodb:ExportTableToPointInTime":  {Actions: []string{"dynamodb:ExportTableToPointInTime"}, Key: []string{"kms:Decrypt"}},
	"dynamodb:DescribeExport":            {Actions: []string{"dynamodb:DescribeExport"}},
	"dynamodb:ListExports":               {Actions: []string{"dynamodb:ListExports"}},
	// The SDK packages dynamodbstreams, cloudwatchlogs and eventbridge
	// are the IAM services dynamodb, logs and events;
	// GetBucketNotificationConfiguration is the action
	// s3:GetBucketNotification.
	"dynamodb:ListStreams":             {Actions: []string{"dynamodb:ListStreams"}},
	"dynamodbstreams:ListStreams":      {Actions: []string{"dynamodb:ListStreams"}},
	"dynamodbstreams:DescribeStream":   {Actions: []string{"dynamodb:DescribeStream"}},
	"dynamodbstreams:GetShardIterator": {Actions: []string{"dynamodb:GetShardIterator"}},
	"dynamodbstreams:GetRecords":       {Actions: []string{"dynamodb:GetRecords"}, Key: []string{"kms:Decrypt"}},

	"sqs:SendMessage":             {Actions: []string{"sqs:SendMessage"}},
	"sqs:ReceiveMessage":          {Actions: []string{"sqs:ReceiveMessage"}},
	"sqs:DeleteMessage":           {Actions: []string{"sqs:DeleteMessage"}},
	"sqs:ChangeMessageVisibility": {Actions: []string{"sqs:ChangeMessageVisibility"}},
	"sqs:GetQueueAttributes":      {Actions: []string{"sqs:GetQueueAttributes"}},
	"sqs:GetQueueUrl":             {Actions: []string{"sqs:GetQueueUrl"}},
	"sqs:CreateQueue":             {Actions: []string{"sqs:CreateQueue"}},

	// Lambda writes a function's logs with its role.
	"cloudwatchlogs:CreateLogStream": {Actions: []string{"logs:CreateLogStream"}},
	"cloudwatchlogs:PutLogEvents":    {Actions: []string{"logs:PutLogEvents"}},

	// The operator commands redrive, replay and doctor.
	"lambda:GetFunctionConfiguration":       {Actions: []string{"lambda:GetFunctionConfiguration"}},
	"lambda:GetPolicy":                      {Actions: []string{"lambda:GetPolicy"}},
	"lambda:ListEventSourceMappings":        {Actions: []string{"lambda:ListEventSourceMappings"}},
	"cloudwatch:GetMetricStatistics":        {Actions: []string{"cloudwatch:GetMetricStatistics"}},
	"cloudwatchlogs:FilterLogEvents":        {Actions: []string{"logs:FilterLogEvents"}},
	"eventbridge:DescribeRule":              {Actions: []string{"events:DescribeRule"}},
	"eventbridge:ListTargetsByRule":         {Actions: []string{"events:ListTargetsByRule"}},
	"iam:GetRolePolicy":                     {Actions: []string{"iam:GetRolePolicy"}},
	"iam:ListRolePolicies":                  {Actions: []string{"iam:ListRolePolicies"}},
	"iam:ListAttachedRolePolicies":          {Actions: []string{"iam:ListAttachedRolePolicies"}},
	"s3:GetBucketNotificationConfiguration": {Actions: []string{"s3:GetBucketNotification"}},
}

// VersionReaders are the functions and ddbstream subcommands whose code
// reads objects by version ID (s3:GetObjectVersion,
// https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html),
// with the reason. Every other principal reads the current version only
// and is not granted it.
var VersionReaders = map[string]string{
	"forwarder": "reads the exact version an S3 event announced (GetObject and HeadObject with VersionId)",
	"redrive":   "runs the forwarder's code on the events its queues kept, which name the version they announced",
}

// PlatformActions are calls AWS makes with a role on the function's
// behalf, with the reason each is needed.
var PlatformActions = map[string]map[string]string{
	"streamer": {
		"logs:CreateLogStream":      "Lambda writes the function's logs",
		"logs:PutLogEvents":         "Lambda writes the function's logs",
		"dynamodb:DescribeStream":   "the event source mapping reads the stream",
		"dynamodb:GetRecords":       "the event source mapping reads the stream",
		"dynamodb:GetShardIterator": "the event source mapping reads the stream",
		"dynamodb:ListStreams":      "the event source mapping reads the stream",
		"sqs:SendMessage":           "the event source mapping sends failed batches to the on-failure queue",
		"kms:GenerateDataKey":       "S3 encrypts objects written with SSE-KMS",
		"kms:Decrypt":               "the event source mapping reads a stream encrypted with the table's customer managed key",
		"kms:DescribeKey":           "the event source mapping reads a stream encrypted with the table's customer managed key (as CDK's grantStreamRead grants)",
	},
	"forwarder": {
		"logs:CreateLogStream": "Lambda writes the function's logs",
		"logs:PutLogEvents":    "Lambda writes the function's logs",
		"sqs:SendMessage":      "asynchronous invocation sends failed events to the on-failure queue",
		"kms:Decrypt":          "S3 decrypts SSE-KMS objects, Secrets Manager a secret with its own key",
	},
	"exportplanner": {
		"logs:CreateLogStream": "Lambda writes the function's logs",
		"logs:PutLogEvents":    "Lambda writes the function's logs",
		"sqs:SendMessage":      "asynchronous invocation sends failed events to the on-failure queue",
		"kms:Decrypt":          "S3 decrypts the SSE-KMS export manifests",
	},
	"exportconverter": {
		"logs:CreateLogStream": "Lambda writes the function's logs",
		"logs:PutLogEvents":    "Lambda writes the function's logs",
		"sqs:SendMessage":      "asynchronous invocation sends failed events to the on-failure queue",
		"kms:Decrypt":          "S3 decrypts SSE-KMS export data, and multipart uploads with SSE-KMS need it",
		"kms:GenerateDataKey":  "S3 encrypts objects written with SSE-KMS",
	},
}

// Streamer returns the streamer role's statements: put data and errors
// objects under the prefix, encrypt with the key, read its one stream,
// send to its queue, write its logs.
func Streamer(r Resources) []Statement {
	s := []Statement{
		{Sid: "WriteObjects", Actions: []string{"s3:PutObject"}, Resources: r.pipelineObjectsARNs()},
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "EncryptObjects", Actions: []string{"kms:GenerateDataKey"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	if r.TableKeyARN != "" {
		s = append(s, Statement{Sid: "DecryptStream", Actions: []string{"kms:Decrypt", "kms:DescribeKey"}, Resources: []string{r.TableKeyARN}, Conditions: r.viaService("dynamodb")})
	}
	return append(s,
		Statement{Sid: "ReadStream", Actions: []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}, Resources: []string{r.StreamARN}},
		// ListStreams supports no resource-level permissions: scoped to a
		// stream ARN it grants nothing. "*" is the form AWS's own
		// AWSLambdaDynamoDBExecutionRole uses; it reveals stream ARNs only.
		Statement{Sid: "ListStreams", Actions: []string{"dynamodb:ListStreams"}, Resources: []string{"*"}},
		Statement{Sid: "SendFailedBatches", Actions: []string{"sqs:SendMessage"}, Resources: []string{r.StreamerQueueARN}},
		Statement{Sid: "WriteLogs", Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resources: []string{r.logGroupARN(r.StreamerLogGroup)}},
	)
}

// Forwarder returns the forwarder role's statements: get the data objects
// (any version), decrypt with the key, read its one secret, send to its
// queue, write its logs.
func Forwarder(r Resources) []Statement {
	s := []Statement{
		{Sid: "ReadObjects", Actions: []string{"s3:GetObject", "s3:GetObjectVersion"}, Resources: []string{r.dataObjectsARN()}},
		// Only so that a missing data object answers 404, not 403: S3
		// evaluates this grant with the object key as s3:prefix, so the
		// condition keeps listing to the data keys (the behaviour Ceph
		// copies from AWS in its s3-tests test_head_object_404_with_policy_prefix).
		r.listUnder("ListDataKeys", objectkey.DataPrefix(r.Prefix)),
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "DecryptObjects", Actions: []string{"kms:Decrypt"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	s = append(s, Statement{Sid: "ReadDatabricksSecret", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{r.SecretARN}})
	if r.SecretKeyARN != "" {
		s = append(s, Statement{Sid: "DecryptDatabricksSecret", Actions: []string{"kms:Decrypt"}, Resources: []string{r.SecretKeyARN}, Conditions: r.viaService("secretsmanager")})
	}
	return append(s,
		Statement{Sid: "SendFailedEvents", Actions: []string{"sqs:SendMessage"}, Resources: []string{r.ForwarderQueueARN}},
		Statement{Sid: "WriteLogs", Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resources: []string{r.logGroupARN(r.ForwarderLogGroup)}},
	)
}

// ExportPlanner returns the export planner's statements: read the
// exports' manifests, check its table's exports and key schema, invoke
// the converter, send to its queue, write its logs.
func ExportPlanner(r Resources) []Statement {
	s := []Statement{
		{Sid: "ReadExportManifests", Actions: []string{"s3:GetObject"}, Resources: []string{r.ExportObjectsARN()}},
		r.listUnder("ListExportKeys", r.ExportPrefix+"/"),
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "DecryptExports", Actions: []string{"kms:Decrypt"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return append(s,
		Statement{Sid: "DescribeExports", Actions: []string{"dynamodb:DescribeExport"}, Resources: []string{r.TableARN() + "/export/*"}},
		Statement{Sid: "DescribeTable", Actions: []string{"dynamodb:DescribeTable"}, Resources: []string{r.TableARN()}},
		Statement{Sid: "InvokeConverter", Actions: []string{"lambda:InvokeFunction"}, Resources: []string{r.ConverterFunctionARN}},
		Statement{Sid: "SendFailedEvents", Actions: []string{"sqs:SendMessage"}, Resources: []string{r.PlannerQueueARN}},
		Statement{Sid: "WriteLogs", Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resources: []string{r.logGroupARN(r.PlannerLogGroup)}},
	)
}

// ExportConverter returns the export converter's statements: read the
// exports' data files, write the snapshot objects and their errors
// objects, and nothing else under the prefix (multipart, so also abort),
// encrypt and decrypt with the key, send to its queue, write its logs.
func ExportConverter(r Resources) []Statement {
	s := []Statement{
		{Sid: "ReadExportData", Actions: []string{"s3:GetObject"}, Resources: []string{r.ExportObjectsARN()}},
		r.listUnder("ListExportKeys", r.ExportPrefix+"/"),
		{Sid: "WriteSnapshotObjects", Actions: []string{"s3:PutObject", "s3:AbortMultipartUpload"}, Resources: r.SnapshotObjectsARNs()},
	}
	if r.KeyARN != "" {
		// A multipart upload with SSE-KMS needs kms:Decrypt as well
		// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
		s = append(s, Statement{Sid: "UseObjectKey", Actions: []string{"kms:Decrypt", "kms:GenerateDataKey"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return append(s,
		Statement{Sid: "SendFailedEvents", Actions: []string{"sqs:SendMessage"}, Resources: []string{r.ConverterQueueARN}},
		Statement{Sid: "WriteLogs", Actions: []string{"logs:CreateLogStream", "logs:PutLogEvents"}, Resources: []string{r.logGroupARN(r.ConverterLogGroup)}},
	)
}

// Operator names the deployed stack whose outputs ddbstream reads.
type Operator struct {
	// StackName is the CloudFormation stack (--stack).
	StackName string
}

// OperatorPlatformActions are what AWS does with an operator's
// permissions on the operator's behalf, with the reason.
var OperatorPlatformActions = map[string]map[string]string{
	"backfill": {
		// "Your IAM policy should allow the s3:AbortMultipartUpload,
		// s3:PutObject, and s3:PutObjectAcl actions, in addition to the
		// dynamodb:ExportTableToPointInTime permission"
		// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html).
		"s3:PutObject":            "DynamoDB writes the export with the caller's permissions",
		"s3:PutObjectAcl":         "DynamoDB writes the export with the caller's permissions",
		"s3:AbortMultipartUpload": "DynamoDB writes the export with the caller's permissions",
		"kms:GenerateDataKey":     "the export is written with the bucket's key (SSE-KMS)",
		"kms:Decrypt":             "SSE-KMS multipart writes of the export, and reading its manifest, errors objects and the table's data objects",
	},
	"reconcile": {
		"kms:Decrypt": "S3 decrypts the SSE-KMS objects of the lake",
	},
	"redrive": {
		"kms:GenerateDataKey": "S3 encrypts the batches the streamer's code writes with SSE-KMS",
		"kms:Decrypt":         "S3 decrypts the objects the forwarder's code reads",
	},
	"replay": {
		"kms:Decrypt": "S3 decrypts the objects the forwarder's code reads",
	},
	"errors": {
		"kms:Decrypt": "S3 decrypts the SSE-KMS errors objects",
	},
}

// OperatorTableKeyActions are what DynamoDB does with the table's
// customer managed key (existingTableKmsKeyArn) on an operator's behalf,
// with the reason (operatorTableKey has the documentation).
var OperatorTableKeyActions = map[string]map[string]string{
	"backfill": {"kms:Decrypt": "the export reads the table with the permissions of the principal that starts it",
		"kms:DescribeKey": "DynamoDB describes the table's key with the caller's permissions (the KMS guide's list for DynamoDB)"},
	"reconcile": {"kms:Decrypt": "Scan and BatchGetItem read the encrypted table",
		"kms:DescribeKey": "DynamoDB describes the table's key with the caller's permissions (the KMS guide's list for DynamoDB)"},
	"redrive": {"kms:Decrypt": "GetRecords reads the stream, encrypted with the table's key",
		"kms:DescribeKey": "as the streamer's role has it for the same reads (CDK's grantStreamRead)"},
}

func (r Resources) stackARN(o Operator) string {
	return "arn:" + r.Partition + ":cloudformation:" + r.Region + ":" + r.Account + ":stack/" + o.StackName + "/*"
}

// OperatorBackfill returns what `ddbstream backfill` needs: read the
// stack's outputs, check the table (point-in-time recovery, stream) and
// the event source mapping that reads its stream, start and follow its
// exports, let DynamoDB write them under the export prefix, read their
// manifests, count the converted objects and read the errors objects of
// the export (objectkey.Snapshot and SnapshotErrors), invoke the export
// planner when the conversion does not start, fold the table's data
// objects and write the export's delete object (record.SnapshotDeletes).
func OperatorBackfill(r Resources, o Operator) []Statement {
	snapshotErrors := r.errorsPrefix() + "table=" + r.TableName + "/dt=*/hour=*/" + objectkey.SnapshotMarker + "-*"
	s := []Statement{
		{Sid: "ReadStackOutputs", Actions: []string{"cloudformation:DescribeStacks"}, Resources: []string{r.stackARN(o)}},
		{Sid: "CheckAndExportTable", Actions: []string{"dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable", "dynamodb:ExportTableToPointInTime"},
			Resources: []string{r.TableARN()}},
		{Sid: "FollowExports", Actions: []string{"dynamodb:DescribeExport"}, Resources: []string{r.TableARN() + "/export/*"}},
		{Sid: "ListExports", Actions: []string{"dynamodb:ListExports"}, Resources: []string{"*"}},
		// The stream check reads the mapping (ListEventSourceMappings
		// filtered by the stream and the streamer), as doctor does.
		{Sid: "ListEventSourceMappings", Actions: []string{"lambda:ListEventSourceMappings"}, Resources: []string{"*"}},
		{Sid: "InvokeExportPlanner", Actions: []string{"lambda:InvokeFunction"}, Resources: []string{r.PlannerFunctionARN}},
		{Sid: "WriteExports", Actions: []string{"s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObjectAcl"}, Resources: []string{r.ExportObjectsARN()}},
		{Sid: "ReadExportsAndTableObjects", Actions: []string{"s3:GetObject"},
			Resources: []string{r.ExportObjectsARN(), r.BucketARN() + "/" + r.tableDataPrefix() + "*", r.BucketARN() + "/" + snapshotErrors}},
		{Sid: "ListExportAndTableKeys", Actions: []string{"s3:ListBucket"}, Resources: []string{r.BucketARN()},
			Conditions: map[string]map[string]any{"StringLike": {"s3:prefix": []string{r.ExportPrefix + "/*", r.tableDataPrefix() + "*", snapshotErrors}}}},
		{Sid: "WriteDeletes", Actions: []string{"s3:PutObject"}, Resources: []string{r.BucketARN() + "/" + r.tableDataPrefix() +
			"dt=*/hour=*/" + objectkey.SnapshotMarker + "-*-" + record.SnapshotDeletes + objectkey.Suffix}},
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "UseObjectKey", Actions: []string{"kms:Decrypt", "kms:GenerateDataKey"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return append(s, r.operatorTableKey()...)
}

// OperatorReconcile returns what `ddbstream reconcile` needs: read the
// stack's outputs, describe and scan the table (and read again the items
// that differ), list and read the table's data objects.
func OperatorReconcile(r Resources, o Operator) []Statement {
	s := []Statement{
		{Sid: "ReadStackOutputs", Actions: []string{"cloudformation:DescribeStacks"}, Resources: []string{r.stackARN(o)}},
		{Sid: "ReadTable", Actions: []string{"dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:Scan"}, Resources: []string{r.TableARN()}},
		{Sid: "ReadTableObjects", Actions: []string{"s3:GetObject"}, Resources: []string{r.BucketARN() + "/" + r.tableDataPrefix() + "*"}},
		r.listUnder("ListTableKeys", r.tableDataPrefix()),
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "DecryptObjects", Actions: []string{"kms:Decrypt"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return append(s, r.operatorTableKey()...)
}

// operatorTableKey lets an operator command read a table encrypted with a
// customer managed key, through DynamoDB only. DynamoDB decrypts the
// table key with the permissions of the principal accessing the table
// ("When you access an encrypted DynamoDB table, DynamoDB needs to
// decrypt the table key ... The user is the principal in your AWS account
// who is accessing the table",
// https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html),
// and an export uses it through the principal that starts the export
// ("that KMS key's policies must give DynamoDB permission to use it. This
// permission is given through the IAM User/Role that triggers the export
// job",
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html).
// A stream is encrypted with its table's key. kms:DescribeKey goes with
// it, as for the streamer and as CDK's grantStreamRead grants: the KMS
// guide lists it among the permissions DynamoDB uses a customer managed
// key with, and AWS does not list, per operation, which of them a read or
// an export needs; neither was tried on a live table with such a key.
func (r Resources) operatorTableKey() []Statement {
	if r.TableKeyARN == "" {
		return nil
	}
	return []Statement{{Sid: "DecryptTable", Actions: []string{"kms:Decrypt", "kms:DescribeKey"}, Resources: []string{r.TableKeyARN}, Conditions: r.viaService("dynamodb")}}
}

// OperatorRedrive returns what `ddbstream redrive` needs: read the
// stack's outputs and the two functions' settings, work the on-failure
// queues (receive, delete once done, make kept messages visible again),
// read the stream's records again, and do what the streamer and the
// forwarder do with them in process: put objects under the prefix, read
// the data objects (listing the data keys, so a missing one answers 404)
// and the Databricks secret. The export functions' failures are handed
// back to the deployed functions (lambda:InvokeFunction), which convert
// with their own roles: the operator needs no access to the exports.
func OperatorRedrive(r Resources, o Operator) []Statement {
	s := []Statement{
		{Sid: "ReadStackOutputs", Actions: []string{"cloudformation:DescribeStacks"}, Resources: []string{r.stackARN(o)}},
		{Sid: "ReadFunctionSettings", Actions: []string{"lambda:GetFunctionConfiguration"}, Resources: []string{r.StreamerFunctionARN, r.ForwarderFunctionARN}},
		{Sid: "WorkFailureQueues", Actions: []string{"sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
			Resources: []string{r.StreamerQueueARN, r.ForwarderQueueARN, r.ForwarderTriggerQueueARN, r.PlannerQueueARN, r.ConverterQueueARN, r.ExportTriggerQueueARN}},
		{Sid: "InvokeExportFunctions", Actions: []string{"lambda:InvokeFunction"}, Resources: []string{r.PlannerFunctionARN, r.ConverterFunctionARN}},
		{Sid: "ReadStream", Actions: []string{"dynamodb:GetRecords", "dynamodb:GetShardIterator"}, Resources: []string{r.StreamARN}},
		{Sid: "WriteObjects", Actions: []string{"s3:PutObject"}, Resources: r.pipelineObjectsARNs()},
		{Sid: "ReadDataObjects", Actions: []string{"s3:GetObject", "s3:GetObjectVersion"}, Resources: []string{r.dataObjectsARN()}},
		r.listUnder("ListDataKeys", objectkey.DataPrefix(r.Prefix)),
		{Sid: "ReadDatabricksSecret", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{r.SecretARN}},
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "UseObjectKey", Actions: []string{"kms:Decrypt", "kms:GenerateDataKey"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return append(append(s, r.operatorSecretKey()...), r.operatorTableKey()...)
}

// OperatorReplay returns what `ddbstream replay` needs: read the stack's
// outputs and the forwarder's settings, list and read the table's data
// objects (the current version: its events name none), and read the
// Databricks secret, as the forwarder does.
func OperatorReplay(r Resources, o Operator) []Statement {
	s := []Statement{
		{Sid: "ReadStackOutputs", Actions: []string{"cloudformation:DescribeStacks"}, Resources: []string{r.stackARN(o)}},
		{Sid: "ReadForwarderSettings", Actions: []string{"lambda:GetFunctionConfiguration"}, Resources: []string{r.ForwarderFunctionARN}},
		{Sid: "ReadTableObjects", Actions: []string{"s3:GetObject"}, Resources: []string{r.BucketARN() + "/" + r.tableDataPrefix() + "*"}},
		r.listUnder("ListTableKeys", r.tableDataPrefix()),
		{Sid: "ReadDatabricksSecret", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{r.SecretARN}},
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "DecryptObjects", Actions: []string{"kms:Decrypt"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return append(s, r.operatorSecretKey()...)
}

// errorsPrefix is where records set aside go: <prefix>/_errors/.
func (r Resources) errorsPrefix() string {
	if r.Prefix == "" {
		return objectkey.ErrorsDir + "/"
	}
	return r.Prefix + "/" + objectkey.ErrorsDir + "/"
}

// OperatorErrors returns what `ddbstream errors` needs: read the stack's
// outputs, list and read the objects under <prefix>/_errors/ only.
func OperatorErrors(r Resources, o Operator) []Statement {
	s := []Statement{
		{Sid: "ReadStackOutputs", Actions: []string{"cloudformation:DescribeStacks"}, Resources: []string{r.stackARN(o)}},
		{Sid: "ReadErrorObjects", Actions: []string{"s3:GetObject"}, Resources: []string{r.BucketARN() + "/" + r.errorsPrefix() + "*"}},
		r.listUnder("ListErrorKeys", r.errorsPrefix()),
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "DecryptObjects", Actions: []string{"kms:Decrypt"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return s
}

// OperatorDoctor returns what `ddbstream doctor` needs, reads only: the
// stack, the table's stream, the functions' settings, the mapping, the
// forwarder's and the export planner's resource policies and trigger
// rules, IteratorAge, the queues' depths, the bucket's notification
// settings, the roles' policies, the Databricks secret and the four
// functions' error log lines.
func OperatorDoctor(r Resources, o Operator) []Statement {
	s := []Statement{
		{Sid: "ReadStackOutputs", Actions: []string{"cloudformation:DescribeStacks"}, Resources: []string{r.stackARN(o)}},
		{Sid: "DescribeTable", Actions: []string{"dynamodb:DescribeTable"}, Resources: []string{r.TableARN()}},
		{Sid: "ReadFunctions", Actions: []string{"lambda:GetFunctionConfiguration"},
			Resources: []string{r.StreamerFunctionARN, r.ForwarderFunctionARN, r.PlannerFunctionARN, r.ConverterFunctionARN}},
		{Sid: "ReadTriggerPermissions", Actions: []string{"lambda:GetPolicy"}, Resources: []string{r.ForwarderFunctionARN, r.PlannerFunctionARN}},
		// ListEventSourceMappings and GetMetricStatistics support no
		// resource-level permissions (WildcardResources).
		{Sid: "ListEventSourceMappings", Actions: []string{"lambda:ListEventSourceMappings"}, Resources: []string{"*"}},
		{Sid: "ReadIteratorAge", Actions: []string{"cloudwatch:GetMetricStatistics"}, Resources: []string{"*"}},
		{Sid: "ReadQueueDepths", Actions: []string{"sqs:GetQueueAttributes"},
			Resources: []string{r.StreamerQueueARN, r.ForwarderQueueARN, r.ForwarderTriggerQueueARN, r.PlannerQueueARN, r.ConverterQueueARN, r.ExportTriggerQueueARN}},
		{Sid: "ReadBucketNotifications", Actions: []string{"s3:GetBucketNotification"}, Resources: []string{r.BucketARN()}},
		// The trigger rule's name is generated by CloudFormation and is
		// not an output: the rules of the account's default bus.
		{Sid: "ReadTriggerRule", Actions: []string{"events:DescribeRule", "events:ListTargetsByRule"},
			Resources: []string{"arn:" + r.Partition + ":events:" + r.Region + ":" + r.Account + ":rule/*"}},
		{Sid: "ReadRolePolicies", Actions: []string{"iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"},
			Resources: []string{r.StreamerRoleARN, r.ForwarderRoleARN, r.PlannerRoleARN, r.ConverterRoleARN}},
		{Sid: "ReadDatabricksSecret", Actions: []string{"secretsmanager:GetSecretValue"}, Resources: []string{r.SecretARN}},
		{Sid: "ReadErrorLogs", Actions: []string{"logs:FilterLogEvents"},
			Resources: []string{r.logGroupARN(r.StreamerLogGroup), r.logGroupARN(r.ForwarderLogGroup), r.logGroupARN(r.PlannerLogGroup), r.logGroupARN(r.ConverterLogGroup)}},
	}
	return append(s, r.operatorSecretKey()...)
}

// operatorSecretKey lets an operator command read a secret encrypted with
// its own key, through Secrets Manager only.
func (r Resources) operatorSecretKey() []Statement {
	if r.SecretKeyARN == "" {
		return nil
	}
	return []Statement{{Sid: "DecryptDatabricksSecret", Actions: []string{"kms:Decrypt"}, Resources: []string{r.SecretKeyARN}, Conditions: r.viaService("secretsmanager")}}
}

// UnityCatalogAccess is the optional role Databricks assumes for a Unity
// Catalog storage credential on the output prefix: read-only.
type UnityCatalogAccess struct {
	// RoleARN is the role's own ARN: Databricks requires the role to be
	// able to assume itself.
	RoleARN string
	// AccountARN is the account's root, arn:<partition>:iam::<account>:root,
	// the principal of the self-assume statement: IAM rejects a trust
	// policy naming a role that does not exist yet, such as the role
	// being created.
	AccountARN string
	// PrincipalARN is Databricks' Unity Catalog role that assumes it.
	PrincipalARN string
	// ExternalID is the external ID Databricks returns when the storage
	// credential is created (aws_iam_role.external_id). It equals the
	// Databricks account ID only when an account admin creates it.
	ExternalID string
}

// DefaultUnityCatalogPrincipal is Databricks' Unity Catalog role on AWS.
const DefaultUnityCatalogPrincipal = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL"

// UnityCatalog returns the storage credential role's statements.
func UnityCatalog(r Resources, uc UnityCatalogAccess) []Statement {
	listPrefix := r.Prefix + "/*"
	if r.Prefix == "" {
		listPrefix = "*"
	}
	s := []Statement{
		{Sid: "ReadObjects", Actions: []string{"s3:GetObject", "s3:GetObjectVersion"}, Resources: []string{r.ObjectsARN()}},
		{Sid: "ListPrefix", Actions: []string{"s3:ListBucket"}, Resources: []string{r.BucketARN()},
			Conditions: map[string]map[string]any{"StringLike": {"s3:prefix": []string{r.Prefix, listPrefix}}}},
		{Sid: "LocateBucket", Actions: []string{"s3:GetBucketLocation"}, Resources: []string{r.BucketARN()}},
		{Sid: "AssumeSelf", Actions: []string{"sts:AssumeRole"}, Resources: []string{uc.RoleARN}},
	}
	if r.KeyARN != "" {
		s = append(s, Statement{Sid: "DecryptObjects", Actions: []string{"kms:Decrypt"}, Resources: []string{r.KeyARN}, Conditions: r.viaService("s3")})
	}
	return s
}

// WildcardResources are the only actions granted on every resource, with
// the reason: AWS offers no narrower form for them.
var WildcardResources = map[string]string{
	"dynamodb:ListStreams":           "supports no resource-level permissions (Service Authorization Reference, Amazon DynamoDB: no resource type); read-only, it lists stream ARNs",
	"dynamodb:ListExports":           "lists an account's exports (TableArn is an optional filter, so the call is not scoped to a table; the Service Authorization Reference gives the action an optional table resource, but AWS does not document which ARN it authorizes a filtered call with); read-only",
	"lambda:ListEventSourceMappings": "supports no resource-level permissions (Service Authorization Reference, AWS Lambda: no resource type); read-only, ddbstream doctor and backfill find the stream's mapping with it, filtered by the stream and the streamer",
	"cloudwatch:GetMetricStatistics": "supports no resource-level permissions (Service Authorization Reference, Amazon CloudWatch: no resource type); read-only, ddbstream doctor reads IteratorAge with it",
}

// Document is an IAM policy document as JSON.
type Document struct {
	Version   string          `json:"Version"`
	Statement []jsonStatement `json:"Statement"`
}

type jsonStatement struct {
	Sid       string                    `json:"Sid,omitempty"`
	Effect    string                    `json:"Effect"`
	Principal map[string]any            `json:"Principal,omitempty"`
	Action    []string                  `json:"Action"`
	Resource  []string                  `json:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty"`
}

// Policy renders statements as a permissions policy.
func Policy(statements []Statement) Document {
	d := Document{Version: "2012-10-17"}
	for _, s := range statements {
		d.Statement = append(d.Statement, jsonStatement{Sid: s.Sid, Effect: "Allow", Action: s.Actions, Resource: s.Resources, Condition: s.Conditions})
	}
	return d
}

// LambdaTrust is the trust policy of the functions' roles.
func LambdaTrust() Document {
	return Document{Version: "2012-10-17", Statement: []jsonStatement{{
		Effect: "Allow", Principal: map[string]any{"Service": "lambda.amazonaws.com"}, Action: []string{"sts:AssumeRole"},
	}}}
}

// UnityCatalogTrust lets Databricks' role, and the role itself, assume the
// role, only with the external ID. The self-assume statement names the
// account with an aws:PrincipalArn condition rather than the role's ARN,
// which IAM would reject at creation ("Invalid principal in policy"); this
// is the form Databricks' own generator (the Terraform data source
// databricks_aws_unity_catalog_assume_role_policy) writes, and
// https://docs.databricks.com/en/connect/unity-catalog/storage-credentials.html
// requires the role to be self-assuming.
func UnityCatalogTrust(uc UnityCatalogAccess) Document {
	externalID := map[string]any{"sts:ExternalId": uc.ExternalID}
	return Document{Version: "2012-10-17", Statement: []jsonStatement{
		{
			Sid: "UnityCatalogAssumeRole", Effect: "Allow", Principal: map[string]any{"AWS": uc.PrincipalARN}, Action: []string{"sts:AssumeRole"},
			Condition: map[string]map[string]any{"StringEquals": externalID},
		},
		{
			Sid: "ExplicitSelfRoleAssumption", Effect: "Allow", Principal: map[string]any{"AWS": uc.AccountARN}, Action: []string{"sts:AssumeRole"},
			Condition: map[string]map[string]any{"ArnLike": {"aws:PrincipalArn": uc.RoleARN}, "StringEquals": externalID},
		},
	}}
}

// Role is one role's trust and permissions.
type Role struct {
	Trust       Document `json:"trust"`
	Permissions Document `json:"permissions"`
}

// Export returns every role's policies; uc may be nil.
func Export(r Resources, uc *UnityCatalogAccess) map[string]Role {
	out := map[string]Role{
		"streamer":        {Trust: LambdaTrust(), Permissions: Policy(Streamer(r))},
		"forwarder":       {Trust: LambdaTrust(), Permissions: Policy(Forwarder(r))},
		"exportplanner":   {Trust: LambdaTrust(), Permissions: Policy(ExportPlanner(r))},
		"exportconverter": {Trust: LambdaTrust(), Permissions: Policy(ExportConverter(r))},
	}
	if uc != nil {
		out["databricks-unity-catalog"] = Role{Trust: UnityCatalogTrust(*uc), Permissions: Policy(UnityCatalog(r, *uc))}
	}
	return out
}

// OperatorPolicies returns the policies an operator needs for each
// ddbstream subcommand, for review and to attach to the operator's role.
func OperatorPolicies(r Resources, o Operator) map[string]Document {
	return map[string]Document{
		"ddbstream-backfill":  Policy(OperatorBackfill(r, o)),
		"ddbstream-reconcile": Policy(OperatorReconcile(r, o)),
		"ddbstream-redrive":   Policy(OperatorRedrive(r, o)),
		"ddbstream-replay":    Policy(OperatorReplay(r, o)),
		"ddbstream-errors":    Policy(OperatorErrors(r, o)),
		"ddbstream-doctor":    Policy(OperatorDoctor(r, o)),
	}
}

// OperatorJSON is OperatorPolicies, indented, for review.
func OperatorJSON(r Resources, o Operator) ([]byte, error) {
	return json.MarshalIndent(OperatorPolicies(r, o), "", "  ")
}

// ExportJSON is Export, indented, for review.
func ExportJSON(r Resources, uc *UnityCatalogAccess) ([]byte, error) {
	return json.MarshalIndent(Export(r, uc), "", "  ")
}

// Actions returns the distinct actions of statements, sorted.
func Actions(statements []Statement) []string {
	set := map[string]bool{}
	for _, s := range statements {
		for _, a := range s.Actions {
			set[a] = true
		}
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// Placeholders are readable stand-ins for Export outside a deployment.
func Placeholders() Resources {
	return Resources{
		Partition: "${Partition}", Region: "${Region}", Account: "${Account}", BucketName: "${BucketName}", Prefix: "cdc",
		KeyARN: "${BucketKeyArn}", TableName: "${TableName}", StreamARN: "${StreamArn}", TableKeyARN: "${TableKeyArn}",
		StreamerQueueARN: "${StreamerFailureQueueArn}", ForwarderQueueARN: "${ForwarderFailureQueueArn}",
		SecretARN: "${DatabricksSecretArn}", StreamerLogGroup: "${StreamerLogGroup}", ForwarderLogGroup: "${ForwarderLogGroup}",
		ExportPrefix: "cdc-exports", ConverterFunctionARN: "${ExportConverterFunctionArn}",
		PlannerQueueARN: "${ExportPlannerFailureQueueArn}", ConverterQueueARN: "${ExportConverterFailureQueueArn}",
		PlannerLogGroup: "${ExportPlannerLogGroup}", ConverterLogGroup: "${ExportConverterLogGroup}",
		StreamerFunctionARN: "${StreamerFunctionArn}", ForwarderFunctionARN: "${ForwarderFunctionArn}", PlannerFunctionARN: "${ExportPlannerFunctionArn}",
		StreamerRoleARN: "${StreamerRoleArn}", ForwarderRoleARN: "${ForwarderRoleArn}",
		PlannerRoleARN: "${ExportPlannerRoleArn}", ConverterRoleARN: "${ExportConverterRoleArn}",
		ForwarderTriggerQueueARN: "${ForwarderTriggerDeadLetterQueueArn}", ExportTriggerQueueARN: "${ExportTriggerDeadLetterQueueArn}",
	}
}
