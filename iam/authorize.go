package iam

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Operation is how IAM authorizes one API operation: an entry of
// OperationActions. An API call can need more than its own action, and
// which depends on the call: Deployment.Authorize applies the fields.
type Operation struct {
	// Actions are the IAM actions every call of the operation needs.
	Actions []string
	// Versioned replaces Actions when the call names an object version
	// (S3 VersionId).
	Versioned []string
	// NotFound are evaluated as well when the call answers 404: S3
	// answers a read of a missing key with 404 only to a caller allowed
	// s3:ListBucket, and with 403 to any other.
	NotFound []string
	// Key are the KMS actions the service calls with the caller's
	// permissions on the customer managed key protecting what the call
	// touches: the bucket's (Deployment.BucketKeys), the table's and so
	// its stream's (TableKeys), the secret's (SecretKeys).
	Key []string
}

// Needs are the actions a principal whose code makes the call must be
// granted for the code to work as written: its actions, and the listing
// that lets it tell a missing key (404) from a denied one (403).
// Versioned is a separate question (VersionReaders), and so is Key (the
// key may be S3-managed).
func (o Operation) Needs() []string {
	return append(append([]string(nil), o.Actions...), o.NotFound...)
}

// A resourceKind builds the ARN an action is authorized on from a call,
// following the action's resource type in the Service Authorization
// Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
type resourceKind func(d Deployment, c Call) (string, error)

// actionResources gives each action of OperationActions the kind of
// resource AWS authorizes it on. Actions that support no resource type
// are authorized on "*".
var actionResources = map[string]resourceKind{
	"s3:GetObject":             s3Object,
	"s3:GetObjectVersion":      s3Object,
	"s3:PutObject":             s3Object,
	"s3:AbortMultipartUpload":  s3Object,
	"s3:DeleteObject":          s3Object,
	"s3:DeleteObjectVersion":   s3Object,
	"s3:ListBucket":            s3Bucket,
	"s3:GetBucketNotification": s3Bucket,
	"s3:CreateBucket":          s3Bucket,

	"dynamodb:Scan":                      dynamoTable,
	"dynamodb:Query":                     dynamoTable,
	"dynamodb:GetItem":                   dynamoTable,
	"dynamodb:BatchGetItem":              dynamoTable,
	"dynamodb:PutItem":                   dynamoTable,
	"dynamodb:UpdateItem":                dynamoTable,
	"dynamodb:DeleteItem":                dynamoTable,
	"dynamodb:BatchWriteItem":            dynamoTable,
	"dynamodb:DescribeTable":             dynamoTable,
	"dynamodb:CreateTable":               dynamoTable,
	"dynamodb:UpdateTable":               dynamoTable,
	"dynamodb:DescribeContinuousBackups": dynamoTable,
	"dynamodb:UpdateContinuousBackups":   dynamoTable,
	"dynamodb:ExportTableToPointInTime":  dynamoTable,
	"dynamodb:DescribeExport":            dynamoExport,
	"dynamodb:DescribeStream":            dynamoStream,
	"dynamodb:GetShardIterator":          dynamoStream,
	"dynamodb:GetRecords":                dynamoStream,
	// ListStreams supports no resource type. ListExports has an optional
	// table resource type, but a call lists the account's exports (the
	// table is an optional filter) and AWS does not document which ARN
	// it authorizes a filtered call on (WildcardResources).
	"dynamodb:ListStreams": anyResource,
	"dynamodb:ListExports": anyResource,

	"sqs:SendMessage":             sqsQueue,
	"sqs:ReceiveMessage":          sqsQueue,
	"sqs:DeleteMessage":           sqsQueue,
	"sqs:ChangeMessageVisibility": sqsQueue,
	"sqs:GetQueueAttributes":      sqsQueue,
	"sqs:GetQueueUrl":             sqsQueue,
	"sqs:CreateQueue":             sqsQueue,

	"lambda:InvokeFunction":           lambdaFunction,
	"lambda:GetFunctionConfiguration": lambdaFunction,
	"lambda:GetPolicy":                lambdaFunction,
	// "GetEventSourceMapping, ListEventSourceMappings: *"
	// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html).
	"lambda:ListEventSourceMappings": anyResource,

	"secretsmanager:GetSecretValue":  secret,
	"cloudformation:DescribeStacks":  cloudFormationStack,
	"cloudwatch:GetMetricStatistics": anyResource,

	"logs:FilterLogEvents": logGroup,
	"logs:CreateLogStream": logStream,
	"logs:PutLogEvents":    logStream,

	"events:DescribeRule":          eventsRule,
	"events:ListTargetsByRule":     eventsRule,
	"iam:GetRolePolicy":            iamRole,
	"iam:ListRolePolicies":         iamRole,
	"iam:ListAttachedRolePolicies": iamRole,
}

