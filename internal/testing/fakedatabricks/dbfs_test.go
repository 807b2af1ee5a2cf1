package fakedatabricks

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// dbfsStep is one DBFS call. body builds the request from the handle the
// latest create answered (0 before any).
type dbfsStep struct {
	call         string
	body         func(handle int64) map[string]any
	expectStatus int
	expectCode   string
}

func create(path string, overwrite bool) func(int64) map[string]any {
	return func(int64) map[string]any { return map[string]any{"path": path, "overwrite": overwrite} }
}

func addBlock(data []byte) func(int64) map[string]any {
	return func(h int64) map[string]any { return map[string]any{"handle": h, "data": b64(data)} }
}

func closeHandle(h int64) map[string]any { return map[string]any{"handle": h} }

func withHandle(h int64, data string) func(int64) map[string]any {
	return func(int64) map[string]any { return map[string]any{"handle": h, "data": data} }
}

// TestDBFSStreaming: create answers a handle, add-block appends base64
// data of at most 1 MB, close stores the file; an unknown handle is
// RESOURCE_DOES_NOT_EXIST, an existing file without overwrite is
// RESOURCE_ALREADY_EXISTS (https://docs.databricks.com/api/files/v2/create.md,
// https://docs.databricks.com/api/files/v2/add-block.md,
// https://docs.databricks.com/api/files/v2/close.md,
// https://docs.databricks.com/api/files/v2/put.md).
func TestDBFSStreaming(t *testing.T) {
	const path = "/mnt/cdc/f.jsonl.gz"
	a, b := []byte("first block\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000)
	ab := append(append([]byte{}, a...), b...)
	ok := func(call string, body func(int64) map[string]any) dbfsStep {
		return dbfsStep{call, body, 200, ""}
	}
	tests := []struct {
		name       string
		steps      []dbfsStep
		expectFile *File // at path; nil: none
		expectPuts int
	}{
		{"create, blocks, close assembles the file",
			[]dbfsStep{ok("create", create(path, true)), ok("add-block", addBlock(a)), ok("add-block", addBlock(b)), ok("close", closeHandle)},
			fileOf(ab, 1), 0},
		{"no blocks: an empty file",
			[]dbfsStep{ok("create", create(path, false)), ok("close", closeHandle)},
			&File{SHA256: sha(nil), Writes: 1}, 0},
		{"no file until close",
			[]dbfsStep{ok("create", create(path, true)), ok("add-block", addBlock(a))},
			nil, 0},
		{"add-block to an unknown handle",
			[]dbfsStep{ok("create", create(path, true)), {"add-block", withHandle(999, b64(a)), 400, "RESOURCE_DOES_NOT_EXIST"}},
			nil, 0},
		{"close of an unknown handle",
			[]dbfsStep{{"close", closeHandle, 400, "RESOURCE_DOES_NOT_EXIST"}},
			nil, 0},
		{"close twice",
			[]dbfsStep{ok("create", create(path, true)), ok("add-block", addBlock(a)), ok("close", closeHandle), {"close", closeHandle, 400, "RESOURCE_DOES_NOT_EXIST"}},
			fileOf(a, 1), 0},
		{"add-block after close",
			[]dbfsStep{ok("create", create(path, true)), ok("close", closeHandle), {"add-block", addBlock(a), 400, "RESOURCE_DOES_NOT_EXIST"}},
			&File{SHA256: sha(nil), Writes: 1}, 0},
		{"a block of 1 MB is accepted",
			[]dbfsStep{ok("create", create(path, true)), ok("add-block", withHandleData(strings.Repeat("A", 1<<20))), ok("close", closeHandle)},
			fileOf(bytes.Repeat([]byte{0}, 3<<18), 1), 0},
		{"a block over 1 MB is refused",
			[]dbfsStep{ok("create", create(path, true)), {"add-block", withHandleData(strings.Repeat("A", 1<<20+4)), 400, "MAX_BLOCK_SIZE_EXCEEDED"}, ok("close", closeHandle)},
			&File{SHA256: sha(nil), Writes: 1}, 0},
		{"data that is not base64 is refused",
			[]dbfsStep{ok("create", create(path, true)), {"add-block", withHandleData("not base64!"), 400, "INVALID_PARAMETER_VALUE"}},
			nil, 0},
		{"create over a file without overwrite is refused",
			[]dbfsStep{ok("create", create(path, true)), ok("add-block", addBlock(a)), ok("close", closeHandle), {"create", create(path, false), 400, "RESOURCE_ALREADY_EXISTS"}},
			fileOf(a, 1), 0},
		{"create over a file with overwrite replaces it",
			[]dbfsStep{ok("create", create(path, true)), ok("add-block", addBlock(a)), ok("close", closeHandle),
				ok("create", create(path, true)), ok("add-block", addBlock(b)), ok("close", closeHandle)},
			fileOf(b, 2), 0},
		{"a restarted upload replaces the abandoned one",
			[]dbfsStep{ok("create", create(path, true)), ok("add-block", addBlock(a)),
				ok("create", create(path, true)), ok("add-block", addBlock(b)), ok("close", closeHandle)},
			fileOf(b, 1), 0},
		{"relative path refused",
			[]dbfsStep{{"create", create("mnt/f", true), 400, "INVALID_PARAMETER_VALUE"}},
			nil, 0},
		{"put stores the file and is counted",
			[]dbfsStep{ok("put", func(int64) map[string]any { return map[string]any{"path": path, "contents": b64(a)} })},
			fileOf(a, 1), 1},
		{"put over 1 MB is refused and counted",
			[]dbfsStep{{"put", func(int64) map[string]any {
				return map[string]any{"path": path, "contents": strings.Repeat("A", 1<<20+4)}
			}, 400, "MAX_BLOCK_SIZE_EXCEEDED"}},
			nil, 1},
		{"put over a file without overwrite is refused",
			[]dbfsStep{ok("put", func(int64) map[string]any { return map[string]any{"path": path, "contents": b64(a)} }),
				{"put", func(int64) map[string]any { return map[string]any{"path": path, "contents": b64(b)} }, 400, "RESOURCE_ALREADY_EXISTS"}},
			fileOf(a, 1), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("t"))
			var handle int64
			for i, st := range tc.steps {
				got := s.postJSON(t, dbfsPrefix+st.call, "t", st.body(handle))
				if got.status != st.expectStatus {
					t.Fatalf("step %d (%s) status: got %d, expect %d (%s)", i, st.call, got.status, st.expectStatus, got.body)
				}
				if code := got.errorCode(); code != st.expectCode {
					t.Errorf("step %d (%s) error_code: got %q, expect %q", i, st.call, code, st.expectCode)
				}
				if st.call == "create" && got.status == http.StatusOK {
					h := decode[struct {
						Handle *int64 `json:"handle"`
					}](t, got)
					if h.Handle == nil {
						t.Fatalf("step %d: create answered no handle: %s", i, got.body)
					}
					if *h.Handle == handle {
						t.Errorf("step %d: create answered handle %d again, expect a new one", i, handle)
					}
					handle = *h.Handle
				}
			}
			files := s.ws.DBFSFiles()
			f, stored := files[path]
			switch {
			case tc.expectFile == nil && len(files) != 0:
				t.Errorf("files: got %v, expect none", files)
			case tc.expectFile != nil && !stored:
				t.Errorf("files: got %v, expect %s", files, path)
			case tc.expectFile != nil:
				if f.Size != tc.expectFile.Size || f.SHA256 != tc.expectFile.SHA256 {
					t.Errorf("file: got size %d sha %s, expect %d %s", f.Size, f.SHA256, tc.expectFile.Size, tc.expectFile.SHA256)
				}
				if !bytes.Equal(f.Data, tc.expectFile.Data) {
					t.Errorf("data: got %d bytes, expect %d", len(f.Data), len(tc.expectFile.Data))
				}
				if f.Writes != tc.expectFile.Writes {
					t.Errorf("writes: got %d, expect %d", f.Writes, tc.expectFile.Writes)
				}
			}
			if got := s.ws.DBFSPuts(); got != tc.expectPuts {
				t.Errorf("puts: got %d, expect %d", got, tc.expectPuts)
			}
		})
	}
}

func withHandleData(data string) func(int64) map[string]any {
	return func(h int64) map[string]any { return map[string]any{"handle": h, "data": data} }
}
