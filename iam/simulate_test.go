package iam

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/ddbstream/pipeline/internal/backfill"
	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/record"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// The requests below are the ones the code makes, named with the code's
// own key builders (objectkey, backfill.DefaultExportPrefix, the export
// layout export.LocateSummary parses), evaluated by an IAM policy
// simulator built on AWS's service authorization data against the
// policies a deployed stack would hold: each role's and each operator
// command's statements, the bucket policy and the KMS key policy.

const (
	simAccount  = "111122223333"
	simRegion   = "us-east-1"
	simStack    = "DdbStreamPipeline"
	simTable    = "Orders"
	operatorARN = "arn:aws:iam::" + simAccount + ":role/ddbstream-operator"
	simExportID = "01795449600123-5f1c2e3a"
	simDataFile = "4vbnz2r2wy2hrjsyqifh7xkdsq"
)

// simExportTime names the snapshot objects' dt= and hour=; it is no
// deadline.
var simExportTime = time.Unix(1795449600, 0).UTC()

func simARN(service, rest string) string {
	return "arn:aws:" + service + ":" + simRegion + ":" + simAccount + ":" + rest
}

// deployed stands for a deployed stack's values: the ARNs infra passes as
// CloudFormation tokens, resolved. The secret is named, so its ARN in the
// policies ends in -?????? (infra's form) while requests name the real
// one.
func deployed(prefix string, bucketKey, tableKey bool) Resources {
	fn := func(name string) string { return simARN("lambda", "function:"+simStack+"-"+name+"-AbC123") }
	queue := func(name string) string { return simARN("sqs", simStack+"-"+name+"-Q1w2E3") }
	role := func(name string) string {
		return "arn:aws:iam::" + simAccount + ":role/" + simStack + "-" + name + "-R4t5Y6"
	}
	r := Resources{
		Partition: "aws", Region: simRegion, Account: simAccount, BucketName: "ddbstream-" + simAccount + "-" + simRegion + "-0a1b2c3d",
		Prefix: prefix, TableName: simTable, StreamARN: simARN("dynamodb", "table/"+simTable+"/stream/2026-11-01T00:00:00.000"),
		StreamerQueueARN: queue("StreamerFailureQueue"), ForwarderQueueARN: queue("ForwarderFailureQueue"),
		SecretARN:        simARN("secretsmanager", "secret:databricks/pipeline-??????"),
		StreamerLogGroup: simStack + "-StreamerLogs-L1", ForwarderLogGroup: simStack + "-ForwarderLogs-L2",
		ExportPrefix:         backfill.DefaultExportPrefix(prefix),
		ConverterFunctionARN: fn("Converter"), PlannerQueueARN: queue("PlannerFailureQueue"), ConverterQueueARN: queue("ConverterFailureQueue"),
		ExportTriggerQueueARN: queue("TriggerDeadLetterQueue"),
		PlannerLogGroup:       simStack + "-PlannerLogs-L3", ConverterLogGroup: simStack + "-ConverterLogs-L4",
		StreamerFunctionARN: fn("Streamer"), ForwarderFunctionARN: fn("Forwarder"), PlannerFunctionARN: fn("Planner"),
		StreamerRoleARN: role("StreamerRole"), ForwarderRoleARN: role("ForwarderRole"), PlannerRoleARN: role("PlannerRole"), ConverterRoleARN: role("ConverterRole"),
		ForwarderTriggerQueueARN: queue("ForwarderTriggerDeadLetterQueue"),
	}
	if bucketKey {
		r.KeyARN = simARN("kms", "key/1234abcd-12ab-34cd-56ef-1234567890ab")
		r.SecretKeyARN = simARN("kms", "key/2345bcde-23bc-45de-67fa-2345678901bc")
	}
	if tableKey {
		r.TableKeyARN = simARN("kms", "key/3456cdef-34cd-56ef-78ab-3456789012cd")
	}
	return r
}

// bucketPolicy is what infra's bucket gets from CDK's enforceSSL and
// minimumTLSVersion 1.2: every request without TLS, or with TLS older
// than 1.2, is denied.
func bucketPolicy(r Resources) map[string]any {
	res := []string{r.BucketARN(), r.BucketARN() + "/*"}
	deny := func(cond map[string]any) map[string]any {
		return map[string]any{"Effect": "Deny", "Principal": map[string]any{"AWS": "*"}, "Action": "s3:*", "Resource": res, "Condition": cond}
	}
	return map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{
		deny(map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}}),
		deny(map[string]any{"NumericLessThan": map[string]any{"s3:TlsVersion": "1.2"}}),
	}}
}