// tlsVersion is the s3:TlsVersion of the SDK's requests: "S3
// automatically negotiates the strongest TLS protection supported by
// your client software ... the AWS SDKs ... automatically default to TLS
// 1.3" (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingEncryptionInTransit.html).
// The bucket denies anything below 1.2 (infra's minimumTLSVersion).
const tlsVersion = "1.3"

// Authorize returns the IAM requests AWS evaluates for one API call: the
// call's own actions on the resource it names, with the condition keys
// AWS sets, and the requests the service makes with the caller's
// permissions on its behalf (KMS, and the listing behind a 404).
func (d Deployment) Authorize(c Call) ([]Authorization, error) {
	name := c.Service + ":" + c.Operation
	op, ok := OperationActions[name]
	if !ok {
		return nil, fmt.Errorf("no IAM mapping for %s", name)
	}
	if d.Partition == "" || d.Region == "" || d.Account == "" {
		return nil, fmt.Errorf("%s: the deployment needs a partition, region and account, got %q, %q, %q", name, d.Partition, d.Region, d.Account)
	}
	actions := op.Actions
	if c.VersionID != "" && op.Versioned != nil {
		actions = op.Versioned
	}
	var out []Authorization
	for _, a := range actions {
		au, err := d.own(name, a, c)
		if err != nil {
			return nil, err
		}
		if a == "s3:ListBucket" && c.Prefix != "" {
			au.Context["s3:prefix"] = c.Prefix
		}
		out = append(out, au)
	}
	if c.Status == 404 && len(op.NotFound) > 0 {
		// S3 evaluates s3:ListBucket on the bucket to choose between 404
		// and 403 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html,
		// API_HeadObject.html: "If you have the s3:ListBucket permission on
		// the bucket, Amazon S3 returns an HTTP status code 404 Not Found
		// error"). AWS does not document the s3:prefix it sets: the key,
		// as Ceph's RGW does "to match aws behavior"
		// (https://github.com/ceph/ceph/pull/68577), and as a user found
		// AWS evaluate it (https://github.com/kopia/kopia/pull/3072).
		// Nothing is read, so nothing is decrypted.
		for _, a := range op.NotFound {
			au, err := d.own(name, a, c)
			if err != nil {
				return nil, err
			}
			au.Context["s3:prefix"] = c.Key
			au.Why = "S3 answers a read of a missing key with 404 rather than 403 only to a caller allowed s3:ListBucket"
			out = append(out, au)
		}
		return out, nil
	}
	if len(op.Key) == 0 {
		return out, nil
	}
	keys, err := d.keyRequests(name, c)
	if err != nil {
		return nil, err
	}
	if keys.arn == "" {
		return out, nil
	}
	for _, a := range op.Key {
		ctx := make(map[string]any, len(keys.context))
		for k, v := range keys.context {
			ctx[k] = v
		}
		out = append(out, Authorization{Action: a, Resource: keys.arn, Context: ctx, Why: keys.why})
	}
	return out, nil
}

