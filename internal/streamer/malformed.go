package streamer

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/function"
	"github.com/ddbstream/pipeline/internal/objectkey"
)

// keepMalformed stores a payload that is not a valid event, whole, so that
// nothing is lost and the shard moves on.
func (h *Handler) keepMalformed(ctx context.Context, payload []byte, cause error, start time.Time) (Result, error) {
	var res Result
	// Named by the payload's SHA-256: the key proves the content.
	key := objectKey{name: objectkey.Malformed(h.cfg.Prefix, payload), provesContent: true}
	var gz bytes.Buffer
	w, err := gzip.NewWriterLevel(&gz, h.cfg.GzipLevel)
	if err != nil {
		return res, fmt.Errorf("gzip: %w", err)
	}
	if _, err := w.Write(payload); err != nil {
		return res, fmt.Errorf("gzip: %w", err)
	}
	if err := w.Close(); err != nil {
		return res, fmt.Errorf("gzip: %w", err)
	}
	wctx, cancel := function.WithMargin(ctx, h.cfg.DeadlineMargin)
	defer cancel()
	reason := cause.Error()
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	existed, err := h.put(wctx, key, gz.Bytes(), "application/json", 0, [2][]byte{})
	res.add(key.name, existed, err)
	h.tel.Emit(ctx, start, emf.Metric{Name: "MalformedEvents", Unit: emf.Count, Value: 1})
	if err != nil {
		h.tel.Log.ErrorContext(ctx, "malformed event not stored; failing the invocation", "reason", reason, "key", key.name, "error", err)
		return res, fmt.Errorf("store malformed event (%s): %w", reason, err)
	}
	h.tel.Log.ErrorContext(ctx, "malformed event stored whole", "reason", reason, "key", key.name, "bytes", len(payload))
	return res, nil
}
