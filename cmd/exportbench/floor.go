package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
)

// floor is what the two codecs alone cost on this machine: gunzip of the
// data file and gzip of the converted text at the converter's level,
// with the converter's buffer sizes. No conversion can run faster than
// text / (gunzip + gzip), so it tells a slow converter from a target
// below what the compression library can do.
type floor struct {
	gunzip, gzip time.Duration
}

// rate is the fastest conversion the codecs allow, in MB of export text
// per second.
func (f floor) rate(text int64) float64 {
	return float64(text) / 1e6 / (f.gunzip + f.gzip).Seconds()
}

// measureFloor times gunzip of dataFile and gzip (at level) of the
// uncompressed text of object, in 256 KiB writes as the converter makes
// them; reading the object back is not timed.
func measureFloor(dataFile, object string, level int) (floor, error) {
	var fl floor
	in, err := os.Open(dataFile)
	if err != nil {
		return fl, err
	}
	defer in.Close()
	buf := make([]byte, 256<<10)
	start := time.Now()
	zr, err := gzip.NewReader(bufio.NewReaderSize(in, 256<<10))
	if err != nil {
		return fl, fmt.Errorf("data file: %w", err)
	}
	if _, err := io.CopyBuffer(io.Discard, zr, buf); err != nil {
		return fl, fmt.Errorf("data file: %w", err)
	}
	fl.gunzip = time.Since(start)

	out, err := os.Open(object)
	if err != nil {
		return fl, err
	}
	defer out.Close()
	or, err := gzip.NewReader(bufio.NewReaderSize(out, 256<<10))
	if err != nil {
		return fl, fmt.Errorf("object: %w", err)
	}
	zw, err := gzip.NewWriterLevel(io.Discard, level)
	if err != nil {
		return fl, err
	}
	for {
		n, rerr := io.ReadFull(or, buf)
		start := time.Now()
		if _, err := zw.Write(buf[:n]); err != nil {
			return fl, err
		}
		fl.gzip += time.Since(start)
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fl, fmt.Errorf("object: %w", rerr)
		}
	}
	start = time.Now()
	err = zw.Close()
	fl.gzip += time.Since(start)
	return fl, err
}