// keyPolicy is KMS's default key policy, which CDK gives the bucket key
// and which lets the account's IAM policies decide
// (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html);
// the table's and the secret's keys are taken to have it too. KMS always
// consults the key policy.
var keyPolicy = map[string]any{"Version": "2012-10-17", "Statement": []map[string]any{{
	"Sid": "EnableIAMUserPermissions", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + simAccount + ":root"},
	"Action": "kms:*", "Resource": "*",
}}}

// requests collects one principal's requests with the decision each must
// get.
type requests struct {
	r         Resources
	who       string
	principal string
	policies  []iamsim.Policy
	checks    []iamsim.Check
}

func newRequests(r Resources, who, principal string, statements []Statement) *requests {
	return &requests{r: r, who: who, principal: principal, policies: []iamsim.Policy{{Name: who, Document: Policy(statements)}}}
}

// add is one request; S3 requests carry the bucket policy and the TLS
// keys AWS sets, KMS requests the key policy.
func (q *requests) add(what string, want iamsim.Decision, action, resource string, context map[string]any) {
	req := iamsim.Request{Principal: q.principal, IdentityPolicies: q.policies, Action: action, Resource: resource, Context: map[string]any{}}
	for k, v := range context {
		req.Context[k] = v
	}
	switch strings.SplitN(action, ":", 2)[0] {
	case "s3":
		req.ResourcePolicy = bucketPolicy(q.r)
		req.Context["aws:SecureTransport"] = "true"
		req.Context["s3:TlsVersion"] = "1.3"
	case "kms":
		req.ResourcePolicy = keyPolicy
	}
	q.checks = append(q.checks, iamsim.Check{Name: q.who + ": " + what, Request: req, Want: want})
}

func (q *requests) allow(what, action, resource string) {
	q.add(what, iamsim.Allowed, action, resource, nil)
}
func (q *requests) deny(what, action, resource string) {
	q.add(what, iamsim.ImplicitlyDenied, action, resource, nil)
}

func (q *requests) object(key string) string { return q.r.BucketARN() + "/" + key }

// bucketKey is the request S3 makes to KMS on the caller's behalf for an
// SSE-KMS object.
func (q *requests) bucketKey(what, action string) {
	if q.r.KeyARN != "" {
		q.add(what+" (SSE-KMS)", iamsim.Allowed, action, q.r.KeyARN, map[string]any{"kms:ViaService": "s3." + simRegion + ".amazonaws.com"})
	}
}

// read is GetObject (or HeadObject) of key: the object, its key through
// S3, and the listing that makes a missing key answer 404 (S3 evaluates
// s3:ListBucket with the key as s3:prefix).
func (q *requests) read(what, key string) {
	q.allow(what, "s3:GetObject", q.object(key))
	q.list(what+" (404 for a missing key)", key)
	q.bucketKey(what, "kms:Decrypt")
}

// readVersion is GetObject with VersionId.
func (q *requests) readVersion(what, key string) {
	q.read(what, key)
	q.allow(what+" (by version)", "s3:GetObjectVersion", q.object(key))
}

func (q *requests) list(what, prefix string) {
	q.add(what, iamsim.Allowed, "s3:ListBucket", q.r.BucketARN(), map[string]any{"s3:prefix": prefix})
}

func (q *requests) denyList(what, prefix string) {
	q.add(what, iamsim.ImplicitlyDenied, "s3:ListBucket", q.r.BucketARN(), map[string]any{"s3:prefix": prefix})
}

// write is one PutObject.
func (q *requests) write(what, key string) {
	q.allow(what, "s3:PutObject", q.object(key))
	q.bucketKey(what, "kms:GenerateDataKey")
}

// multipart is a multipart upload: create, parts and complete are
// s3:PutObject, abort s3:AbortMultipartUpload; with SSE-KMS, S3 needs
// kms:Decrypt as well as kms:GenerateDataKey
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
func (q *requests) multipart(what, key string) {
	q.write(what, key)
	q.allow(what+" (abort)", "s3:AbortMultipartUpload", q.object(key))
	q.bucketKey(what, "kms:Decrypt")
}

