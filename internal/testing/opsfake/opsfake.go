// Package opsfake holds hand-written, in-memory stand-ins for the AWS
// calls the operator commands make (SQS queues, an S3 bucket, a Secrets
// Manager secret), with the SDK clients' exact signatures and the error
// shapes the SDK returns, so that the commands' tests run their real
// logic without AWS.
package opsfake

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// Queue is an SQS queue: messages hidden for their visibility timeout
// once received, deleted only with their latest receipt handle.
type Queue struct {
	mu       sync.Mutex
	URL      string
	messages []*message
	next     int
	// Deletes counts successful DeleteMessage calls; Receives the
	// ReceiveMessage calls, whose inputs are in ReceiveInputs.
	Deletes, Receives int
	ReceiveInputs     []sqs.ReceiveMessageInput
	// FailDelete, when set, fails every DeleteMessage.
	FailDelete error
}

type message struct {
	id, body, handle string
	attrs            map[string]string
	sent, visibleAt  time.Time
	receives         int
}

// NewQueue returns an empty queue answering at url.
func NewQueue(url string) *Queue { return &Queue{URL: url} }

// Send adds a message and returns its ID.
func (q *Queue) Send(body string) string { return q.SendWithAttributes(body, nil) }

// SendWithAttributes adds a message with string message attributes, as
// EventBridge sends a dead-letter queue its ERROR_CODE and ERROR_MESSAGE,
// and returns its ID.
func (q *Queue) SendWithAttributes(body string, attrs map[string]string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.next++
	id := fmt.Sprintf("msg-%04d", q.next)
	q.messages = append(q.messages, &message{id: id, body: body, attrs: attrs, sent: time.Now()})
	return id
}

// Bodies returns the bodies of the messages in the queue, visible or not.
func (q *Queue) Bodies() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, m := range q.messages {
		out = append(out, m.body)
	}
	return out
}

// Visible counts the messages a receive would see now.
func (q *Queue) Visible() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, m := range q.messages {
		if !time.Now().Before(m.visibleAt) {
			n++
		}
	}
	return n
}

func (q *Queue) check(url *string) error {
	if aws.ToString(url) != q.URL {
		return &sqstypes.QueueDoesNotExist{Message: aws.String("The specified queue does not exist.")}
	}
	return nil
}

// ReceiveMessage implements the SQS call.
func (q *Queue) ReceiveMessage(_ context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.Receives++
	q.ReceiveInputs = append(q.ReceiveInputs, *in)
	if err := q.check(in.QueueUrl); err != nil {
		return nil, err
	}
	limit := int(in.MaxNumberOfMessages)
	if limit <= 0 {
		limit = 1
	}
	vis := time.Duration(in.VisibilityTimeout) * time.Second
	if in.VisibilityTimeout == 0 {
		vis = 30 * time.Second
	}
	now := time.Now()
	out := &sqs.ReceiveMessageOutput{}
	for _, m := range q.messages {
		if len(out.Messages) == limit {
			break
		}
		if now.Before(m.visibleAt) {
			continue
		}
		m.receives++
		m.visibleAt = now.Add(vis)
		m.handle = fmt.Sprintf("%s-r%d", m.id, m.receives)
		sum := md5.Sum([]byte(m.body))
		out.Messages = append(out.Messages, sqstypes.Message{
			MessageId: aws.String(m.id), ReceiptHandle: aws.String(m.handle), Body: aws.String(m.body),
			MD5OfBody: aws.String(hex.EncodeToString(sum[:])),
			Attributes: map[string]string{
				"SentTimestamp":           strconv.FormatInt(m.sent.UnixMilli(), 10),
				"ApproximateReceiveCount": strconv.Itoa(m.receives),
			},
			MessageAttributes: messageAttributes(m.attrs, in.MessageAttributeNames),
		})
	}
	return out, nil
}

