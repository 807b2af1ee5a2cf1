// Command exportbench measures the export converter on one large data
// file: the real converter (GetObject, gunzip, lines, record conversion,
// gzip, MD5 check, multipart upload with its part buffers) against an
// in-process S3 that reads the data file from disk and writes the parts
// to disk, so that neither side holds the file in memory.
//
//	go run ./cmd/exportbench                              # 1 GiB of export text
//	go run ./cmd/exportbench -size 268435456 -min-mb-per-s 200 -max-rss-mb 64
//
// It first writes a generated data file (internal/export/exportgen:
// order-shaped items of about -item-bytes, gzip as DynamoDB writes them)
// under -workdir, untimed, or reads -data-file. Its last line is
//
//	exportbench: text_bytes=N items=N in_bytes=N out_bytes=N parts=N procs=P seconds=X cpu_seconds=C mb_per_s=Y peak_rss_mib=Z
//
// where mb_per_s is uncompressed export text (10^6 bytes) per second of
// wall time on -procs cores (1 by default: the figure is per core),
// cpu_seconds the process's user and system time meanwhile, and peak RSS
// covers the whole process from after the data file is written. The
// written object is then read back: every item exactly once, in order.
// The -min-* and -max-* flags turn targets into a failing exit status.
// With -floor, a line before it gives what gunzip and gzip alone take on
// the same text, and so the fastest rate any conversion could reach with
// this compression library:
//
//	exportbench floor: gunzip_seconds=X gzip_seconds=Y codec_floor_mb_per_s=Z conversion_share=P%
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/export"
	"github.com/ddbstream/pipeline/internal/export/converter"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/testing/exportgen"
	"github.com/ddbstream/pipeline/internal/testing/procstat"
)

const (
	sourceBucket = "exports"
	outBucket    = "lake"
	exportArn    = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/export/01795449600123-5f1c2e3a"
	dataFileKey  = "exports/AWSDynamoDB/01795449600123-5f1c2e3a/data/benchbench0000000000000000.json.gz"
)

// diskS3 serves the one data file from disk and writes uploaded objects
// to files under dir, part by part at their offsets.
type diskS3 struct {
	dataFile string
	dir      string
	partSize int64

	mu      sync.Mutex
	objects map[string]string // key -> file
	uploads map[string]*os.File
	sizes   map[string]int64
	parts   atomic.Int64
}

func newDiskS3(dataFile, dir string, partSize int) *diskS3 {
	return &diskS3{dataFile: dataFile, dir: dir, partSize: int64(partSize), objects: map[string]string{},
		uploads: map[string]*os.File{}, sizes: map[string]int64{}}
}

func (d *diskS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if aws.ToString(in.Bucket) != sourceBucket || aws.ToString(in.Key) != dataFileKey {
		return nil, &smithy.GenericAPIError{Code: "NoSuchKey", Message: "The specified key does not exist."}
	}
	f, err := os.Open(d.dataFile)
	if err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{Body: f}, nil
}

func (d *diskS3) file(key string) string {
	return filepath.Join(d.dir, strings.NewReplacer("/", "_", "=", "_").Replace(key))
}

func (d *diskS3) taken(key string, in *string) error {
	if _, ok := d.objects[key]; ok && aws.ToString(in) == "*" {
		return &smithy.GenericAPIError{Code: "PreconditionFailed", Message: "At least one of the pre-conditions you specified did not hold"}
	}
	return nil
}

func (d *diskS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := aws.ToString(in.Key)
	if err := d.taken(key, in.IfNoneMatch); err != nil {
		return nil, err
	}
	f, err := os.Create(d.file(key))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := io.Copy(f, in.Body)
	if err != nil {
		return nil, err
	}
	d.objects[key], d.sizes[key] = f.Name(), n
	return &s3.PutObjectOutput{}, nil
}

func (d *diskS3) CreateMultipartUpload(_ context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id := "upload-" + strconv.Itoa(len(d.uploads)+1)
	f, err := os.Create(d.file(aws.ToString(in.Key)) + "." + id)
	if err != nil {
		return nil, err
	}
	d.uploads[id] = f
	return &s3.CreateMultipartUploadOutput{UploadId: aws.String(id)}, nil
}