// own is one of the call's own actions on its resource, with the
// condition keys AWS sets on every request of the caller's.
func (d Deployment) own(name, action string, c Call) (Authorization, error) {
	kind, ok := actionResources[action]
	if !ok {
		return Authorization{}, fmt.Errorf("%s: no resource type known for %s", name, action)
	}
	res, err := kind(d, c)
	if err != nil {
		return Authorization{}, fmt.Errorf("%s: %w", name, err)
	}
	// aws:SecureTransport: the SDK calls every endpoint over HTTPS, and
	// the key "is always included in the request context"
	// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-securetransport).
	ctx := map[string]any{"aws:SecureTransport": "true"}
	if strings.HasPrefix(action, "s3:") {
		ctx["s3:TlsVersion"] = tlsVersion
	}
	if c.SourceARN != "" {
		// A service principal acting for a resource (an EventBridge rule
		// invoking a function or sending to its dead-letter queue) sets
		// the resource's ARN and its account
		// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-sourcearn).
		ctx["aws:SourceArn"] = c.SourceARN
		if acct := ARNAccount(c.SourceARN); acct != "" {
			ctx["aws:SourceAccount"] = acct
		} else {
			ctx["aws:SourceAccount"] = d.Account
		}
	}
	return Authorization{Action: action, Resource: res, Context: ctx}, nil
}

// keyUse is the key a service uses with the caller's permissions for a
// call, with the condition keys KMS sees; arn is empty when the resource
// has no customer managed key.
type keyUse struct {
	arn     string
	context map[string]any
	why     string
}

func (d Deployment) viaService(service string) string {
	return service + "." + d.Region + ".amazonaws.com"
}

// keyRequests is the key the service uses for the call, if any. KMS sees
// kms:ViaService, the service's endpoint in the region
// (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
// The encryption context the services set is left out: S3 with Bucket
// Keys, as infra enables them, sets aws:s3:arn to the bucket's ARN
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html#bucket-key-policies),
// DynamoDB aws:dynamodb:tableName and aws:dynamodb:subscriberId
// (https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html#dynamodb-encryption-context),
// Secrets Manager SecretARN and SecretVersionId
// (https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html),
// but the simulator (internal/testing/iamsim) cannot evaluate
// kms:EncryptionContext:<key> condition keys (it ignores them), and no
// policy of the project's conditions on them.
func (d Deployment) keyRequests(name string, c Call) (keyUse, error) {
	switch c.Service {
	case "s3":
		if c.Bucket == "" {
			return keyUse{}, fmt.Errorf("%s: the call names no Bucket", name)
		}
		k := d.BucketKeys[c.Bucket]
		if k == "" {
			return keyUse{}, nil
		}
		// S3 calls KMS with the caller's permissions: "To upload an
		// object encrypted with an AWS KMS key ... you need
		// kms:GenerateDataKey ... To download ... kms:Decrypt"
		// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html);
		// for a multipart upload, GenerateDataKey on
		// CreateMultipartUpload and Decrypt on UploadPart
		// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html),
		// and Decrypt on CompleteMultipartUpload with additional
		// checksums, which the code sends (CRC32C)
		// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html).
		return keyUse{arn: k, why: "S3 uses the bucket's KMS key (SSE-KMS) with the caller's permissions",
			context: map[string]any{"kms:ViaService": d.viaService("s3")}}, nil
	case "dynamodb", "dynamodbstreams":
		var table string
		var err error
		if c.Stream != "" {
			_, table, err = d.dynamoARN("Stream", c.Stream, streamResource)
		} else {
			_, table, err = d.tableARN(c.Table)
		}
		if err != nil {
			return keyUse{}, fmt.Errorf("%s: %w", name, err)
		}
		k := d.TableKeys[table]
		if k == "" {
			return keyUse{}, nil
		}
		// "When you access an encrypted DynamoDB table, DynamoDB needs to
		// decrypt the table key ... The user is the principal in your AWS
		// account who is accessing the table"
		// (https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html);
		// a stream is encrypted with its table's key
		// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html);
		// an export uses the key "through the IAM User/Role that
		// triggers the export job"
		// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport_Requesting.html).
		return keyUse{arn: k, why: "DynamoDB decrypts the table key of a table with a customer managed key with the caller's permissions",
			context: map[string]any{"kms:ViaService": d.viaService("dynamodb")}}, nil
	case "secretsmanager":
		arn, err := secret(d, c)
		if err != nil {
			return keyUse{}, fmt.Errorf("%s: %w", name, err)
		}
		k := d.SecretKeys[arn]
		if k == "" {
			return keyUse{}, nil
		}
		// "If the secret is encrypted using a customer-managed key ...
		// then you also need kms:Decrypt permissions for that key"
		// (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html).
		return keyUse{arn: k, why: "Secrets Manager decrypts the secret with its customer managed key with the caller's permissions",
			context: map[string]any{"kms:ViaService": d.viaService("secretsmanager")}}, nil
	}
	return keyUse{}, fmt.Errorf("%s: no KMS key known for service %s", name, c.Service)
}

