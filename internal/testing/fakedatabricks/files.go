package fakedatabricks

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
)

// File is a stored file: its size and digest, and its bytes when small, so
// tests can prove a delivery intact without holding gigabytes in memory.
// Volume files (Files API) and DBFS files share it.
type File struct {
	Size   int64
	SHA256 string
	// Data holds the content when it is at most the keep limit.
	Data []byte
	// Writes counts the uploads that produced this path.
	Writes int
}

// filesState is the Files API's state, guarded by Workspace.mu.
type filesState struct {
	files map[string]*File
}

// WithKeepLimit keeps the bytes of files up to n bytes (default 64 MiB);
// larger files keep only their size and digest, so that benchmarks of
// multi-gigabyte objects measure the forwarder, not the fake. It applies to
// volume and DBFS files alike.
func WithKeepLimit(n int64) Option { return func(w *Workspace) { w.keepLimit = n } }

// Files returns the volume files by path.
func (w *Workspace) Files() map[string]File { return w.copyFiles(w.files.files) }

func (w *Workspace) copyFiles(m map[string]*File) map[string]File {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]File{}
	for k, v := range m {
		out[k] = *v
	}
	return out
}

// volumePath is a Unity Catalog volume file:
// /Volumes/<catalog>/<schema>/<volume>/<path>.
var volumePath = regexp.MustCompile(`^/Volumes/[^/]+/[^/]+/[^/]+/.+`)

// maxUpload is the Files API's limit on one upload.
const maxUpload = 5 << 30

// putFile serves PUT /api/2.0/fs/files{path} as documented
// (https://docs.databricks.com/api/files/v2/upload-file.md): the body is the
// raw file, stored exactly; overwrite "true or unspecified" replaces an
// existing file and "false" refuses it; success is 204 with no body. A body
// that ends before its Content-Length stores nothing.
func (w *Workspace) putFile(rw http.ResponseWriter, r *http.Request, path string) {
	if !volumePath.MatchString(path) {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "path must be /Volumes/<catalog>/<schema>/<volume>/<file>")
		return
	}
	if r.ContentLength > maxUpload {
		apiError(rw, http.StatusRequestEntityTooLarge, "FILE_TOO_LARGE", "files are limited to 5 GiB")
		return
	}
	overwrite := r.URL.Query().Get("overwrite") != "false"
	w.mu.Lock()
	_, exists := w.files.files[path]
	w.mu.Unlock()
	if exists && !overwrite {
		apiError(rw, http.StatusConflict, "ALREADY_EXISTS", "file exists")
		return
	}
	f, err := w.consume(r.Body)
	if err != nil {
		apiError(rw, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	if r.ContentLength >= 0 && f.Size != r.ContentLength {
		apiError(rw, http.StatusBadRequest, "BAD_REQUEST", "body shorter than Content-Length")
		return
	}
	w.mu.Lock()
	if old, ok := w.files.files[path]; ok {
		f.Writes = old.Writes
	}
	f.Writes++
	w.files.files[path] = f
	w.mu.Unlock()
	rw.WriteHeader(http.StatusNoContent)
}

// consume reads a body, keeping bytes only up to the keep limit.
func (w *Workspace) consume(body io.Reader) (*File, error) {
	h := sha256.New()
	var kept []byte
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, err := body.Read(buf)
		if k > 0 {
			h.Write(buf[:k])
			if n+int64(k) <= w.keepLimit {
				kept = append(kept, buf[:k]...)
			} else {
				kept = nil
			}
			n += int64(k)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if n > w.keepLimit {
		kept = nil
	}
	return &File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil)), Data: kept}, nil
}
