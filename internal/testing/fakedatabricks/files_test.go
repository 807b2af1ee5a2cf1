package fakedatabricks

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func fileOf(b []byte, writes int) *File {
	return &File{Size: int64(len(b)), SHA256: sha(b), Data: b, Writes: writes}
}

// TestFilesUpload: "The contents of the resulting file will be exactly the
// bytes sent in the request body"; overwrite "If true or unspecified, an
// existing file will be overwritten. If false, an error will be returned";
// "If the request is successful, there is no response body"
// (https://docs.databricks.com/api/files/v2/upload-file.md).
func TestFilesUpload(t *testing.T) {
	binary := make([]byte, 0, 512)
	for i := range 512 {
		binary = append(binary, byte(i))
	}
	one, two := []byte("one\n"), []byte("two, longer\r\n")
	const path = "/Volumes/main/cdc/landing/f.jsonl.gz"
	type put struct {
		urlPath, query string
		body           []byte
		expectStatus   int
		expectCode     string
	}
	tests := []struct {
		name       string
		puts       []put
		expectPath string
		expectFile *File // nil: nothing stored
	}{
		{"stores the exact bytes", []put{{path, "overwrite=true", binary, 204, ""}}, path, fileOf(binary, 1)},
		{"stores an empty file", []put{{path, "", []byte{}, 204, ""}}, path, &File{SHA256: sha(nil), Writes: 1}},
		{"overwrite unspecified replaces", []put{{path, "", one, 204, ""}, {path, "", two, 204, ""}}, path, fileOf(two, 2)},
		{"overwrite=true replaces", []put{{path, "overwrite=true", one, 204, ""}, {path, "overwrite=true", two, 204, ""}}, path, fileOf(two, 2)},
		{"overwrite=false refuses an existing file", []put{{path, "", one, 204, ""}, {path, "overwrite=false", two, 409, "ALREADY_EXISTS"}}, path, fileOf(one, 1)},
		{"overwrite=false stores a new file", []put{{path, "overwrite=false", one, 204, ""}}, path, fileOf(one, 1)},
		{"escaped segments are stored decoded", []put{{"/Volumes/main/cdc/landing/table=Orders/a%20b%2Bc.jsonl.gz", "overwrite=true", one, 204, ""}},
			"/Volumes/main/cdc/landing/table=Orders/a b+c.jsonl.gz", fileOf(one, 1)},
		{"outside a volume refused", []put{{"/tmp/f", "", one, 400, "INVALID_PARAMETER_VALUE"}}, "/tmp/f", nil},
		{"volume without a file refused", []put{{"/Volumes/main/cdc/landing", "", one, 400, "INVALID_PARAMETER_VALUE"}}, "/Volumes/main/cdc/landing", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("t"))
			for i, p := range tc.puts {
				u := filesPrefix + p.urlPath
				if p.query != "" {
					u += "?" + p.query
				}
				got := s.request(t, http.MethodPut, u, "t", p.body, "application/octet-stream")
				if got.status != p.expectStatus {
					t.Errorf("put %d status: got %d, expect %d (%s)", i, got.status, p.expectStatus, got.body)
				}
				if code := got.errorCode(); code != p.expectCode {
					t.Errorf("put %d error_code: got %q, expect %q", i, code, p.expectCode)
				}
				if got.status == http.StatusNoContent && len(got.body) != 0 {
					t.Errorf("put %d body: got %q, expect none", i, got.body)
				}
			}
			files := s.ws.Files()
			f, ok := files[tc.expectPath]
			if tc.expectFile == nil {
				if len(files) != 0 {
					t.Errorf("files: got %v, expect none", files)
				}
				return
			}
			if !ok {
				t.Fatalf("files: got %v, expect %s", files, tc.expectPath)
			}
			if f.Size != tc.expectFile.Size {
				t.Errorf("size: got %d, expect %d", f.Size, tc.expectFile.Size)
			}
			if f.SHA256 != tc.expectFile.SHA256 {
				t.Errorf("sha256: got %s, expect %s", f.SHA256, tc.expectFile.SHA256)
			}
			if !bytes.Equal(f.Data, tc.expectFile.Data) {
				t.Errorf("data: got %q, expect %q", f.Data, tc.expectFile.Data)
			}
			if f.Writes != tc.expectFile.Writes {
				t.Errorf("writes: got %d, expect %d", f.Writes, tc.expectFile.Writes)
			}
		})
	}
}

// TestFilesUploadCutShort: a body that ends before its Content-Length is
// not a file; nothing is stored. net/http's client refuses to send such a
// request, so it is written by hand on a TLS connection.
func TestFilesUploadCutShort(t *testing.T) {
	s := serve(t, WithToken("t"))
	conn, err := tls.Dial("tcp", s.srv.Listener.Addr().String(), s.srv.Client().Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "PUT "+filesPrefix+"/Volumes/c/s/v/f HTTP/1.1\r\nHost: workspace\r\n"+
		"Authorization: Bearer t\r\nContent-Length: 10\r\n\r\n12345")
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status: got %d, expect 400", resp.StatusCode)
	}
	if files := s.ws.Files(); len(files) != 0 {
		t.Errorf("files: got %v, expect none", files)
	}
}

// TestKeepLimit: files above the keep limit keep their size and digest but
// not their bytes, for volume and DBFS files alike.
func TestKeepLimit(t *testing.T) {
	tests := []struct {
		name       string
		limit      int64
		content    []byte
		expectData []byte
	}{
		{"at the limit", 4, []byte("abcd"), []byte("abcd")},
		{"above the limit", 4, []byte("abcde"), nil},
		{"limit 0", 0, []byte("a"), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, WithToken("t"), WithKeepLimit(tc.limit))
			if got := s.request(t, http.MethodPut, filesPrefix+"/Volumes/c/s/v/f", "t", tc.content, ""); got.status != 204 {
				t.Fatalf("put: got %d, expect 204", got.status)
			}
			h := decode[struct{ Handle int64 }](t, s.postJSON(t, dbfsPrefix+"create", "t", map[string]any{"path": "/mnt/f", "overwrite": true}))
			s.postJSON(t, dbfsPrefix+"add-block", "t", map[string]any{"handle": h.Handle, "data": b64(tc.content)})
			s.postJSON(t, dbfsPrefix+"close", "t", map[string]any{"handle": h.Handle})
			for name, f := range map[string]File{"volume": s.ws.Files()["/Volumes/c/s/v/f"], "dbfs": s.ws.DBFSFiles()["/mnt/f"]} {
				if f.Size != int64(len(tc.content)) || f.SHA256 != sha(tc.content) {
					t.Errorf("%s: got size %d sha %s, expect %d %s", name, f.Size, f.SHA256, len(tc.content), sha(tc.content))
				}
				if !bytes.Equal(f.Data, tc.expectData) || (tc.expectData == nil) != (f.Data == nil) {
					t.Errorf("%s data: got %q, expect %q", name, f.Data, tc.expectData)
				}
			}
		})
	}
}