// tableKey is DynamoDB's use of the table's customer managed key on the
// caller's behalf.
func (q *requests) tableKey(what string, actions ...string) {
	if q.r.TableKeyARN == "" {
		return
	}
	for _, a := range actions {
		q.add(what+" (table key)", iamsim.Allowed, a, q.r.TableKeyARN, map[string]any{"kms:ViaService": "dynamodb." + simRegion + ".amazonaws.com"})
	}
}

func (q *requests) secret() {
	q.allow("read the Databricks secret", "secretsmanager:GetSecretValue", simARN("secretsmanager", "secret:databricks/pipeline-AbCdEf"))
	if q.r.SecretKeyARN != "" {
		q.add("read the Databricks secret (its key)", iamsim.Allowed, "kms:Decrypt", q.r.SecretKeyARN,
			map[string]any{"kms:ViaService": "secretsmanager." + simRegion + ".amazonaws.com"})
	}
}

// keys are the object keys the code builds for one table, export and
// stream batch.
type keys struct {
	data, errs, errsByContent, malformed      string
	snapshot, snapshotErrors, deletes         string
	snapshotDir, snapshotErrorsDir, tableDir  string
	otherTable                                string
	exportDir, summary, filesManifest, export string
}

func keysFor(t *testing.T, r Resources) keys {
	t.Helper()
	batch := objectkey.Batch{Prefix: r.Prefix, Table: simTable, Stream: "2026-11-01T00:00:00.000", FirstSequence: "100", LastSequence: "199",
		Created: simExportTime.Add(time.Hour)}
	snap := objectkey.SnapshotFile{Prefix: r.Prefix, Table: simTable, ExportID: simExportID, DataFile: simDataFile, ExportTime: simExportTime}
	must := func(k string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k := keys{
		data: objectkey.Data(batch), errs: objectkey.Errors(batch), errsByContent: objectkey.ErrorsByContent(batch, sha256.Sum256([]byte("x"))),
		malformed: objectkey.Malformed(r.Prefix, []byte("not json")),
		snapshot:  must(objectkey.Snapshot(snap)), snapshotErrors: must(objectkey.SnapshotErrors(snap)),
		// The table's data objects: lake.Table.Dir and reconcile's
		// dataPrefix.
		tableDir: objectkey.DataPrefix(r.Prefix) + simTable + "/",
	}
	other := batch
	other.Table = "Other"
	k.otherTable = objectkey.Data(other)
	deletes := snap
	deletes.DataFile = record.SnapshotDeletes
	k.deletes = must(objectkey.Snapshot(deletes))
	// backfill's snapshotDirs: the snapshot keys of the export without
	// the data file's name, which the backfill lists to count them.
	cut := func(key string) string { return key[:len(key)-len(simDataFile+objectkey.Suffix)] }
	k.snapshotDir, k.snapshotErrorsDir = cut(k.snapshot), cut(k.snapshotErrors)
	// The export's files (S3DataExport.Output): <export prefix>/AWSDynamoDB/<id>/...
	k.summary = r.ExportPrefix + "/AWSDynamoDB/" + simExportID + "/" + export.SummaryName
	loc, err := export.LocateSummary(k.summary)
	if err != nil {
		t.Fatal(err)
	}
	k.exportDir = loc.Dir
	k.filesManifest = loc.Dir + "/manifest-files.json"
	k.export = loc.Dir + "/data/" + simDataFile + export.DataFileSuffix
	return k
}

func (q *requests) logs(group string) {
	stream := simARN("logs", "log-group:"+group+":log-stream:2026/11/23/[$LATEST]0123456789abcdef")
	q.allow("Lambda writes its logs", "logs:CreateLogStream", stream)
	q.allow("Lambda writes its logs", "logs:PutLogEvents", stream)
}

// roleRequests are what each function's role is used for: its code's
// calls and what AWS does with the role on its behalf.
func roleRequests(t *testing.T, r Resources) []iamsim.Check {
	k := keysFor(t, r)
	var out []iamsim.Check

	q := newRequests(r, "streamer", r.StreamerRoleARN, Streamer(r))
	q.write("write a batch", k.data)
	q.write("write a batch's errors", k.errs)
	q.write("write errors named by content", k.errsByContent)
	q.write("write a malformed payload", k.malformed)
	for _, a := range []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"} {
		q.allow("the event source mapping reads the stream", a, r.StreamARN)
	}
	q.allow("the event source mapping lists streams", "dynamodb:ListStreams", "*")
	q.tableKey("the event source mapping reads the stream", "kms:Decrypt", "kms:DescribeKey")
	q.allow("the mapping sends failed batches", "sqs:SendMessage", r.StreamerQueueARN)
	q.logs(r.StreamerLogGroup)
	q.deny("write an export file", "s3:PutObject", q.object(k.export))
	q.deny("read another table's stream", "dynamodb:GetRecords", simARN("dynamodb", "table/Other/stream/2026-11-01T00:00:00.000"))
	out = append(out, q.checks...)

	q = newRequests(r, "forwarder", r.ForwarderRoleARN, Forwarder(r))
	q.readVersion("read the announced object", k.data)
	q.readVersion("read a snapshot object", k.snapshot)
	q.secret()
	q.allow("asynchronous invocation sends failed events", "sqs:SendMessage", r.ForwarderQueueARN)
	q.logs(r.ForwarderLogGroup)
	q.deny("write an object", "s3:PutObject", q.object(k.data))
	q.deny("read an export file", "s3:GetObject", q.object(k.export))
	q.deny("read an errors object", "s3:GetObject", q.object(k.errs))
	out = append(out, q.checks...)

	q = newRequests(r, "exportplanner", r.PlannerRoleARN, ExportPlanner(r))
	q.read("read the export's summary", k.summary)
	q.read("read the export's files manifest", k.filesManifest)
	q.allow("check the export", "dynamodb:DescribeExport", r.TableARN()+"/export/"+simExportID)
	q.allow("read the key schema", "dynamodb:DescribeTable", r.TableARN())
	q.allow("start a converter per data file", "lambda:InvokeFunction", r.ConverterFunctionARN)
	q.allow("asynchronous invocation sends failed events", "sqs:SendMessage", r.PlannerQueueARN)
	q.logs(r.PlannerLogGroup)
	q.deny("read a version", "s3:GetObjectVersion", q.object(k.summary))
	out = append(out, q.checks...)

	q = newRequests(r, "exportconverter", r.ConverterRoleARN, ExportConverter(r))
	q.read("read the export's data file", k.export)
	q.multipart("write the snapshot object", k.snapshot)
	q.multipart("write the snapshot's errors object", k.snapshotErrors)
	q.allow("asynchronous invocation sends failed events", "sqs:SendMessage", r.ConverterQueueARN)
	q.logs(r.ConverterLogGroup)
	q.deny("write a stream object", "s3:PutObject", q.object(k.data))
	q.deny("write a stream batch's errors object", "s3:PutObject", q.object(k.errs))
	q.deny("write an errors object named by content", "s3:PutObject", q.object(k.errsByContent))
	q.deny("write a malformed payload", "s3:PutObject", q.object(k.malformed))
	q.deny("write into the export", "s3:PutObject", q.object(k.export))
	q.deny("read a version", "s3:GetObjectVersion", q.object(k.export))
	out = append(out, q.checks...)
	return out
}

