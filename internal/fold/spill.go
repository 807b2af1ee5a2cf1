package fold

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// MaxPartitions bounds the files one Spill writes at once: each holds an
// open file and a write buffer. Archives that would need more partitions
// of the budget's size are split further as they are folded (Walk).
const MaxPartitions = 256

// writeBuffer is each partition file's write buffer: large enough to make
// writes cheap, small enough that MaxPartitions of them stay modest
// (8 MiB).
const writeBuffer = 32 << 10

// maxRecord bounds one spilled record, so that a corrupt spill cannot ask
// for an absurd buffer. A line holds at most two 400 KB items, in the
// typed format a few times that.
const maxRecord = 64 << 20

// Rec is one spilled record: a line as the fold needs it (Keys, OrderKey,
// Kind, Image), or an item from another source, such as a Scan of the
// live table (Keys and Image, no OrderKey). Its slices alias a buffer
// valid until the callback that received it returns.
type Rec struct {
	Keys     []byte
	OrderKey []byte
	Kind     Kind
	Image    []byte
}

// Spill hash-partitions records by their keys into files in a directory
// of its own, so that a later pass can fold one partition at a time. Two
// spills with the same number of partitions place an item in the same
// partition, whichever holds it. Add may be called from several
// goroutines.
type Spill struct {
	dir   string
	level int
	parts []part
	done  bool
}

type part struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	size int64
	recs int64
	err  error
}

// NewSpill creates a spill of n partitions (1 to MaxPartitions) in a new
// directory under dir (os.TempDir() when empty).
func NewSpill(dir string, n int) (*Spill, error) { return newSpill(dir, n, 0) }

func newSpill(dir string, n, level int) (*Spill, error) {
	if n < 1 || n > MaxPartitions {
		return nil, fmt.Errorf("spill: %d partitions: want 1 to %d", n, MaxPartitions)
	}
	d, err := os.MkdirTemp(dir, "fold-spill-")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	s := &Spill{dir: d, level: level, parts: make([]part, n)}
	for p := range s.parts {
		f, err := os.Create(s.path(p))
		if err != nil {
			_ = s.Remove()
			return nil, fmt.Errorf("spill: %w", err)
		}
		s.parts[p].f, s.parts[p].w = f, bufio.NewWriterSize(f, writeBuffer)
	}
	return s, nil
}

func (s *Spill) path(p int) string { return filepath.Join(s.dir, strconv.Itoa(p)) }

// Partitions is the number of partitions.
func (s *Spill) Partitions() int { return len(s.parts) }

// Partition returns the partition of the item with these keys.
func (s *Spill) Partition(keys []byte) int { return partition(keys, s.level, len(s.parts)) }

// partition places keys among n partitions at a level of splitting: each
// level mixes the hash differently, so that a partition split again
// spreads its items rather than keeping them together.
func partition(keys []byte, level, n int) int {
	// FNV-1a, then a splitmix64 finaliser with the level folded in.
	h := uint64(14695981039346656037)
	for _, c := range keys {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= uint64(level+1) * 0x9e3779b97f4a7c15
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return int(h % uint64(n))
}

// Add appends a record to its partition.
func (s *Spill) Add(r Rec) error {
	if len(r.OrderKey) > 255 {
		return fmt.Errorf("spill: order key of %d bytes", len(r.OrderKey))
	}
	p := &s.parts[s.Partition(r.Keys)]
	var hdr [2 * binary.MaxVarintLen64]byte
	nk := binary.PutUvarint(hdr[binary.MaxVarintLen64:], uint64(len(r.Keys)))
	body := nk + len(r.Keys) + 2 + len(r.OrderKey) + len(r.Image)
	if body > maxRecord {
		return fmt.Errorf("spill: record of %d bytes", body)
	}
	nb := binary.PutUvarint(hdr[:], uint64(body))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return p.err
	}
	if p.w == nil {
		return errors.New("spill: add after close")
	}
	w := p.w
	w.Write(hdr[:nb])
	w.Write(hdr[binary.MaxVarintLen64 : binary.MaxVarintLen64+nk])
	w.Write(r.Keys)
	w.WriteByte(byte(r.Kind))
	w.WriteByte(byte(len(r.OrderKey)))
	w.Write(r.OrderKey)
	if _, err := w.Write(r.Image); err != nil { // bufio keeps its first error
		p.err = fmt.Errorf("spill: %w", err)
		return p.err
	}
	p.size += int64(nb + body)
	p.recs++
	return nil
}