// messageAttributes are the attributes a receive asked for by name, or
// all of them for "All", as SQS returns them.
func messageAttributes(attrs map[string]string, names []string) map[string]sqstypes.MessageAttributeValue {
	out := map[string]sqstypes.MessageAttributeValue{}
	for k, v := range attrs {
		if slices.Contains(names, k) || slices.Contains(names, "All") {
			out[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (q *Queue) byHandle(handle *string) (int, error) {
	for i, m := range q.messages {
		if m.handle != "" && m.handle == aws.ToString(handle) {
			return i, nil
		}
	}
	return 0, &sqstypes.ReceiptHandleIsInvalid{Message: aws.String("The input receipt handle is invalid.")}
}

// DeleteMessage implements the SQS call.
func (q *Queue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.check(in.QueueUrl); err != nil {
		return nil, err
	}
	if q.FailDelete != nil {
		return nil, q.FailDelete
	}
	i, err := q.byHandle(in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	q.messages = slices.Delete(q.messages, i, i+1)
	q.Deletes++
	return &sqs.DeleteMessageOutput{}, nil
}

// ChangeMessageVisibility implements the SQS call.
func (q *Queue) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := q.check(in.QueueUrl); err != nil {
		return nil, err
	}
	i, err := q.byHandle(in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	q.messages[i].visibleAt = time.Now().Add(time.Duration(in.VisibilityTimeout) * time.Second)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// GetQueueAttributes implements the SQS call for the message counts.
func (q *Queue) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	if err := q.check(in.QueueUrl); err != nil {
		return nil, err
	}
	visible := q.Visible()
	q.mu.Lock()
	defer q.mu.Unlock()
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(len(q.messages) - visible),
		"QueueArn":                              "arn:aws:sqs:eu-west-1:123456789012:" + q.URL[strings.LastIndexByte(q.URL, '/')+1:],
	}}, nil
}

// Queues routes SQS calls to several queues by their URL.
type Queues map[string]*Queue

func (qs Queues) get(url *string) (*Queue, error) {
	q, ok := qs[aws.ToString(url)]
	if !ok {
		return nil, &sqstypes.QueueDoesNotExist{Message: aws.String("The specified queue does not exist.")}
	}
	return q, nil
}

// ReceiveMessage implements the SQS call.
func (qs Queues) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, o ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	q, err := qs.get(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return q.ReceiveMessage(ctx, in, o...)
}

// DeleteMessage implements the SQS call.
func (qs Queues) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	q, err := qs.get(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return q.DeleteMessage(ctx, in, o...)
}

// ChangeMessageVisibility implements the SQS call.
func (qs Queues) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, o ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q, err := qs.get(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return q.ChangeMessageVisibility(ctx, in, o...)
}

// GetQueueAttributes implements the SQS call.
func (qs Queues) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, o ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	q, err := qs.get(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	return q.GetQueueAttributes(ctx, in, o...)
}

// Bucket is an S3 bucket: conditional puts (If-None-Match: * answers
// 412 PreconditionFailed), reads by If-Match, HEAD, and listing.
type Bucket struct {
	mu      sync.Mutex
	Name    string
	objects map[string][]byte
	// Puts counts accepted puts; Conflicts lists keys answered 412.
	Puts      int
	Conflicts []string
	// FailPut, when set, decides the error of a put of key.
	FailPut func(key string) error
}

// NewBucket returns an empty bucket.
func NewBucket(name string) *Bucket { return &Bucket{Name: name, objects: map[string][]byte{}} }

// Put stores an object directly, as a test's setup.
func (b *Bucket) Put(key string, body []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key] = body
}

// Object returns an object's content.
func (b *Bucket) Object(key string) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.objects[key]
	return o, ok
}

// Keys lists the bucket's keys, sorted.
func (b *Bucket) Keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var keys []string
	for k := range b.objects {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ETag is the object's ETag, the MD5 of its content (no quotes).
func ETag(body []byte) string {
	sum := md5.Sum(body)
	return hex.EncodeToString(sum[:])
}

func (b *Bucket) check(bucket *string) error {
	if aws.ToString(bucket) != b.Name {
		return &smithy.GenericAPIError{Code: "NoSuchBucket", Message: "The specified bucket does not exist"}
	}
	return nil
}

// PutObject implements the S3 call.
func (b *Bucket) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.check(in.Bucket); err != nil {
		return nil, err
	}
	key := aws.ToString(in.Key)
	if b.FailPut != nil {
		if err := b.FailPut(key); err != nil {
			return nil, err
		}
	}
	if _, ok := b.objects[key]; ok && aws.ToString(in.IfNoneMatch) == "*" {
		b.Conflicts = append(b.Conflicts, key)
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	b.objects[key] = body
	b.Puts++
	return &s3.PutObjectOutput{ETag: aws.String(`"` + ETag(body) + `"`)}, nil
}

// GetObject implements the S3 call.
func (b *Bucket) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.check(in.Bucket); err != nil {
		return nil, err
	}
	body, ok := b.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NoSuchKey{Message: aws.String("The specified key does not exist.")}
	}
	etag := `"` + ETag(body) + `"`
	if m := aws.ToString(in.IfMatch); m != "" && m != etag {
		return nil, &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: aws.Int64(int64(len(body))), ETag: aws.String(etag)}, nil
}