// operatorRequests are what each ddbstream subcommand's code calls, with
// the keys and prefixes it builds.
func operatorRequests(t *testing.T, r Resources) []iamsim.Check {
	k := keysFor(t, r)
	o := Operator{StackName: simStack}
	stack := simARN("cloudformation", "stack/"+simStack+"/0a1b2c3d-1234-11f0-abcd-0a1b2c3d4e5f")
	var out []iamsim.Check

	q := newRequests(r, "backfill", operatorARN, OperatorBackfill(r, o))
	q.allow("read the stack's outputs", "cloudformation:DescribeStacks", stack)
	for _, a := range []string{"dynamodb:DescribeTable", "dynamodb:DescribeContinuousBackups", "dynamodb:ExportTableToPointInTime"} {
		q.allow("check and export the table", a, r.TableARN())
	}
	q.tableKey("the export reads the table", "kms:Decrypt")
	q.allow("find this table's exports", "dynamodb:ListExports", "*")
	q.allow("find this table's exports (TableArn)", "dynamodb:ListExports", r.TableARN())
	q.allow("follow the export", "dynamodb:DescribeExport", r.TableARN()+"/export/"+simExportID)
	q.allow("read the stream's event source mapping", "lambda:ListEventSourceMappings", "*")
	q.allow("run the planner when nothing converts", "lambda:InvokeFunction", r.PlannerFunctionARN)
	for _, key := range []string{k.export, k.filesManifest, k.summary} {
		for _, a := range []string{"s3:PutObject", "s3:PutObjectAcl", "s3:AbortMultipartUpload"} {
			q.allow("DynamoDB writes the export as the caller", a, q.object(key))
		}
		q.bucketKey("DynamoDB writes the export as the caller", "kms:GenerateDataKey")
		q.bucketKey("DynamoDB writes the export as the caller", "kms:Decrypt")
	}
	q.read("read the export's files manifest", k.filesManifest)
	q.list("count the export's snapshot objects", k.snapshotDir)
	q.list("count the export's errors objects", k.snapshotErrorsDir)
	q.read("count the lines of an errors object", k.snapshotErrors)
	q.list("fold the table's lake", k.tableDir)
	q.read("fold a stream object", k.data)
	q.read("fold a snapshot object", k.snapshot)
	q.read("fold a delete object", k.deletes)
	q.write("write the export's delete object", k.deletes)
	q.deny("write a stream object", "s3:PutObject", q.object(k.data))
	q.deny("write a converted snapshot object", "s3:PutObject", q.object(k.snapshot))
	q.deny("read another table's object", "s3:GetObject", q.object(k.otherTable))
	q.denyList("list the whole lake", objectkey.DataPrefix(r.Prefix))
	out = append(out, q.checks...)

	q = newRequests(r, "reconcile", operatorARN, OperatorReconcile(r, o))
	q.allow("read the stack's outputs", "cloudformation:DescribeStacks", stack)
	for _, a := range []string{"dynamodb:DescribeTable", "dynamodb:Scan", "dynamodb:BatchGetItem"} {
		q.allow("read the table", a, r.TableARN())
	}
	q.tableKey("Scan and BatchGetItem read the table", "kms:Decrypt")
	q.list("list the table's objects", k.tableDir)
	q.read("fold a stream object", k.data)
	q.read("fold a snapshot object", k.snapshot)
	q.read("fold a delete object", k.deletes)
	q.deny("read an errors object", "s3:GetObject", q.object(k.errs))
	out = append(out, q.checks...)

	q = newRequests(r, "redrive", operatorARN, OperatorRedrive(r, o))
	q.allow("read the stack's outputs", "cloudformation:DescribeStacks", stack)
	q.allow("read the streamer's settings", "lambda:GetFunctionConfiguration", r.StreamerFunctionARN)
	q.allow("read the forwarder's settings", "lambda:GetFunctionConfiguration", r.ForwarderFunctionARN)
	for _, queue := range []string{r.StreamerQueueARN, r.ForwarderQueueARN, r.ForwarderTriggerQueueARN, r.PlannerQueueARN, r.ConverterQueueARN, r.ExportTriggerQueueARN} {
		for _, a := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"} {
			q.allow("work a failure queue", a, queue)
		}
	}
	q.allow("hand a job back to the converter", "lambda:InvokeFunction", r.ConverterFunctionARN)
	q.allow("hand an event back to the planner", "lambda:InvokeFunction", r.PlannerFunctionARN)
	q.allow("read the batch's records again", "dynamodb:GetShardIterator", r.StreamARN)
	q.allow("read the batch's records again", "dynamodb:GetRecords", r.StreamARN)
	q.tableKey("GetRecords reads the stream", "kms:Decrypt")
	q.write("the streamer's code writes the batch", k.data)
	q.write("the streamer's code writes the batch's errors", k.errs)
	q.write("the streamer's code writes errors named by content", k.errsByContent)
	q.write("the streamer's code writes a malformed payload", k.malformed)
	q.readVersion("the forwarder's code reads the announced object", k.data)
	q.readVersion("the forwarder's code reads a snapshot object", k.snapshot)
	q.secret()
	q.deny("read another table's stream", "dynamodb:GetRecords", simARN("dynamodb", "table/Other/stream/2026-11-01T00:00:00.000"))
	q.deny("write an export file", "s3:PutObject", q.object(k.export))
	out = append(out, q.checks...)

	q = newRequests(r, "replay", operatorARN, OperatorReplay(r, o))
	q.allow("read the stack's outputs", "cloudformation:DescribeStacks", stack)
	q.allow("read the forwarder's settings", "lambda:GetFunctionConfiguration", r.ForwarderFunctionARN)
	q.list("list a day's objects", k.tableDir+"dt="+simExportTime.Format("2006-01-02")+"/")
	q.read("the forwarder's code reads a stream object", k.data)
	q.read("the forwarder's code reads a snapshot object", k.snapshot)
	q.secret()
	q.deny("read a version (replay's events name none)", "s3:GetObjectVersion", q.object(k.data))
	q.deny("read an errors object", "s3:GetObject", q.object(k.errs))
	out = append(out, q.checks...)

	q = newRequests(r, "errors", operatorARN, OperatorErrors(r, o))
	errorsRoot := objectkey.ErrorsDir + "/"
	if r.Prefix != "" {
		errorsRoot = r.Prefix + "/" + errorsRoot
	}
	q.allow("read the stack's outputs", "cloudformation:DescribeStacks", stack)
	q.list("list the errors objects", errorsRoot)
	q.list("list a table's errors objects", errorsRoot+"table="+simTable+"/")
	q.read("read a batch's errors", k.errs)
	q.read("read errors named by content", k.errsByContent)
	q.read("read a snapshot's errors", k.snapshotErrors)
	q.deny("read a data object", "s3:GetObject", q.object(k.data))
	q.denyList("list the data objects", k.tableDir)
	out = append(out, q.checks...)

	q = newRequests(r, "doctor", operatorARN, OperatorDoctor(r, o))
	q.allow("read the stack's outputs", "cloudformation:DescribeStacks", stack)
	q.allow("read the table's stream", "dynamodb:DescribeTable", r.TableARN())
	for _, fn := range []string{r.StreamerFunctionARN, r.ForwarderFunctionARN, r.PlannerFunctionARN, r.ConverterFunctionARN} {
		q.allow("read a function's settings", "lambda:GetFunctionConfiguration", fn)
	}
	q.allow("read the forwarder's resource policy", "lambda:GetPolicy", r.ForwarderFunctionARN)
	q.allow("read the export planner's resource policy", "lambda:GetPolicy", r.PlannerFunctionARN)
	q.allow("find the streamer's mapping", "lambda:ListEventSourceMappings", "*")
	q.allow("read IteratorAge", "cloudwatch:GetMetricStatistics", "*")
	for _, queue := range []string{r.StreamerQueueARN, r.ForwarderQueueARN, r.ForwarderTriggerQueueARN, r.PlannerQueueARN, r.ConverterQueueARN, r.ExportTriggerQueueARN} {
		q.allow("read a queue's depth", "sqs:GetQueueAttributes", queue)
	}
	q.allow("read the bucket's notification settings", "s3:GetBucketNotification", r.BucketARN())
	rule := simARN("events", "rule/"+simStack+"-ForwarderTrigger-T7u8I9")
	q.allow("read the trigger rule", "events:DescribeRule", rule)
	q.allow("read the trigger rule's targets", "events:ListTargetsByRule", rule)
	for _, role := range []string{r.StreamerRoleARN, r.ForwarderRoleARN, r.PlannerRoleARN, r.ConverterRoleARN} {
		for _, a := range []string{"iam:ListRolePolicies", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies"} {
			q.allow("compare a role's policies", a, role)
		}
	}
	q.secret()
	// A log group's ARN with :* is the form IAM authorizes its actions
	// against
	// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html).
	for _, group := range []string{r.StreamerLogGroup, r.ForwarderLogGroup, r.PlannerLogGroup, r.ConverterLogGroup} {
		q.allow("read a function's error logs", "logs:FilterLogEvents", simARN("logs", "log-group:"+group+":*"))
	}
	out = append(out, q.checks...)
	return out
}

// TestPoliciesAllowWhatTheCodeDoes evaluates every request the functions
// and the ddbstream subcommands make, and the ones they must not be able
// to make, for a stack with a prefix and both customer managed keys, with
// no prefix and no keys, and with a nested prefix.
func TestPoliciesAllowWhatTheCodeDoes(t *testing.T) {
	sim := iamsim.Require(t)
	variants := []struct {
		name               string
		prefix             string
		bucketKey, tableKy bool
	}{
		{"prefix cdc, bucket and table keys", "cdc", true, true},
		{"no prefix, no keys", "", false, false},
		{"nested prefix, bucket key", "lake/cdc", true, false},
	}
	// One batch, one process, for all of them.
	var checks []iamsim.Check
	for _, v := range variants {
		r := deployed(v.prefix, v.bucketKey, v.tableKy)
		for _, c := range append(roleRequests(t, r), operatorRequests(t, r)...) {
			c.Name = v.name + ": " + c.Name
			checks = append(checks, c)
		}
	}
	t.Logf("%d requests evaluated", len(checks))
	sim.Expect(t, checks)
}
