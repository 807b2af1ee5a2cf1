package requestlog_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// streamingPayload is x-amz-content-sha256 of an upload whose chunks are
// each signed
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
const streamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"

// signedChunkedPut builds a PutObject of body as aws-chunked with signed
// chunks (the SDK for Go never sends those; other clients do): the seed
// signature in the Authorization header, then each chunk's signature
// chained from the previous one. corrupt spoils the first chunk's.
func signedChunkedPut(t *testing.T, url, accessKey, secret string, body []byte, corrupt bool) *http.Request {
	t.Helper()
	const region, service = "us-east-1", "s3"
	now := time.Now().UTC()
	chunks := [][]byte{body, nil}
	length := 0
	for _, c := range chunks {
		length += len(strconv.FormatInt(int64(len(c)), 16)) + len(";chunk-signature=") + 64 + 2 + len(c) + 2
	}
	req, err := http.NewRequest(http.MethodPut, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(length)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(body)))
	req.Header.Set("X-Amz-Content-Sha256", streamingPayload)
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, streamingPayload, service, region, now); err != nil {
		t.Fatal(err)
	}
	_, prev, _ := strings.Cut(req.Header.Get("Authorization"), "Signature=")
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	hash := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	date := now.Format("20060102")
	key := mac(mac(mac(mac([]byte("AWS4"+secret), date), region), service), "aws4_request")
	var encoded strings.Builder
	for i, c := range chunks {
		sig := hex.EncodeToString(mac(key, strings.Join([]string{"AWS4-HMAC-SHA256-PAYLOAD", now.Format("20060102T150405Z"),
			date + "/" + region + "/" + service + "/aws4_request", prev, hash(nil), hash(c)}, "\n")))
		prev = sig
		if corrupt && i == 0 {
			sig = strings.Repeat("0", 64)
		}
		fmt.Fprintf(&encoded, "%x;chunk-signature=%s\r\n%s\r\n", len(c), sig, c)
	}
	if encoded.Len() != length {
		t.Fatalf("encoded %d bytes, computed %d", encoded.Len(), length)
	}
	req.Body = io.NopCloser(strings.NewReader(encoded.String()))
	return req
}