// HeadObject implements the S3 call.
func (b *Bucket) HeadObject(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.check(in.Bucket); err != nil {
		return nil, err
	}
	body, ok := b.objects[aws.ToString(in.Key)]
	if !ok {
		return nil, &s3types.NotFound{Message: aws.String("Not Found")}
	}
	return &s3.HeadObjectOutput{ContentLength: aws.Int64(int64(len(body))), ETag: aws.String(`"` + ETag(body) + `"`)}, nil
}

// ListObjectsV2 implements the S3 call: keys under Prefix after
// StartAfter or the continuation token, MaxKeys (1000) a page.
func (b *Bucket) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if err := b.check(in.Bucket); err != nil {
		return nil, err
	}
	keys := b.Keys()
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := int(aws.ToInt32(in.MaxKeys))
	if limit <= 0 {
		limit = 1000
	}
	after := aws.ToString(in.StartAfter)
	if t := aws.ToString(in.ContinuationToken); t != "" {
		after = t
	}
	out := &s3.ListObjectsV2Output{Prefix: in.Prefix}
	for _, k := range keys {
		if !strings.HasPrefix(k, aws.ToString(in.Prefix)) || k <= after {
			continue
		}
		if len(out.Contents) == limit {
			out.IsTruncated = aws.Bool(true)
			out.NextContinuationToken = out.Contents[len(out.Contents)-1].Key
			break
		}
		body := b.objects[k]
		out.Contents = append(out.Contents, s3types.Object{Key: aws.String(k), Size: aws.Int64(int64(len(body))),
			ETag: aws.String(`"` + ETag(body) + `"`), LastModified: aws.Time(time.Now())})
	}
	out.KeyCount = aws.Int32(int32(len(out.Contents)))
	return out, nil
}

// Secret is Secrets Manager holding one secret string.
type Secret struct {
	mu    sync.Mutex
	value string
	// Err, when set, fails every read.
	Err error
	// Reads counts GetSecretValue calls.
	Reads int
}

// NewSecret returns a secret holding value.
func NewSecret(value string) *Secret { return &Secret{value: value} }

// Set replaces the value.
func (s *Secret) Set(v string) { s.mu.Lock(); s.value = v; s.mu.Unlock() }

// GetSecretValue implements the Secrets Manager call.
func (s *Secret) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Reads++
	if s.Err != nil {
		return nil, s.Err
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: aws.String(s.value)}, nil
}

// Function is a deployed function's configuration, as
// GetFunctionConfiguration returns it.
type Function struct {
	ARN, Role, LogGroup string
	Env                 map[string]string
}

// Functions is Lambda's view of deployed functions, by name.
type Functions map[string]Function

// GetFunctionConfiguration implements the Lambda call.
func (fs Functions) GetFunctionConfiguration(_ context.Context, in *lambda.GetFunctionConfigurationInput, _ ...func(*lambda.Options)) (*lambda.GetFunctionConfigurationOutput, error) {
	name := aws.ToString(in.FunctionName)
	f, ok := fs[name]
	if !ok {
		return nil, &lambdatypes.ResourceNotFoundException{Message: aws.String("Function not found: " + name)}
	}
	out := &lambda.GetFunctionConfigurationOutput{FunctionName: aws.String(name), FunctionArn: aws.String(f.ARN), Role: aws.String(f.Role),
		Environment: &lambdatypes.EnvironmentResponse{Variables: f.Env}}
	if f.LogGroup != "" {
		out.LoggingConfig = &lambdatypes.LoggingConfig{LogGroup: aws.String(f.LogGroup), LogFormat: lambdatypes.LogFormatJson}
	}
	return out, nil
}