// AddLine parses a line (Parse) and adds it. A line that does not parse is
// returned as Parse's error and not added.
func (s *Spill) AddLine(line []byte) error {
	l, err := Parse(line)
	if err != nil {
		return err
	}
	return s.Add(Rec(l))
}

// Finish flushes and closes the partition files; the spill can then be
// read. It is idempotent.
func (s *Spill) Finish() error {
	if s.done {
		return nil
	}
	s.done = true
	var first error
	for i := range s.parts {
		p := &s.parts[i]
		p.mu.Lock()
		err := p.err
		if p.w != nil {
			if e := p.w.Flush(); err == nil && e != nil {
				err = fmt.Errorf("spill: %w", e)
			}
			if e := p.f.Close(); err == nil && e != nil {
				err = fmt.Errorf("spill: %w", e)
			}
			p.w, p.f = nil, nil
		}
		p.mu.Unlock()
		if first == nil {
			first = err
		}
	}
	return first
}

// Size returns the bytes spilled to partition p.
func (s *Spill) Size(p int) int64 { return s.parts[p].size }

// Records returns the records spilled to partition p.
func (s *Spill) Records(p int) int64 { return s.parts[p].recs }

// Bytes returns the bytes spilled to all partitions.
func (s *Spill) Bytes() int64 {
	var n int64
	for i := range s.parts {
		n += s.parts[i].size
	}
	return n
}

// Read calls fn for every record of partition p, in the order they were
// added, stopping at fn's first error. The spill must be finished.
func (s *Spill) Read(p int, fn func(Rec) error) error {
	if !s.done {
		return errors.New("spill: read before Finish")
	}
	f, err := os.Open(s.path(p))
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 256<<10)
	var buf []byte
	for {
		n, err := binary.ReadUvarint(br)
		if err == io.EOF {
			return nil
		}
		if err != nil || n > maxRecord {
			return fmt.Errorf("spill: partition %d: corrupt record header: %v", p, err)
		}
		if uint64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("spill: partition %d: %w", p, err)
		}
		r, ok := decode(buf)
		if !ok {
			return fmt.Errorf("spill: partition %d: corrupt record", p)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

// decode reads a record's body: uvarint key length, keys, kind, order key
// length, order key, image.
func decode(b []byte) (Rec, bool) {
	nk, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < nk+2 {
		return Rec{}, false
	}
	b = b[w:]
	r := Rec{Keys: b[:nk:nk], Kind: Kind(b[nk])}
	no := int(b[nk+1])
	b = b[nk+2:]
	if len(b) < no {
		return Rec{}, false
	}
	r.OrderKey, r.Image = b[:no:no], b[no:]
	if len(r.Image) == 0 {
		r.Image = nil
	}
	return r, true
}

// split re-partitions partition p into k partitions of a spill one level
// deeper, for a partition too large to fold in memory.
func (s *Spill) split(p, k int) (*Spill, error) {
	sub, err := newSpill(filepath.Dir(s.dir), k, s.level+1)
	if err != nil {
		return nil, err
	}
	err = s.Read(p, sub.Add)
	if e := sub.Finish(); err == nil {
		err = e
	}
	if err != nil {
		_ = sub.Remove()
		return nil, err
	}
	return sub, nil
}

// Remove closes and deletes the spill's files.
func (s *Spill) Remove() error {
	_ = s.Finish()
	if err := os.RemoveAll(s.dir); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	return nil
}
