// Package requestlog records every AWS request made at the local
// pipeline's endpoints, by principal, as the iam.Calls that
// internal/testing/authz evaluates against the deployed policies: which
// principal signed it, the service and operation (the SDK's names), the
// resource it names and the status it was answered with. A request is
// never dropped: one the Log cannot attribute is the principal
// Anonymous (unsigned) or UnknownKey+"<access key ID>", and one it cannot
// name has an Operation beginning with UnknownOperation and saying why,
// so that the evaluation fails on it rather than missing it.
//
// # Attribution
//
// Each principal signs with its own access key ID (New's map). The ID is
// the first part of the SigV4 credential, in the Authorization header
// (Credential=AKID/date/region/service/aws4_request) or a presigned URL's
// X-Amz-Credential. AccessKeyID gives it to an endpoint behind Handler,
// even after the rewrite below.
//
// # Protocols
//
// A request with X-Amz-Target is a JSON protocol (json.go):
// DynamoDB_20120810.* (dynamodb), DynamoDBStreams_20120810.*
// (dynamodbstreams), AmazonSQS.* (sqs), secretsmanager.*; the body, read
// and put back whole, names the resource: TableName (or TableArn),
// StreamArn, ExportArn, QueueUrl (QueueName for GetQueueUrl and
// CreateQueue), SecretId. BatchGetItem and BatchWriteItem are one Call
// per table of RequestItems, TransactGetItems and TransactWriteItems one
// per table of their items. GetRecords names its stream only through the
// shard iterator: DynamoDB Local's iterators begin with the stream's ARN
// and '|' (TestRewriteDynamoDBLocal reads them), which is where Stream
// comes from; an iterator that does not is recorded as unknown.
//
// Otherwise the credential scope's service picks the REST protocol: s3
// (s3.go: path style, /bucket/key?query, the key URL-decoded, VersionID
// from ?versionId, Prefix from a listing's ?prefix) or lambda (lambda.go).
// An unsigned request is Lambda's if its path is, S3's otherwise. S3
// bodies are never read: uploads of any size stream through.
//
// CopyObject and UploadPartCopy are two Calls: the operation on the
// destination, and a GetObject of the source named by x-amz-copy-source
// (with its versionId), since IAM authorizes a copy as a read of the
// source (s3:GetObject, or s3:GetObjectVersion for a version) and a write
// of the destination
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
// Every Call of a request gets the request's status.
//
// # Rewriting the access key ID
//
// versitygw and DynamoDB Local know one key, the servers' own: versitygw
// refuses any other (XAdminUserNotFound), and DynamoDB Local keeps a
// separate database per access key ID and region, so another key sees
// none of the tables. So every principal signs with its own access key
// ID but the servers' secret key, and Handler, given upstreamAccessKey,
// replaces the key ID inside the Authorization header's Credential
// (nothing else) before passing the request on. The signature stays
// valid: SigV4's string to sign is the algorithm, the request time, the
// credential scope (date/region/service/aws4_request) and the hash of
// the canonical request (method, path, query, signed headers, payload
// hash), and the signing key derives from the secret key, date, region
// and service; the access key ID is in none of them, and the
// Authorization header is not a signed header
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html,
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html).
// An aws-chunked upload's chunk signatures chain from the header's
// signature with the same scope and key, so they hold too
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
// A presigned URL's X-Amz-Credential is part of its canonical query
// string, so it is recorded but never rewritten
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
// TestRewriteVersity shows versitygw, which verifies signatures (chunk
// signatures too), accepts the rewritten requests, refuses them
// unrewritten and refuses a wrong secret or chunk signature; DynamoDB Local
// does not verify signatures, and TestRewriteDynamoDBLocal shows the
// rewrite reaches the servers' database.
//
// # Endpoints
//
// Handler wraps a local endpoint (it records, rewrites, then calls it);
// Proxy is a recording reverse proxy to a server (versitygw, DynamoDB
// Local's streams API) that forwards the request as signed: Host, path,
// query, headers and a streamed body. Add records calls AWS services make
// on a principal's behalf without any HTTP request here. Entries returns
// everything recorded.
package requestlog