func anyResource(Deployment, Call) (string, error) { return "*", nil }

func (d Deployment) arn(service, rest string) string {
	return "arn:" + d.Partition + ":" + service + ":" + d.Region + ":" + d.Account + ":" + rest
}

func s3Bucket(d Deployment, c Call) (string, error) {
	if c.Bucket == "" {
		return "", fmt.Errorf("the call names no Bucket")
	}
	return "arn:" + d.Partition + ":s3:::" + c.Bucket, nil
}

func s3Object(d Deployment, c Call) (string, error) {
	b, err := s3Bucket(d, c)
	if err != nil {
		return "", err
	}
	if c.Key == "" {
		return "", fmt.Errorf("the call names no object Key")
	}
	return b + "/" + c.Key, nil
}

// DynamoDB resources under a table: table/<name>, table/<name>/stream/<label>,
// table/<name>/export/<id>.
var (
	tableResource  = regexp.MustCompile(`^table/([^/]+)$`)
	streamResource = regexp.MustCompile(`^table/([^/]+)/stream/[^/]+$`)
	exportResource = regexp.MustCompile(`^table/([^/]+)/export/[^/]+$`)
)

// ddbLocal is the region DynamoDB Local puts in its ARNs, with its own
// account: they stand for the deployment's.
const ddbLocal = "ddblocal"

