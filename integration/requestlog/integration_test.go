package requestlog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/integration"
	"github.com/ddbstream/pipeline/integration/requestlog"
	"github.com/ddbstream/pipeline/internal/testing/authz"
)

// requireTools finds the local servers, skipping the test without them
// unless INTEGRATION_REQUIRED is set.
func requireTools(t *testing.T) integration.Tools {
	t.Helper()
	tools, err := integration.FindTools("../..")
	if err != nil {
		if os.Getenv("INTEGRATION_REQUIRED") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return tools
}

// serverLog is a file for a server's output.
func serverLog(t *testing.T, name string) io.Writer {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// recordingProxy serves l.Proxy to upstream with upstreamKey.
func recordingProxy(t *testing.T, l *requestlog.Log, upstream, upstreamKey string) string {
	t.Helper()
	h, err := l.Proxy(upstream, upstreamKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// apiCode is an SDK error's API error code ("" if none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// signingAs signs with key and secret.
func signingAs(key, secret string) aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(key, secret, "")}
}

func s3Client(cfg aws.Config, endpoint string) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint); o.UsePathStyle = true })
}

// TestRewriteVersity signs S3 requests with a principal's own access key
// and the server's secret key: versitygw, which verifies signatures,
// takes them through the rewriting proxy, refuses them without the
// rewrite, and refuses a wrong secret even with it. The proxy records
// each request as the SDK names it.
func TestRewriteVersity(t *testing.T) {
	tools := requireTools(t)
	ctx := context.Background()
	events := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer events.Close()
	versity, err := integration.StartVersity(ctx, tools, t.TempDir(), events.URL, serverLog(t, "versitygw.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer versity.Stop()
	upstream := "http://" + versity.Addr

	l := requestlog.New(principals)
	endpoint := recordingProxy(t, l, upstream, integration.S3AccessKey)
	c := s3Client(signingAs("LOCALSTREAMER", integration.S3SecretKey), endpoint)
	const bucket, key = "cdc-local", "cdc/data/a b+c=d.json"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket through the rewrite: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("hello")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	// A body the SDK cannot seek, over HTTPS as in AWS: the SDK streams it
	// aws-chunked with a trailing checksum, unsigned.
	proxy, err := l.Proxy(upstream, integration.S3AccessKey)
	if err != nil {
		t.Fatal(err)
	}
	var payload string
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		payload = r.Header.Get("X-Amz-Content-Sha256") + " " + r.Header.Get("Content-Encoding")
		proxy.ServeHTTP(w, r)
	}))
	defer tlsSrv.Close()
	tlsClient := s3.NewFromConfig(signingAs("LOCALSTREAMER", integration.S3SecretKey), func(o *s3.Options) {
		o.BaseEndpoint, o.UsePathStyle, o.HTTPClient = aws.String(tlsSrv.URL), true, tlsSrv.Client()
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
	})
	streamed := bytes.Repeat([]byte("s"), 3<<20)
	if _, err := tlsClient.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("cdc/streamed"), Body: io.MultiReader(bytes.NewReader(streamed)),
		ContentLength: aws.Int64(int64(len(streamed)))}); err != nil {
		t.Fatalf("PutObject, streamed: %v", err)
	}
	if payload != "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked" {
		t.Errorf("the streamed PutObject was sent as %q, want an aws-chunked upload", payload)
	}
	// Signed chunks, each chained from the header's signature: they hold
	// through the rewrite too, and versitygw checks them.
	for _, corrupt := range []bool{false, true} {
		req := signedChunkedPut(t, endpoint+"/"+bucket+"/cdc/chunked", "LOCALSTREAMER", integration.S3SecretKey, []byte("signed chunks"), corrupt)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if ok := resp.StatusCode == 200; ok == corrupt {
			t.Errorf("signed aws-chunked PutObject (chunk signature spoiled: %v) answered %d %s", corrupt, resp.StatusCode, answer)
		}
	}
	for _, o := range []struct{ key, want string }{{key, "hello"}, {"cdc/chunked", "signed chunks"}} {
		k, want := o.key, o.want
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatalf("GetObject: %v", err)
		}
		body, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(body) != want {
			t.Errorf("GetObject %s read %q, want %q", k, body, want)
		}
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("cdc/missing")}); err == nil {
		t.Error("HeadObject of a missing key found it")
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("cdc/data/")})
	if err != nil || len(list.Contents) != 1 {
		t.Fatalf("ListObjectsV2: %v, %+v", err, list)
	}

	// A multipart upload: a 5 MiB part (the smallest but the last), which
	// the SDK sends after 100 Continue, and a last small one.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("cdc/multi")})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	var parts []s3types.CompletedPart
	for i, data := range [][]byte{bytes.Repeat([]byte("m"), 5<<20), []byte("end")} {
		n := int32(i + 1)
		p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("cdc/multi"), UploadId: up.UploadId,
			PartNumber: &n, Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", n, err)
		}
		parts = append(parts, s3types.CompletedPart{ETag: p.ETag, PartNumber: &n})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("cdc/multi"), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("cdc/multi")})
	if err != nil || aws.ToInt64(head.ContentLength) != 5<<20+3 {
		t.Fatalf("HeadObject of the multipart object: %v, %+v", err, head)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("cdc/copy"), CopySource: aws.String(bucket + "/cdc/multi")}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("cdc/copy")}); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}

	s3call := func(op, key string, status int) authz.Recorded {
		return authz.Recorded{Principal: "streamer", Call: iam.Call{Service: "s3", Operation: op, Bucket: bucket, Key: key, Status: status}}
	}
	listing := s3call("ListObjectsV2", "", 200)
	listing.Call.Prefix = "cdc/data/"
	copied := s3call("GetObject", "cdc/multi", 200)
	check(t, l, []authz.Recorded{
		s3call("CreateBucket", "", 200),
		s3call("PutObject", key, 200),
		s3call("PutObject", "cdc/streamed", 200),
		s3call("PutObject", "cdc/chunked", 200),
		s3call("PutObject", "cdc/chunked", 403),
		s3call("GetObject", key, 200),
		s3call("GetObject", "cdc/chunked", 200),
		s3call("HeadObject", "cdc/missing", 404),
		listing,
		s3call("CreateMultipartUpload", "cdc/multi", 200),
		s3call("UploadPart", "cdc/multi", 200),
		s3call("UploadPart", "cdc/multi", 200),
		s3call("CompleteMultipartUpload", "cdc/multi", 200),
		s3call("HeadObject", "cdc/multi", 200),
		s3call("CopyObject", "cdc/copy", 200), copied,
		s3call("DeleteObject", "cdc/copy", 204),
	})

	// Without the rewrite, versitygw does not know the principal's key.
	plain := requestlog.New(principals)
	_, err = s3Client(signingAs("LOCALSTREAMER", integration.S3SecretKey), recordingProxy(t, plain, upstream, "")).
		HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err == nil {
		t.Error("versitygw took a request signed with an access key it does not know: the rewrite proves nothing")
	}
	_, err = s3Client(signingAs("LOCALSTREAMER", integration.S3SecretKey), recordingProxy(t, plain, upstream, "")).
		ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	// versitygw's answer to an unknown key (AWS's is 403
	// InvalidAccessKeyId).
	if code := apiCode(err); code != "XAdminUserNotFound" {
		t.Errorf("unrewritten ListObjectsV2: %v (code %q), want XAdminUserNotFound", err, code)
	}
	// With the rewrite but another secret, the signature does not hold:
	// versitygw verifies it.
	_, err = s3Client(signingAs("LOCALSTREAMER", "not-the-secret"), recordingProxy(t, plain, upstream, integration.S3AccessKey)).
		ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if code := apiCode(err); code != "SignatureDoesNotMatch" {
		t.Errorf("rewritten ListObjectsV2 with a wrong secret: %v (code %q), want SignatureDoesNotMatch", err, code)
	}
	refused := func(op string, status int) authz.Recorded {
		return authz.Recorded{Principal: "streamer", Call: iam.Call{Service: "s3", Operation: op, Bucket: bucket, Status: status}}
	}
	head404 := refused("HeadObject", 404)
	head404.Call.Key = key
	check(t, plain, []authz.Recorded{head404, refused("ListObjectsV2", 404), refused("ListObjectsV2", 403)})
}

