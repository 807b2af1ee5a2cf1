package converter

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// fakeS3 is an in-memory bucket with S3's semantics for what the
// converter relies on: conditional PutObject and CompleteMultipartUpload
// (412 PreconditionFailed on a taken key), multipart uploads whose parts
// are invisible until completed, part size minimum, abort, and NoSuchKey
// and NoSuchUpload. Hooks inject faults.
type fakeS3 struct {
	mu       sync.Mutex
	sources  map[string][]byte // the export's data files, by bucket/key
	objects  map[string]*stored
	uploads  map[string]*fakeUpload
	nextID   int
	calls    []string
	minPart  int
	partsPut int

	// uploadPartErr, if set, may fail the n'th UploadPart of the fake's
	// life (counting from 1).
	uploadPartErr func(n int) error
	// completeErr, if set, may fail the n'th CompleteMultipartUpload
	// before it takes effect.
	completeErr func(n int) error
	completes   int
}

type stored struct {
	body        []byte
	contentType string
	encoding    string
	metadata    map[string]string
	sse         string
	kmsKey      string
	bucketKey   bool
	checksum    string
	multipart   bool
}

type fakeUpload struct {
	key   string
	meta  stored
	parts map[int32][]byte
}

func newFakeS3() *fakeS3 {
	return &fakeS3{sources: map[string][]byte{}, objects: map[string]*stored{}, uploads: map[string]*fakeUpload{}, minPart: MinPartSize}
}

func apiError(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func (f *fakeS3) call(op string) {
	f.calls = append(f.calls, op)
}

// callCount counts the calls of op.
func (f *fakeS3) callCount(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

func (f *fakeS3) object(key string) (*stored, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[key]
	return o, ok
}

func (f *fakeS3) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.objects {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (f *fakeS3) openUploads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.uploads)
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("GetObject")
	b, ok := f.sources[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, apiError("NoSuchKey", "The specified key does not exist.")
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b)), ContentLength: aws.Int64(int64(len(b)))}, nil
}

// The writes fail once their context is done, as the SDK fails an
// operation whose context ended before it was sent: a converter that goes
// on after its deadline must not find its writes succeed.

func (f *fakeS3) PutObject(ctx context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("PutObject")
	key := aws.ToString(in.Key)
	if _, taken := f.objects[key]; taken && aws.ToString(in.IfNoneMatch) == "*" {
		return nil, apiError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	f.objects[key] = &stored{body: body, contentType: aws.ToString(in.ContentType), encoding: aws.ToString(in.ContentEncoding),
		metadata: in.Metadata, sse: string(in.ServerSideEncryption), kmsKey: aws.ToString(in.SSEKMSKeyId),
		bucketKey: aws.ToBool(in.BucketKeyEnabled), checksum: string(in.ChecksumAlgorithm)}
	return &s3.PutObjectOutput{}, nil
}

func (f *fakeS3) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("CreateMultipartUpload")
	f.nextID++
	id := "upload-" + strconv.Itoa(f.nextID)
	f.uploads[id] = &fakeUpload{key: aws.ToString(in.Key), parts: map[int32][]byte{}, meta: stored{
		contentType: aws.ToString(in.ContentType), encoding: aws.ToString(in.ContentEncoding), metadata: in.Metadata,
		sse: string(in.ServerSideEncryption), kmsKey: aws.ToString(in.SSEKMSKeyId), bucketKey: aws.ToBool(in.BucketKeyEnabled),
		checksum: string(in.ChecksumAlgorithm), multipart: true}}
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String(id)}, nil
}

func (f *fakeS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(in.Body)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("UploadPart")
	f.partsPut++
	if f.uploadPartErr != nil {
		if err := f.uploadPartErr(f.partsPut); err != nil {
			return nil, err
		}
	}
	u, ok := f.uploads[aws.ToString(in.UploadId)]
	if !ok || u.key != aws.ToString(in.Key) {
		return nil, apiError("NoSuchUpload", "The specified upload does not exist.")
	}
	if in.ChecksumAlgorithm != "CRC32C" {
		return nil, apiError("InvalidRequest", "the converter always asks for CRC32C")
	}
	u.parts[aws.ToInt32(in.PartNumber)] = body
	return &s3.UploadPartOutput{ETag: aws.String(etag(body)), ChecksumCRC32C: aws.String("crc-" + strconv.Itoa(int(aws.ToInt32(in.PartNumber))))}, nil
}

func etag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func (f *fakeS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("CompleteMultipartUpload")
	f.completes++
	if f.completeErr != nil {
		if err := f.completeErr(f.completes); err != nil {
			return nil, err
		}
	}
	u, ok := f.uploads[aws.ToString(in.UploadId)]
	if !ok || u.key != aws.ToString(in.Key) {
		return nil, apiError("NoSuchUpload", "The specified upload does not exist.")
	}
	if _, taken := f.objects[u.key]; taken && aws.ToString(in.IfNoneMatch) == "*" {
		return nil, apiError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	parts := in.MultipartUpload.Parts
	var body []byte
	for i, p := range parts {
		n := aws.ToInt32(p.PartNumber)
		b, ok := u.parts[n]
		switch {
		case !ok || aws.ToString(p.ETag) != etag(b):
			return nil, apiError("InvalidPart", fmt.Sprintf("part %d was not uploaded or its ETag differs", n))
		case i > 0 && n <= aws.ToInt32(parts[i-1].PartNumber):
			return nil, apiError("InvalidPartOrder", "parts must be in ascending order")
		case i < len(parts)-1 && len(b) < f.minPart:
			return nil, apiError("EntityTooSmall", fmt.Sprintf("part %d has %d bytes", n, len(b)))
		case aws.ToString(p.ChecksumCRC32C) != "crc-"+strconv.Itoa(int(n)):
			return nil, apiError("InvalidPart", fmt.Sprintf("part %d: checksum not given back", n))
		}
		body = append(body, b...)
	}
	o := u.meta
	o.body = body
	f.objects[u.key] = &o
	delete(f.uploads, aws.ToString(in.UploadId))
	return &s3.CompleteMultipartUploadOutput{}, nil
}

func (f *fakeS3) AbortMultipartUpload(_ context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call("AbortMultipartUpload")
	if _, ok := f.uploads[aws.ToString(in.UploadId)]; !ok {
		return nil, apiError("NoSuchUpload", "The specified upload does not exist.")
	}
	delete(f.uploads, aws.ToString(in.UploadId))
	return &s3.AbortMultipartUploadOutput{}, nil
}
