package streamer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// ObjectPutter is the one S3 call the streamer makes.
type ObjectPutter interface {
	PutObject(ctx context.Context, params *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// put writes one object. A 412 on a conditional write means an object
// already holds the key; it counts as success only when the key proves
// that object's content is this one (an earlier attempt of this batch made
// it durable), and existed says so. Otherwise it is an error, so nothing
// is acknowledged that was not stored.
func (h *Handler) put(ctx context.Context, k objectKey, body []byte, contentType string, records int, seqs [2][]byte) (existed bool, err error) {
	key := k.name
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("put s3://%s/%s: no time left before the deadline: %w", h.cfg.Bucket, key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:            aws.String(h.cfg.Bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ContentType:       aws.String(contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
		Metadata: map[string]string{
			"records":               strconv.Itoa(records),
			"first-sequence-number": string(seqs[0]),
			"last-sequence-number":  string(seqs[1]),
			"image-format":          h.cfg.ImageFormat.String(),
		},
	}
	if h.cfg.ContentEncoding != "" {
		in.ContentEncoding = aws.String(h.cfg.ContentEncoding)
	}
	if h.cfg.ConditionalWrites {
		in.IfNoneMatch = aws.String("*")
	}
	if h.cfg.KMSKeyID != "" {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(h.cfg.KMSKeyID)
		in.BucketKeyEnabled = aws.Bool(true)
	}
	_, err = h.s3.PutObject(ctx, in)
	var apiErr smithy.APIError
	if h.cfg.ConditionalWrites && errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed" {
		if !k.provesContent {
			return false, fmt.Errorf("put s3://%s/%s: the key is taken and does not prove it holds these records: %w", h.cfg.Bucket, key, err)
		}
		h.tel.Log.InfoContext(ctx, "object already written by an earlier attempt", "key", key)
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("put s3://%s/%s: %w", h.cfg.Bucket, key, err)
	}
	return false, nil
}
