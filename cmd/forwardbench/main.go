// Command forwardbench measures the forwarder's volume mode on one large
// object: the real handler, the real S3 client and the real Databricks
// client, against a local S3 endpoint that streams a synthetic object and
// the fake workspace over TLS, all on loopback in this process.
//
//	go run ./cmd/forwardbench                  # 1 GiB
//	go run ./cmd/forwardbench -size 268435456 -max-rss-mb 64 -min-mb-per-s 200
//
// Its last line is
//
//	forwardbench: bytes=N seconds=X mb_per_s=Y peak_rss_mib=Z attempts=A
//
// Peak RSS covers the whole process (both servers included) from after
// start-up; mb_per_s counts 10^6 bytes. The stored file's SHA-256 is
// checked against the source after timing.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/secret"
	"github.com/ddbstream/pipeline/internal/testing/fakedatabricks"
	"github.com/ddbstream/pipeline/internal/testing/procstat"
)

const (
	bucket = "bench-bucket"
	key    = "cdc/table=Orders/dt=2026-11-22/hour=17/20261101T000000000-1-2.jsonl.gz"
	etag   = "0123456789abcdef0123456789abcdef"
)

// pattern is the repeated content of the synthetic object.
var pattern = func() []byte {
	b := make([]byte, 1<<20)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}()

// source streams size bytes of the pattern.
type source struct{ size, off int64 }

func (s *source) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), s.size-s.off)], pattern[s.off%int64(len(pattern)):])
	s.off += int64(n)
	return n, nil
}

// s3Server answers GetObject for the one synthetic object, path-style.
func s3Server(size int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/"+bucket+"/"+key {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("ETag", `"`+etag+`"`)
		w.Header().Set("Content-Type", "application/x-ndjson")
		if r.Method == http.MethodHead {
			return
		}
		buf := make([]byte, 256<<10)
		_, _ = io.CopyBuffer(w, &source{size: size}, buf)
	})
}

type staticSecret string

func (s staticSecret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(string(s))}, nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "forwardbench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("forwardbench", flag.ContinueOnError)
	size := fs.Int64("size", 1<<30, "object size in bytes")
	maxRSS := fs.Float64("max-rss-mb", 0, "fail if peak RSS exceeds this many MiB (0: no check)")
	minRate := fs.Float64("min-mb-per-s", 0, "fail below this rate (0: no check)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s3srv := httptest.NewServer(s3Server(*size))
	defer s3srv.Close()
	ws := fakedatabricks.New(fakedatabricks.WithToken("bench-token"), fakedatabricks.WithKeepLimit(0))
	dbsrv := httptest.NewTLSServer(ws)
	defer dbsrv.Close()

	cfg, err := forwarder.ConfigFromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"DATABRICKS_SECRET_ID": "bench", "DATABRICKS_VOLUME_PATH": "/Volumes/main/cdc/landing/{key}", "S3_FORCE_PATH_STYLE": "true"}[k]
		return v, ok
	})
	if err != nil {
		return err
	}
	awsCfg := aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(s3srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")}
	creds := secret.NewCache(staticSecret(`{"host":"`+dbsrv.URL+`","token":"bench-token"}`), "bench", time.Hour)
	httpClient := databricks.NewHTTPClient()
	httpClient.Transport.(*http.Transport).TLSClientConfig = dbsrv.Client().Transport.(*http.Transport).TLSClientConfig
	opts := append(forwarder.DatabricksOptions(cfg), databricks.WithHTTPClient(httpClient))
	h := forwarder.New(forwarder.NewS3Client(awsCfg, cfg), databricks.New(creds, opts...), cfg)
	event := fmt.Sprintf(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2026-11-22T17:04:06Z",`+
		`"s3":{"bucket":{"name":%q},"object":{"key":%q,"size":%d,"eTag":%q,"sequencer":"0A"}}}]}`, bucket, key, *size, etag)

	runtime.GC()
	debug.FreeOSMemory()
	procstat.ResetPeakRSS()
	start := time.Now()
	if _, err := h.Invoke(context.Background(), []byte(event)); err != nil {
		return err
	}
	elapsed := time.Since(start)
	rss := procstat.PeakRSS()

	f, ok := ws.Files()["/Volumes/main/cdc/landing/"+key]
	if !ok || f.Size != *size {
		return fmt.Errorf("stored %d bytes; want %d", f.Size, *size)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, &source{size: *size}); err != nil {
		return err
	}
	if want := hex.EncodeToString(sum.Sum(nil)); f.SHA256 != want {
		return errors.New("stored file differs from the source")
	}
	attempts := 0
	for _, r := range ws.Requests() {
		if strings.HasPrefix(r.Path, "/api/2.0/fs/files/") {
			attempts++
		}
	}
	rate := float64(*size) / 1e6 / elapsed.Seconds()
	fmt.Fprintf(stdout, "forwardbench: bytes=%d seconds=%.2f mb_per_s=%.1f peak_rss_mib=%.1f attempts=%d\n",
		*size, elapsed.Seconds(), rate, float64(rss)/(1<<20), attempts)
	var missed []string
	if *maxRSS > 0 && float64(rss)/(1<<20) > *maxRSS {
		missed = append(missed, fmt.Sprintf("peak RSS %.1f MiB > %.1f MiB", float64(rss)/(1<<20), *maxRSS))
	}
	if *minRate > 0 && rate < *minRate {
		missed = append(missed, fmt.Sprintf("rate %.1f MB/s < %.1f MB/s", rate, *minRate))
	}
	if len(missed) > 0 {
		return fmt.Errorf("targets missed: %s", strings.Join(missed, "; "))
	}
	return nil
}
