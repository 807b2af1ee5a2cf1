package fakedatabricks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// File is a stored file: its size and digest, and its bytes when small.
type File struct {
	Size   int64
	SHA256 string
	// Data holds the content when it is at most the keep limit.
	Data []byte
	// Writes counts the uploads that produced this path.
	Writes int
}

// Run is a job run started by run-now.
type Run struct {
	RunID            int64
	JobID            int64
	Params           map[string]string
	IdempotencyToken string
}

// Load is one file loaded by COPY INTO.
type Load struct{ Table, Source string }

// Request is one request the workspace answered.
type Request struct {
	Method, Path string
	Status       int
	// Bearer is the token presented, if any.
	Bearer string
}

// Fault makes matching requests fail. Faults are used in the order added.
type Fault struct {
	// Method and PathPrefix select requests; empty matches all.
	Method, PathPrefix string
	// Status is the status to answer; 0 answers normally after Delay.
	Status int
	// ErrorCode goes into the JSON error body.
	ErrorCode string
	// RetryAfter is sent as the Retry-After header when set.
	RetryAfter string
	// Location is sent with redirect statuses.
	Location string
	// Delay holds the answer back, as a slow or hung server would.
	Delay time.Duration
	// Times is how many requests the fault affects; 0 means once.
	Times int
}

// Workspace is the fake. Create it with New and serve it with any HTTP
// server (httptest.NewTLSServer in tests).
type Workspace struct {
	mu            sync.Mutex
	tokens        map[string]bool
	clients       map[string]string
	tokenLifetime time.Duration
	keepLimit     int64
	statementPoll int
	failSQL       []string

	files      map[string]*File
	dbfs       map[string]*File
	dbfsPuts   int
	handles    map[int64]*upload
	nextHandle int64
	runs       []Run
	byToken    map[string]int64
	statements map[string]*statement
	loaded     map[Load]bool
	loads      []Load
	requests   []Request
	faults     []Fault
	issued     int
}

type upload struct {
	path string
	h    hash.Hash
	n    int64
	data []byte
}

type statement struct {
	id, text, warehouse string
	polls               int
	final               string
	errMsg              string
	affected            int
}

// Option configures a Workspace.
type Option func(*Workspace)

// WithToken accepts a personal access token.
func WithToken(token string) Option { return func(w *Workspace) { w.tokens[token] = true } }

// WithClient accepts an OAuth service principal.
func WithClient(id, secret string) Option { return func(w *Workspace) { w.clients[id] = secret } }

// WithTokenLifetime sets the lifetime of issued OAuth tokens (default 1h).
func WithTokenLifetime(d time.Duration) Option { return func(w *Workspace) { w.tokenLifetime = d } }

// WithKeepLimit keeps the bytes of files up to n bytes (default 64 MiB);
// larger files keep only their size and digest.
func WithKeepLimit(n int64) Option { return func(w *Workspace) { w.keepLimit = n } }

// WithStatementPolls makes statements finish after n polls (default 1).
func WithStatementPolls(n int) Option { return func(w *Workspace) { w.statementPoll = n } }

// WithFailingStatements fails statements that contain substr.
func WithFailingStatements(substr string) Option {
	return func(w *Workspace) { w.failSQL = append(w.failSQL, substr) }
}

// New returns a workspace.
func New(opts ...Option) *Workspace {
	w := &Workspace{
		tokens: map[string]bool{}, clients: map[string]string{}, tokenLifetime: time.Hour, keepLimit: 64 << 20,
		statementPoll: 1, files: map[string]*File{}, dbfs: map[string]*File{}, handles: map[int64]*upload{},
		byToken: map[string]int64{}, statements: map[string]*statement{}, loaded: map[Load]bool{},
	}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Inject adds a fault.
func (w *Workspace) Inject(f Fault) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	w.faults = append(w.faults, f)
}

// RevokeToken stops accepting a token, as when a secret is rotated.
func (w *Workspace) RevokeToken(token string) {
	w.mu.Lock()
	delete(w.tokens, token)
	w.mu.Unlock()
}

// AddToken starts accepting a token.
func (w *Workspace) AddToken(token string) {
	w.mu.Lock()
	w.tokens[token] = true
	w.mu.Unlock()
}

// Files returns the volume files by path.
func (w *Workspace) Files() map[string]File { return w.copyFiles(w.files) }

// DBFSFiles returns the DBFS files by path.
func (w *Workspace) DBFSFiles() map[string]File { return w.copyFiles(w.dbfs) }

func (w *Workspace) copyFiles(m map[string]*File) map[string]File {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]File{}
	for k, v := range m {
		out[k] = *v
	}
	return out
}

// DBFSPuts counts calls to the 1 MB-limited dbfs/put.
func (w *Workspace) DBFSPuts() int { w.mu.Lock(); defer w.mu.Unlock(); return w.dbfsPuts }

