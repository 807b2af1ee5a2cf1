package fakedatabricks

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// dbfsState is the DBFS API's state, guarded by Workspace.mu.
type dbfsState struct {
	files      map[string]*File
	puts       int
	handles    map[int64]*dbfsUpload
	nextHandle int64
}

// dbfsUpload is an open create/add-block stream.
type dbfsUpload struct {
	path string
	h    hash.Hash
	n    int64
	data []byte
}

// DBFSFiles returns the DBFS files by path; a streamed file appears once
// its handle is closed.
func (w *Workspace) DBFSFiles() map[string]File { return w.copyFiles(w.dbfs.files) }

// DBFSPuts counts calls to the 1 MB-limited dbfs/put, so tests can prove
// that large objects are streamed instead.
func (w *Workspace) DBFSPuts() int { w.mu.Lock(); defer w.mu.Unlock(); return w.dbfs.puts }

// maxBlock is the DBFS limit on one add-block's (and put's) base64 data:
// "If the block of data exceeds 1 MB, this call will throw an exception
// with MAX_BLOCK_SIZE_EXCEEDED"
// (https://docs.databricks.com/api/files/v2/add-block.md).
const maxBlock = 1 << 20

// dbfsRequest is the body of every DBFS call used here.
type dbfsRequest struct {
	Path      string `json:"path"`
	Overwrite bool   `json:"overwrite"`
	Handle    int64  `json:"handle"`
	Data      string `json:"data"`
	Contents  string `json:"contents"`
}

// dbfsCall serves POST /api/2.0/dbfs/{create,add-block,close,put}
// (https://docs.databricks.com/api/files/v2/dbfs.md); each answers 200 with
// a JSON object.
func (w *Workspace) dbfsCall(rw http.ResponseWriter, r *http.Request, call string) {
	var req dbfsRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		apiError(rw, http.StatusBadRequest, "MALFORMED_REQUEST", err.Error())
		return
	}
	if (call == "create" || call == "put") && !strings.HasPrefix(req.Path, "/") {
		// "The path should be the absolute DBFS path."
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "path must be absolute")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch call {
	case "create":
		w.dbfsCreate(rw, req)
	case "add-block":
		w.dbfsAddBlock(rw, req)
	case "close":
		w.dbfsClose(rw, req)
	case "put":
		w.dbfsPut(rw, req)
	default:
		apiError(rw, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "no DBFS call "+call)
	}
}

// dbfsCreate opens a stream and answers its handle. "If a file or
// directory already exists on the given path and overwrite is set to
// false, this call will throw an exception with RESOURCE_ALREADY_EXISTS"
// (https://docs.databricks.com/api/files/v2/create.md). The caller holds
// w.mu.
func (w *Workspace) dbfsCreate(rw http.ResponseWriter, req dbfsRequest) {
	if _, ok := w.dbfs.files[req.Path]; ok && !req.Overwrite {
		apiError(rw, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", "file exists")
		return
	}
	w.dbfs.nextHandle++
	w.dbfs.handles[w.dbfs.nextHandle] = &dbfsUpload{path: req.Path, h: sha256.New()}
	writeJSON(rw, http.StatusOK, map[string]int64{"handle": w.dbfs.nextHandle})
}

// dbfsAddBlock appends base64 data to an open stream; an unknown handle is
// RESOURCE_DOES_NOT_EXIST (https://docs.databricks.com/api/files/v2/add-block.md).
// The caller holds w.mu.
func (w *Workspace) dbfsAddBlock(rw http.ResponseWriter, req dbfsRequest) {
	u, ok := w.dbfs.handles[req.Handle]
	if !ok {
		apiError(rw, http.StatusBadRequest, "RESOURCE_DOES_NOT_EXIST", "unknown handle "+strconv.FormatInt(req.Handle, 10))
		return
	}
	if len(req.Data) > maxBlock {
		apiError(rw, http.StatusBadRequest, "MAX_BLOCK_SIZE_EXCEEDED", fmt.Sprintf("block of %d bytes exceeds %d", len(req.Data), maxBlock))
		return
	}
	b, err := base64.StdEncoding.DecodeString(req.Data)
	if err != nil {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "data is not base64")
		return
	}
	u.h.Write(b)
	u.n += int64(len(b))
	if u.n <= w.keepLimit {
		u.data = append(u.data, b...)
	} else {
		u.data = nil
	}
	writeJSON(rw, http.StatusOK, map[string]any{})
}

// dbfsClose closes a stream, storing the file; an unknown (or already
// closed) handle is RESOURCE_DOES_NOT_EXIST
// (https://docs.databricks.com/api/files/v2/close.md). The caller holds
// w.mu.
func (w *Workspace) dbfsClose(rw http.ResponseWriter, req dbfsRequest) {
	u, ok := w.dbfs.handles[req.Handle]
	if !ok {
		apiError(rw, http.StatusBadRequest, "RESOURCE_DOES_NOT_EXIST", "unknown handle "+strconv.FormatInt(req.Handle, 10))
		return
	}
	delete(w.dbfs.handles, req.Handle)
	w.storeDBFS(u.path, &File{Size: u.n, SHA256: hex.EncodeToString(u.h.Sum(nil)), Data: u.data})
	writeJSON(rw, http.StatusOK, map[string]any{})
}

// dbfsPut stores base64 contents of at most 1 MB in one call; overwrite
// defaults to false (https://docs.databricks.com/api/files/v2/put.md). The
// caller holds w.mu.
func (w *Workspace) dbfsPut(rw http.ResponseWriter, req dbfsRequest) {
	w.dbfs.puts++
	if len(req.Contents) > maxBlock {
		apiError(rw, http.StatusBadRequest, "MAX_BLOCK_SIZE_EXCEEDED", "contents exceed 1 MB")
		return
	}
	if _, ok := w.dbfs.files[req.Path]; ok && !req.Overwrite {
		apiError(rw, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", "file exists")
		return
	}
	b, err := base64.StdEncoding.DecodeString(req.Contents)
	if err != nil {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "contents is not base64")
		return
	}
	sum := sha256.Sum256(b)
	f := &File{Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
	if f.Size <= w.keepLimit {
		f.Data = b
	}
	w.storeDBFS(req.Path, f)
	writeJSON(rw, http.StatusOK, map[string]any{})
}

// storeDBFS stores a DBFS file, counting the writes to its path. The
// caller holds w.mu.
func (w *Workspace) storeDBFS(path string, f *File) {
	f.Writes = 1
	if old, ok := w.dbfs.files[path]; ok {
		f.Writes += old.Writes
	}
	w.dbfs.files[path] = f
}