func (d *diskS3) UploadPart(_ context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	d.mu.Lock()
	f, ok := d.uploads[aws.ToString(in.UploadId)]
	d.mu.Unlock()
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchUpload", Message: "The specified upload does not exist."}
	}
	off := int64(aws.ToInt32(in.PartNumber)-1) * d.partSize
	if _, err := io.Copy(io.NewOffsetWriter(f, off), in.Body); err != nil {
		return nil, err
	}
	d.parts.Add(1)
	return &s3.UploadPartOutput{ETag: aws.String(`"part-` + strconv.Itoa(int(aws.ToInt32(in.PartNumber))) + `"`)}, nil
}

func (d *diskS3) CompleteMultipartUpload(_ context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := aws.ToString(in.Key)
	if err := d.taken(key, in.IfNoneMatch); err != nil {
		return nil, err
	}
	f, ok := d.uploads[aws.ToString(in.UploadId)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchUpload", Message: "The specified upload does not exist."}
	}
	delete(d.uploads, aws.ToString(in.UploadId))
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(f.Name(), d.file(key)); err != nil {
		return nil, err
	}
	d.objects[key], d.sizes[key] = d.file(key), fi.Size()
	return &s3.CompleteMultipartUploadOutput{}, nil
}

func (d *diskS3) AbortMultipartUpload(_ context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, ok := d.uploads[aws.ToString(in.UploadId)]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "NoSuchUpload", Message: "The specified upload does not exist."}
	}
	delete(d.uploads, aws.ToString(in.UploadId))
	f.Close()
	return &s3.AbortMultipartUploadOutput{}, os.Remove(f.Name())
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "exportbench:", err)
		os.Exit(1)
	}
}