// Runs returns the job runs started.
func (w *Workspace) Runs() []Run {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Run(nil), w.runs...)
}

// Loads returns the files COPY INTO loaded, each once.
func (w *Workspace) Loads() []Load {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Load(nil), w.loads...)
}

// Requests returns every request answered.
func (w *Workspace) Requests() []Request {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Request(nil), w.requests...)
}

// TokensIssued counts OAuth tokens issued.
func (w *Workspace) TokensIssued() int { w.mu.Lock(); defer w.mu.Unlock(); return w.issued }

type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// ServeHTTP implements http.Handler.
func (w *Workspace) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: rw}
	bearer, isBearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !isBearer {
		bearer = ""
	}
	defer func() {
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		w.mu.Lock()
		w.requests = append(w.requests, Request{Method: r.Method, Path: r.URL.Path, Status: status, Bearer: bearer})
		w.mu.Unlock()
	}()
	if f, ok := w.takeFault(r); ok {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if f.Status != 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			if f.RetryAfter != "" {
				rec.Header().Set("Retry-After", f.RetryAfter)
			}
			if f.Location != "" {
				rec.Header().Set("Location", f.Location)
			}
			code := f.ErrorCode
			if code == "" {
				code = http.StatusText(f.Status)
			}
			apiError(rec, f.Status, code, "injected fault")
			return
		}
	}
	if r.URL.Path == "/oidc/v1/token" {
		w.token(rec, r)
		return
	}
	w.mu.Lock()
	ok := bearer != "" && w.tokens[bearer]
	w.mu.Unlock()
	if !ok {
		apiError(rec, http.StatusUnauthorized, "UNAUTHENTICATED", "Invalid access token.")
		return
	}
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/api/2.0/fs/files/") && r.Method == http.MethodPut:
		w.putFile(rec, r, strings.TrimPrefix(p, "/api/2.0/fs/files"))
	case p == "/api/2.1/jobs/run-now" && r.Method == http.MethodPost:
		w.runNow(rec, r)
	case p == "/api/2.0/sql/statements" && r.Method == http.MethodPost:
		w.submit(rec, r)
	case strings.HasPrefix(p, "/api/2.0/sql/statements/") && r.Method == http.MethodGet:
		w.poll(rec, strings.TrimPrefix(p, "/api/2.0/sql/statements/"))
	case strings.HasPrefix(p, "/api/2.0/dbfs/") && r.Method == http.MethodPost:
		w.dbfsCall(rec, r, strings.TrimPrefix(p, "/api/2.0/dbfs/"))
	default:
		apiError(rec, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "No API found for '"+r.Method+" "+p+"'")
	}
}

func (w *Workspace) takeFault(r *http.Request) (Fault, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, f := range w.faults {
		if f.Times > 0 && (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			w.faults[i].Times--
			return f, true
		}
	}
	return Fault{}, false
}

func apiError(rw http.ResponseWriter, status int, code, msg string) {
	writeJSON(rw, status, map[string]string{"error_code": code, "message": msg})
}

func writeJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

func randomID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (w *Workspace) token(rw http.ResponseWriter, r *http.Request) {
	id, sec, ok := r.BasicAuth()
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	want, known := w.clients[id]
	if !ok || !known || want != sec {
		writeJSON(rw, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Client authentication failed"})
		return
	}
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != "all-apis" {
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "grant_type client_credentials and scope all-apis required"})
		return
	}
	tok := "oauth-" + randomID()
	w.tokens[tok] = true
	w.issued++
	writeJSON(rw, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(w.tokenLifetime.Seconds()), "scope": "all-apis"})
}

var volumePath = regexp.MustCompile(`^/Volumes/[^/]+/[^/]+/[^/]+/.+`)

func (w *Workspace) putFile(rw http.ResponseWriter, r *http.Request, path string) {
	if !volumePath.MatchString(path) {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "path must be /Volumes/<catalog>/<schema>/<volume>/<file>")
		return
	}
	if r.ContentLength > 5<<30 {
		apiError(rw, http.StatusRequestEntityTooLarge, "FILE_TOO_LARGE", "files are limited to 5 GiB")
		return
	}
	overwrite := r.URL.Query().Get("overwrite") != "false"
	w.mu.Lock()
	_, exists := w.files[path]
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
	if old, ok := w.files[path]; ok {
		f.Writes = old.Writes
	}
	f.Writes++
	w.files[path] = f
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

