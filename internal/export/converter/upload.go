package converter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// The S3 calls the converter makes, each with the SDK client's own
// signature so that *s3.Client satisfies them and tests can fake any one.

// ObjectGetter reads the export's data file.
type ObjectGetter interface {
	GetObject(ctx context.Context, params *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// ObjectPutter writes an object that fits in one part in one request.
type ObjectPutter interface {
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// MultipartCreator starts a multipart upload.
type MultipartCreator interface {
	CreateMultipartUpload(ctx context.Context, params *s3.CreateMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
}

// PartUploader uploads one part.
type PartUploader interface {
	UploadPart(ctx context.Context, params *s3.UploadPartInput, optFns ...func(*s3.Options)) (*s3.UploadPartOutput, error)
}

// MultipartCompleter completes a multipart upload, conditionally.
type MultipartCompleter interface {
	CompleteMultipartUpload(ctx context.Context, params *s3.CompleteMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
}

// MultipartAborter abandons a multipart upload and frees its parts.
type MultipartAborter interface {
	AbortMultipartUpload(ctx context.Context, params *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// S3 is every call the converter makes; *s3.Client is one.
type S3 interface {
	ObjectGetter
	ObjectPutter
	MultipartCreator
	PartUploader
	MultipartCompleter
	MultipartAborter
}

// Writer is what the uploads write with: S3 without GetObject.
type Writer interface {
	ObjectPutter
	MultipartCreator
	PartUploader
	MultipartCompleter
	MultipartAborter
}

// MaxParts is S3's limit on the parts of one multipart upload
// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
const MaxParts = 10000

// outcome is how a finished upload ended.
type outcome int

const (
	// written: this upload made the object.
	written outcome = iota
	// alreadyWritten: the key was taken (412 to If-None-Match: *). The
	// key proves the content, so an earlier attempt converted the file.
	alreadyWritten
)

// errConflict is S3's 409 ConditionalRequestConflict to a conditional
// CompleteMultipartUpload: another write to the key raced this one. AWS's
// advice is to start a new upload and upload every part again
// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html,
// If-None-Match), which for a streamed object means converting again.
var errConflict = errors.New("S3 answered 409 ConditionalRequestConflict: a concurrent write to the key; the upload starts again")

// objectParams are the settings of one object written by an upload.
type objectParams struct {
	bucket, key                  string
	contentType, contentEncoding string
	kmsKeyID                     string
	conditional                  bool
	metadata                     map[string]string
}

// partPool holds the part buffers, all of one size, shared by the uploads
// of one converter: memory stays at the buffers in flight whatever the
// size of the file, and a warm function reuses them.
type partPool struct {
	size int
	free chan []byte
	// made counts the buffers allocated, for tests and the benchmark.
	made atomic.Int64
}

func newPartPool(size, keep int) *partPool {
	return &partPool{size: size, free: make(chan []byte, keep)}
}

func (p *partPool) get() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		p.made.Add(1)
		return make([]byte, 0, p.size)
	}
}

func (p *partPool) put(b []byte) {
	select {
	case p.free <- b:
	default:
	}
}

// upload streams one object to S3 as it is written. Bytes gather in a
// part buffer; a full buffer becomes a part uploaded in the background,
// with at most inFlight parts uploading at once, so Write blocks rather
// than buffer more. The multipart upload is created with the first full
// part: an object smaller than one part is written with one conditional
// PutObject at finish instead. Nothing is visible under the key until
// finish completes the upload with If-None-Match: *, so a failed or
// killed attempt leaves no object, only parts, which abort frees (and the
// bucket's lifecycle rule for incomplete uploads, if abort never runs).
type upload struct {
	api    Writer
	ctx    context.Context
	params objectParams
	pool   *partPool
	sem    chan struct{}

	buf      []byte
	uploadID string
	nextPart int32
	size     int64
	done     bool // completed or aborted: nothing more to do

	wg    sync.WaitGroup
	mu    sync.Mutex
	parts []types.CompletedPart
	err   error
}

func newUpload(ctx context.Context, api Writer, params objectParams, pool *partPool, inFlight int) *upload {
	return &upload{api: api, ctx: ctx, params: params, pool: pool, sem: make(chan struct{}, inFlight)}
}

// Write implements io.Writer for the gzip stream.
func (u *upload) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if err := u.failed(); err != nil {
			return 0, err
		}
		if u.buf == nil {
			u.buf = u.pool.get()
		}
		k := min(u.pool.size-len(u.buf), len(p))
		u.buf = append(u.buf, p[:k]...)
		p = p[k:]
		if len(u.buf) == u.pool.size {
			if err := u.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (u *upload) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *upload) fail(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err == nil {
		u.err = err
	}
}

// flush hands the current buffer to a background UploadPart, creating
// the multipart upload first if need be.
func (u *upload) flush() error {
	if u.uploadID == "" {
		if err := u.create(); err != nil {
			return err
		}
	}
	if u.nextPart >= MaxParts {
		err := fmt.Errorf("s3://%s/%s: more than %d parts; raise PART_SIZE", u.params.bucket, u.params.key, MaxParts)
		u.fail(err)
		return err
	}
	u.nextPart++
	part, body := u.nextPart, u.buf
	u.buf = nil
	u.size += int64(len(body))
	select {
	case u.sem <- struct{}{}:
	case <-u.ctx.Done():
		u.pool.put(body)
		err := fmt.Errorf("upload part %d of s3://%s/%s: %w", part, u.params.bucket, u.params.key, u.ctx.Err())
		u.fail(err)
		return err
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		defer func() { <-u.sem }()
		defer u.pool.put(body)
		if u.failed() != nil {
			return
		}
		out, err := u.api.UploadPart(u.ctx, &s3.UploadPartInput{
			Bucket: aws.String(u.params.bucket), Key: aws.String(u.params.key), UploadId: aws.String(u.uploadID),
			PartNumber: aws.Int32(part), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		})
		if err != nil {
			u.fail(fmt.Errorf("upload part %d of s3://%s/%s: %w", part, u.params.bucket, u.params.key, err))
			return
		}
		u.mu.Lock()
		u.parts = append(u.parts, types.CompletedPart{PartNumber: aws.Int32(part), ETag: out.ETag, ChecksumCRC32C: out.ChecksumCRC32C})
		u.mu.Unlock()
	}()
	return nil
}

func (u *upload) create() error {
	in := &s3.CreateMultipartUploadInput{
		Bucket: aws.String(u.params.bucket), Key: aws.String(u.params.key),
		ContentType: aws.String(u.params.contentType), Metadata: u.params.metadata,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	}
	if u.params.contentEncoding != "" {
		in.ContentEncoding = aws.String(u.params.contentEncoding)
	}
	if u.params.kmsKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(u.params.kmsKeyID)
		in.BucketKeyEnabled = aws.Bool(true)
	}
	out, err := u.api.CreateMultipartUpload(u.ctx, in)
	if err == nil && aws.ToString(out.UploadId) == "" {
		err = errors.New("no upload ID in the answer")
	}
	if err != nil {
		err = fmt.Errorf("create multipart upload of s3://%s/%s: %w", u.params.bucket, u.params.key, err)
		u.fail(err)
		return err
	}
	u.uploadID = aws.ToString(out.UploadId)
	return nil
}

// finish writes what is left and makes the object: the last part and a
// conditional CompleteMultipartUpload, or one conditional PutObject for an
// object smaller than a part. A taken key (412) is alreadyWritten; a 409
// is errConflict. On any error the caller aborts.
func (u *upload) finish() (outcome, error) {
	if err := u.failed(); err != nil {
		return 0, err
	}
	if u.uploadID == "" {
		return u.putWhole()
	}
	if len(u.buf) > 0 {
		if err := u.flush(); err != nil {
			return 0, err
		}
	}
	u.wg.Wait()
	if err := u.failed(); err != nil {
		return 0, err
	}
	parts := u.parts
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(u.params.bucket), Key: aws.String(u.params.key), UploadId: aws.String(u.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if u.params.conditional {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := u.api.CompleteMultipartUpload(u.ctx, in)
	switch code := errorCode(err); {
	case err == nil:
		u.done = true
		return written, nil
	case u.params.conditional && code == "PreconditionFailed":
		return alreadyWritten, nil
	case u.params.conditional && code == "ConditionalRequestConflict":
		return 0, errConflict
	default:
		return 0, fmt.Errorf("complete multipart upload of s3://%s/%s: %w", u.params.bucket, u.params.key, err)
	}
}

func (u *upload) putWhole() (outcome, error) {
	body := u.buf
	in := &s3.PutObjectInput{
		Bucket: aws.String(u.params.bucket), Key: aws.String(u.params.key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ContentType: aws.String(u.params.contentType), Metadata: u.params.metadata,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
	}
	if u.params.contentEncoding != "" {
		in.ContentEncoding = aws.String(u.params.contentEncoding)
	}
	if u.params.kmsKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(u.params.kmsKeyID)
		in.BucketKeyEnabled = aws.Bool(true)
	}
	if u.params.conditional {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := u.api.PutObject(u.ctx, in)
	u.size = int64(len(body))
	u.release()
	switch code := errorCode(err); {
	case err == nil:
		u.done = true
		return written, nil
	case u.params.conditional && code == "PreconditionFailed":
		u.done = true
		return alreadyWritten, nil
	case u.params.conditional && code == "ConditionalRequestConflict":
		return 0, errConflict
	default:
		return 0, fmt.Errorf("put s3://%s/%s: %w", u.params.bucket, u.params.key, err)
	}
}

// release returns the pending buffer to the pool.
func (u *upload) release() {
	if u.buf != nil {
		u.pool.put(u.buf)
		u.buf = nil
	}
}

// abort stops the upload and, if a multipart upload was created and not
// completed, aborts it so that its parts are freed. ctx should outlive
// the upload's own (which may be what ended), so abort still runs when
// the work ran out of time.
func (u *upload) abort(ctx context.Context) error {
	u.fail(errors.New("upload aborted"))
	u.wg.Wait()
	u.release()
	if u.done || u.uploadID == "" {
		u.done = true
		return nil
	}
	u.done = true
	_, err := u.api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(u.params.bucket), Key: aws.String(u.params.key), UploadId: aws.String(u.uploadID),
	})
	if err != nil && errorCode(err) != "NoSuchUpload" {
		return fmt.Errorf("abort multipart upload %s of s3://%s/%s: %w", u.uploadID, u.params.bucket, u.params.key, err)
	}
	return nil
}

// errorCode is the S3 error code of err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