// dynamoARN checks a DynamoDB ARN given in a call's field against the
// resource form want and returns it, with DynamoDB Local's region and
// account replaced by the deployment's, and the table's name.
func (d Deployment) dynamoARN(field, arn string, want *regexp.Regexp) (string, string, error) {
	if arn == "" {
		return "", "", fmt.Errorf("the call names no %s", field)
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "dynamodb" {
		return "", "", fmt.Errorf("the call's %s %q is not a DynamoDB ARN", field, arn)
	}
	m := want.FindStringSubmatch(parts[5])
	if m == nil {
		return "", "", fmt.Errorf("the call's %s %q: want a resource like %s", field, arn, want)
	}
	if parts[3] == ddbLocal {
		return d.arn("dynamodb", parts[5]), m[1], nil
	}
	return arn, m[1], nil
}

// tableARN is a table's ARN from its name or ARN, and its name.
func (d Deployment) tableARN(table string) (string, string, error) {
	if strings.HasPrefix(table, "arn:") {
		return d.dynamoARN("Table", table, tableResource)
	}
	if table == "" || strings.ContainsAny(table, "/:") {
		return "", "", fmt.Errorf("the call names no Table (got %q)", table)
	}
	return d.arn("dynamodb", "table/"+table), table, nil
}

func dynamoTable(d Deployment, c Call) (string, error) {
	arn, _, err := d.tableARN(c.Table)
	return arn, err
}

func dynamoStream(d Deployment, c Call) (string, error) {
	arn, _, err := d.dynamoARN("Stream", c.Stream, streamResource)
	return arn, err
}

func dynamoExport(d Deployment, c Call) (string, error) {
	arn, _, err := d.dynamoARN("Export", c.Export, exportResource)
	return arn, err
}

// sqsQueue is a queue's ARN from its URL, https://<host>/<account>/<name>
// (the local endpoint's http://127.0.0.1:<port>/<account>/<name> too),
// or from its name (GetQueueUrl, CreateQueue name the queue), in the
// deployment's account.
func sqsQueue(d Deployment, c Call) (string, error) {
	if c.Queue == "" {
		return "", fmt.Errorf("the call names no Queue")
	}
	if !strings.Contains(c.Queue, "/") {
		return d.arn("sqs", c.Queue), nil
	}
	u, err := url.Parse(c.Queue)
	if err != nil {
		return "", fmt.Errorf("the call's Queue %q: %w", c.Queue, err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if u.Host == "" || len(parts) != 2 || !accountID.MatchString(parts[0]) || parts[1] == "" {
		return "", fmt.Errorf("the call's Queue %q is not a queue URL (https://<host>/<account>/<name>)", c.Queue)
	}
	return "arn:" + d.Partition + ":sqs:" + d.Region + ":" + parts[0] + ":" + parts[1], nil
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// lambdaFunction is a function's ARN from a name (my-function), a
// partial ARN (123456789012:function:my-function) or an ARN, each with
// an optional version or alias. The qualifier is kept: Invoke is
// authorized on the function, version or alias it names
// (https://docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html),
// and a permission given for a qualifier needs "the full Amazon Resource
// Name (ARN) of that version or alias"
// (https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html).
func lambdaFunction(d Deployment, c Call) (string, error) {
	f := c.Function
	switch parts := strings.Split(f, ":"); {
	case f == "":
		return "", fmt.Errorf("the call names no Function")
	case strings.HasPrefix(f, "arn:"):
		if len(parts) < 7 || len(parts) > 8 || parts[2] != "lambda" || parts[5] != "function" || parts[6] == "" {
			return "", fmt.Errorf("the call's Function %q is not a Lambda function ARN", f)
		}
		return f, nil
	case len(parts) >= 3 && parts[1] == "function":
		if len(parts) > 4 || !accountID.MatchString(parts[0]) || parts[2] == "" {
			return "", fmt.Errorf("the call's Function %q is not a partial function ARN (<account>:function:<name>)", f)
		}
		return "arn:" + d.Partition + ":lambda:" + d.Region + ":" + f, nil
	case len(parts) <= 2 && parts[0] != "":
		return d.arn("lambda", "function:"+f), nil
	}
	return "", fmt.Errorf("the call's Function %q is no function name or ARN", f)
}

// secret is a secret's ARN: by name from the deployment, or as given,
// completed from the deployment's when it is a partial ARN (without the
// "-" and six random characters Secrets Manager ends an ARN with,
// https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
func secret(d Deployment, c Call) (string, error) {
	if c.Secret == "" {
		return "", fmt.Errorf("the call names no Secret")
	}
	if strings.HasPrefix(c.Secret, "arn:") {
		for _, full := range d.Secrets {
			if len(full) == len(c.Secret)+7 && strings.HasPrefix(full, c.Secret+"-") {
				return full, nil
			}
		}
		return c.Secret, nil
	}
	arn, ok := d.Secrets[c.Secret]
	if !ok {
		return "", fmt.Errorf("the call's Secret %q: the deployment knows no secret by that name", c.Secret)
	}
	return arn, nil
}

// cloudFormationStack is a stack's ID (its ARN) as given, or, for a
// name, the ARN of any stack of that name (stack/<name>/*): the unique
// ID a stack's ARN ends with is not in the call. Without a name,
// DescribeStacks describes every stack.
func cloudFormationStack(d Deployment, c Call) (string, error) {
	switch {
	case c.Stack == "":
		return "*", nil
	case strings.HasPrefix(c.Stack, "arn:"):
		return c.Stack, nil
	}
	return d.arn("cloudformation", "stack/"+c.Stack+"/*"), nil
}

// logGroup is a log group's ARN in the form IAM authorizes its actions
// on: "Use the second version, with the trailing :*, to refer to the ARN
// when specifying permissions in IAM policies for all other API actions"
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html).
func logGroup(d Deployment, c Call) (string, error) {
	if c.LogGroup == "" {
		return "", fmt.Errorf("the call names no LogGroup")
	}
	return d.arn("logs", "log-group:"+c.LogGroup+":*"), nil
}

// logStream is a log stream's ARN: CreateLogStream and PutLogEvents are
// authorized on the log stream (resource type log-stream).
func logStream(d Deployment, c Call) (string, error) {
	if c.LogGroup == "" || c.LogStream == "" {
		return "", fmt.Errorf("the call names no LogGroup and LogStream (got %q, %q)", c.LogGroup, c.LogStream)
	}
	return d.arn("logs", "log-group:"+c.LogGroup+":log-stream:"+c.LogStream), nil
}

func eventsRule(Deployment, Call) (string, error) {
	return "", fmt.Errorf("iam.Call has no field for the rule's name")
}

func iamRole(Deployment, Call) (string, error) {
	return "", fmt.Errorf("iam.Call has no field for the role's name")
}

// ARNAccount is an ARN's account field, empty if it has none.
func ARNAccount(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[4]
}