func (w *Workspace) runNow(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		JobID            int64             `json:"job_id"`
		JobParameters    map[string]string `json:"job_parameters"`
		IdempotencyToken string            `json:"idempotency_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.JobID <= 0 {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "job_id is required")
		return
	}
	if len(req.IdempotencyToken) > 64 {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "idempotency_token must have at most 64 characters")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := w.byToken[req.IdempotencyToken]; ok && req.IdempotencyToken != "" {
		writeJSON(rw, http.StatusOK, map[string]int64{"run_id": id, "number_in_job": id})
		return
	}
	id := int64(len(w.runs) + 1000)
	w.runs = append(w.runs, Run{RunID: id, JobID: req.JobID, Params: req.JobParameters, IdempotencyToken: req.IdempotencyToken})
	if req.IdempotencyToken != "" {
		w.byToken[req.IdempotencyToken] = id
	}
	writeJSON(rw, http.StatusOK, map[string]int64{"run_id": id, "number_in_job": id})
}

var copyInto = regexp.MustCompile(`(?is)^\s*COPY\s+INTO\s+(\S+)\s+FROM\s+'([^']*)'`)

func (w *Workspace) submit(rw http.ResponseWriter, r *http.Request) {
	var req struct {
		Statement   string `json:"statement"`
		WarehouseID string `json:"warehouse_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Statement == "" || req.WarehouseID == "" {
		apiError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "statement and warehouse_id are required")
		return
	}
	st := &statement{id: randomID(), text: req.Statement, warehouse: req.WarehouseID, final: "SUCCEEDED"}
	for _, s := range w.failSQL {
		if strings.Contains(req.Statement, s) {
			st.final, st.errMsg = "FAILED", "[PARSE_SYNTAX_ERROR] injected failure"
		}
	}
	w.mu.Lock()
	w.statements[st.id] = st
	w.mu.Unlock()
	w.answer(rw, st, w.statementPoll == 0)
}

func (w *Workspace) poll(rw http.ResponseWriter, id string) {
	w.mu.Lock()
	st, ok := w.statements[id]
	if ok {
		st.polls++
	}
	w.mu.Unlock()
	if !ok {
		apiError(rw, http.StatusNotFound, "NOT_FOUND", "statement "+id+" not found")
		return
	}
	w.answer(rw, st, st.polls >= w.statementPoll)
}

func (w *Workspace) answer(rw http.ResponseWriter, st *statement, done bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	state := "RUNNING"
	if done {
		state = st.final
		if state == "SUCCEEDED" && st.affected == 0 {
			st.affected = -1
			if m := copyInto.FindStringSubmatch(st.text); m != nil {
				l := Load{Table: m[1], Source: m[2]}
				if !w.loaded[l] { // COPY INTO skips files it has loaded
					w.loaded[l] = true
					w.loads = append(w.loads, l)
					st.affected = 1
				}
			}
		}
	}
	status := map[string]any{"state": state}
	if state == "FAILED" {
		status["error"] = map[string]string{"error_code": "BAD_REQUEST", "message": st.errMsg}
	}
	writeJSON(rw, http.StatusOK, map[string]any{"statement_id": st.id, "status": status})
}

// maxBlock is the DBFS limit on one add-block's base64 data.
const maxBlock = 1 << 20

func (w *Workspace) dbfsCall(rw http.ResponseWriter, r *http.Request, call string) {
	var req struct {
		Path      string `json:"path"`
		Overwrite bool   `json:"overwrite"`
		Handle    int64  `json:"handle"`
		Data      string `json:"data"`
		Contents  string `json:"contents"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&req); err != nil {
		apiError(rw, http.StatusBadRequest, "MALFORMED_REQUEST", err.Error())
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch call {
	case "create":
		if _, ok := w.dbfs[req.Path]; ok && !req.Overwrite {
			apiError(rw, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", "file exists")
			return
		}
		w.nextHandle++
		w.handles[w.nextHandle] = &upload{path: req.Path, h: sha256.New()}
		writeJSON(rw, http.StatusOK, map[string]int64{"handle": w.nextHandle})
	case "add-block":
		u, ok := w.handles[req.Handle]
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
	case "close":
		u, ok := w.handles[req.Handle]
		if !ok {
			apiError(rw, http.StatusBadRequest, "RESOURCE_DOES_NOT_EXIST", "unknown handle")
			return
		}
		delete(w.handles, req.Handle)
		writes := 1
		if old, ok := w.dbfs[u.path]; ok {
			writes += old.Writes
		}
		w.dbfs[u.path] = &File{Size: u.n, SHA256: hex.EncodeToString(u.h.Sum(nil)), Data: u.data, Writes: writes}
		writeJSON(rw, http.StatusOK, map[string]any{})
	case "put":
		w.dbfsPuts++
		if len(req.Contents) > maxBlock {
			apiError(rw, http.StatusBadRequest, "MAX_BLOCK_SIZE_EXCEEDED", "contents exceed 1 MB")
			return
		}
		writeJSON(rw, http.StatusOK, map[string]any{})
	default:
		apiError(rw, http.StatusNotFound, "ENDPOINT_NOT_FOUND", "no DBFS call "+call)
	}
}