// TestRewriteDynamoDBLocal signs DynamoDB and DynamoDB Streams requests
// with a principal's own key: through the rewrite they reach the
// servers' database (DynamoDB Local keeps one per access key), and
// without it they do not. It also reads DynamoDB Local's shard
// iterators, which begin with the stream's ARN: GetRecords' stream.
func TestRewriteDynamoDBLocal(t *testing.T) {
	tools := requireTools(t)
	ctx := context.Background()
	ddb, err := integration.StartDynamoDBLocal(ctx, tools, serverLog(t, "dynamodb-local.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer ddb.Stop()
	upstream := "http://" + ddb.Addr

	l := requestlog.New(principals)
	endpoint := recordingProxy(t, l, upstream, integration.S3AccessKey)
	cfg := signingAs("LOCALSTREAMER", integration.S3SecretKey)
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	streams := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) })

	const table = "Orders"
	created, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: dtypes.BillingModePayPerRequest,
		AttributeDefinitions: []dtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: dtypes.ScalarAttributeTypeS}},
		KeySchema:            []dtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: dtypes.KeyTypeHash}},
		StreamSpecification:  &dtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: dtypes.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	stream := aws.ToString(created.TableDescription.LatestStreamArn)
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]dtypes.AttributeValue{"pk": &dtypes.AttributeValueMemberS{Value: "1"}}}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	scan, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil || scan.Count != 1 {
		t.Fatalf("Scan: %v, %+v", err, scan)
	}
	desc, err := streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: &stream})
	if err != nil || len(desc.StreamDescription.Shards) == 0 {
		t.Fatalf("DescribeStream: %v, %+v", err, desc)
	}
	it, err := streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: &stream, ShardId: desc.StreamDescription.Shards[0].ShardId,
		ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	// What GetRecords' Stream comes from (json.go).
	if iter := aws.ToString(it.ShardIterator); !strings.HasPrefix(iter, stream+"|") {
		t.Errorf("DynamoDB Local's shard iterator %q does not begin with the stream ARN %s and '|'", iter, stream)
	}
	recs, err := streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(recs.Records) != 1 {
		t.Fatalf("GetRecords: %v, %+v", err, recs)
	}
	if next := aws.ToString(recs.NextShardIterator); !strings.HasPrefix(next, stream+"|") {
		t.Errorf("DynamoDB Local's next shard iterator %q does not begin with the stream ARN", next)
	}

	call := func(c iam.Call) authz.Recorded { c.Status = 200; return authz.Recorded{Principal: "streamer", Call: c} }
	check(t, l, []authz.Recorded{
		call(iam.Call{Service: "dynamodb", Operation: "CreateTable", Table: table}),
		call(iam.Call{Service: "dynamodb", Operation: "PutItem", Table: table}),
		call(iam.Call{Service: "dynamodb", Operation: "Scan", Table: table}),
		call(iam.Call{Service: "dynamodbstreams", Operation: "DescribeStream", Stream: stream}),
		call(iam.Call{Service: "dynamodbstreams", Operation: "GetShardIterator", Stream: stream}),
		call(iam.Call{Service: "dynamodbstreams", Operation: "GetRecords", Stream: stream}),
	})

	// The servers' own key sees what the principal made through the
	// rewrite; the principal's key, unrewritten, has a database of its own
	// without the table.
	direct := dynamodb.NewFromConfig(signingAs(integration.S3AccessKey, integration.S3SecretKey), func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(upstream) })
	if _, err := direct.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err != nil {
		t.Errorf("the servers' key does not see the table made through the rewrite: %v", err)
	}
	plain := requestlog.New(principals)
	unrewritten := dynamodb.NewFromConfig(signingAs("LOCALBACKFILL", integration.S3SecretKey), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(recordingProxy(t, plain, upstream, ""))
	})
	_, err = unrewritten.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if code := apiCode(err); code != "ResourceNotFoundException" {
		t.Errorf("unrewritten DescribeTable: %v (code %q), want ResourceNotFoundException", err, code)
	}
	want := authz.Recorded{Principal: "backfill", Call: iam.Call{Service: "dynamodb", Operation: "DescribeTable", Table: table, Status: 400}}
	if got := plain.Entries(""); len(got) != 1 || got[0] != want {
		t.Errorf("recorded %+v, want %+v", got, want)
	}
}