// source is the data file to convert and what its manifest line says.
type source struct {
	path        string
	items, text int64
	md5         string
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("exportbench", flag.ContinueOnError)
	size := fs.Int64("size", 1<<30, "uncompressed size of the generated data file, in bytes")
	itemBytes := fs.Int("item-bytes", exportgen.DefaultItemBytes, "average size of a generated item's line")
	dataFile := fs.String("data-file", "", "convert this gzip DYNAMODB_JSON data `file` (keys pk and sk) instead of a generated one")
	workdir := fs.String("workdir", "", "directory for the data file and the output (default: a temporary one under /dev/shm when it has room, else the system's, removed)")
	procs := fs.Int("procs", 1, "GOMAXPROCS (the targets are per core)")
	level := fs.Int("gzip-level", converter.DefaultGzipLevel, "the converter's gzip level, 1-9")
	partSize := fs.Int("part-size", converter.DefaultPartSize, "upload part size in bytes")
	minRate := fs.Float64("min-mb-per-s", 0, "fail below this rate of export text (0: no check)")
	maxRSS := fs.Float64("max-rss-mb", 0, "fail if peak RSS exceeds this many MiB (0: no check)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the conversion to `file`")
	withFloor := fs.Bool("floor", false, "also time gunzip and gzip alone on the same text, and print the rate they allow (the codec floor)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := *workdir
	if dir == "" {
		d, err := os.MkdirTemp(tempRoot(*size), "exportbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	var src source
	var err error
	if *dataFile != "" {
		src, err = describe(*dataFile)
	} else {
		src, err = generate(filepath.Join(dir, "data.json.gz"), *size, *itemBytes)
	}
	if err != nil {
		return err
	}

	cfg := converter.DefaultConfig()
	cfg.Bucket, cfg.GzipLevel, cfg.PartSize = outBucket, *level, *partSize
	store := newDiskS3(src.path, dir, cfg.PartSize)
	c, err := converter.New(store, cfg)
	if err != nil {
		return err
	}
	job := export.Job{ExportArn: exportArn, ExportTime: time.Date(2026, 11, 23, 16, 0, 0, 123e6, time.UTC), Table: "Orders",
		PartitionKey: exportgen.PartitionKey, SortKey: exportgen.SortKey, Bucket: sourceBucket, DataFileKey: dataFileKey,
		ItemCount: src.items, MD5Checksum: src.md5}

	runtime.GOMAXPROCS(*procs)
	runtime.GC()
	debug.FreeOSMemory()
	stopProfile, err := procstat.CPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	procstat.ResetPeakRSS()
	cpuStart := cpuTime()
	start := time.Now()
	res, err := c.Handle(context.Background(), job)
	elapsed := time.Since(start)
	cpu := cpuTime() - cpuStart
	stopProfile()
	rss := procstat.PeakRSS()
	runtime.GOMAXPROCS(runtime.NumCPU())
	if err != nil {
		return err
	}
	if res.TextBytes != src.text {
		return fmt.Errorf("the converter read %d bytes of text; the data file has %d", res.TextBytes, src.text)
	}
	if err := verify(store, res, src.items); err != nil {
		return err
	}
	rate := float64(res.TextBytes) / 1e6 / elapsed.Seconds()
	if *withFloor {
		runtime.GOMAXPROCS(*procs)
		fl, err := measureFloor(src.path, store.objects[res.Key], cfg.GzipLevel)
		runtime.GOMAXPROCS(runtime.NumCPU())
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		fmt.Fprintf(stdout, "exportbench floor: gunzip_seconds=%.2f gzip_seconds=%.2f codec_floor_mb_per_s=%.1f conversion_share=%.0f%%\n",
			fl.gunzip.Seconds(), fl.gzip.Seconds(), fl.rate(res.TextBytes), 100*(1-(fl.gunzip+fl.gzip).Seconds()/elapsed.Seconds()))
	}
	fmt.Fprintf(stdout, "exportbench: text_bytes=%d items=%d in_bytes=%d out_bytes=%d parts=%d procs=%d seconds=%.2f cpu_seconds=%.2f mb_per_s=%.1f peak_rss_mib=%.1f\n",
		res.TextBytes, res.Items, res.BytesIn, res.BytesOut, store.parts.Load(), *procs, elapsed.Seconds(), cpu.Seconds(), rate, float64(rss)/(1<<20))
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

// generate writes a generated data file, gzip at the default level, and
// returns what its manifest line would say.
func generate(path string, size int64, itemBytes int) (source, error) {
	f, err := os.Create(path)
	if err != nil {
		return source{}, err
	}
	defer f.Close()
	sum := md5.New()
	zw := gzip.NewWriter(io.MultiWriter(f, sum))
	items, n, err := exportgen.Write(zw, exportgen.Options{Bytes: size, ItemBytes: itemBytes, Seed: 1})
	if err != nil {
		return source{}, err
	}
	if err := zw.Close(); err != nil {
		return source{}, err
	}
	return source{path: path, items: items, text: n, md5: base64.StdEncoding.EncodeToString(sum.Sum(nil))}, f.Close()
}

// describe reads a given data file once, untimed, for its manifest line.
func describe(path string) (source, error) {
	f, err := os.Open(path)
	if err != nil {
		return source{}, err
	}
	defer f.Close()
	sum := md5.New()
	zr, err := gzip.NewReader(io.TeeReader(f, sum))
	if err != nil {
		return source{}, err
	}
	src := source{path: path}
	br := bufio.NewReaderSize(zr, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		src.text += int64(len(line))
		if len(bytes.TrimSpace(line)) > 0 {
			src.items++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return source{}, err
		}
	}
	if _, err := io.Copy(io.Discard, f); err != nil {
		return source{}, err
	}
	src.md5 = base64.StdEncoding.EncodeToString(sum.Sum(nil))
	return src, nil
}

// verify reads the data object back: a gzip of items JSON lines whose
// eventIDs count 1, 2, ... with no gap or repeat.
func verify(store *diskS3, res converter.Result, items int64) error {
	if res.ErrorsKey != "" || res.ConversionErrors != 0 {
		return fmt.Errorf("%d items were not converted (%s)", res.ConversionErrors, res.ErrorsKey)
	}
	if _, err := objectkey.Parse(res.Key); err != nil {
		return err
	}
	path, ok := store.objects[res.Key]
	if !ok {
		return fmt.Errorf("no object at %s", res.Key)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(zr, 1<<20)
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if err != nil {
			return fmt.Errorf("object line %d: %w", n+1, err)
		}
		n++
		const field = `{"eventID":"`
		id, _, _ := bytes.Cut(line[min(len(field), len(line)):], []byte(`"`))
		if !bytes.HasPrefix(line, []byte(field)) || !bytes.HasSuffix(id, []byte(":"+strconv.FormatInt(n, 10))) {
			return fmt.Errorf("object line %d is %.100s; expect eventID ...:%d", n, line, n)
		}
	}
	if n != items {
		return fmt.Errorf("object has %d lines; the data file has %d items", n, items)
	}
	return nil
}
