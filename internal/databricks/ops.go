package databricks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Opener opens the content to send; it is called once per attempt, so a
// retry sends the content again from the start.
type Opener func(ctx context.Context) (io.ReadCloser, error)

// checkPath refuses a path that is not absolute or has an empty, "." or
// ".." segment: a key such as "a/../../x" must not write outside the
// directory the destination template names. what names the kind of path
// in the message ("path", "DBFS path").
func checkPath(what, p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("%s %q is not absolute", what, p)
	}
	segs := strings.Split(p[1:], "/")
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			return nil, fmt.Errorf("%s %q has an empty, . or .. segment", what, p)
		}
	}
	return segs, nil
}

// escapePath escapes each segment of an absolute path.
func escapePath(p string) (string, error) {
	segs, err := checkPath("path", p)
	if err != nil {
		return "", err
	}
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return "/" + strings.Join(segs, "/"), nil
}

// filesUploadOK is the Files API upload's success. Its reference says "If
// the request is successful, there is no response body"
// (https://docs.databricks.com/api/workspace/files/upload): workspaces
// answer 204 No Content, and the reference's generic response is a 200.
// Anything else (201, 202 Accepted, 206, ...) is not a stored file.
var filesUploadOK = success{http.StatusNoContent, http.StatusOK}

// UploadFile streams size bytes from open to a Unity Catalog volume file
// with the Files API, overwriting any file at path, so a redelivery lands
// on the same file. Memory use does not grow with size.
func (c *Client) UploadFile(ctx context.Context, path string, size int64, open Opener) (Result, error) {
	esc, err := escapePath(path)
	if err != nil {
		return Result{}, err
	}
	const op = "upload file"
	return c.do(ctx, func(ctx context.Context, host, token string) error {
		body, err := open(ctx)
		if err != nil {
			return err // not retried here: S3 reads have their own retries
		}
		defer body.Close()
		return c.call(ctx, op, http.MethodPut, host+"/api/2.0/fs/files"+esc+"?overwrite=true", token,
			body, size, "application/octet-stream", filesUploadOK, nil)
	})
}

// RunNow starts a job run. Databricks starts exactly one run per
// idempotency token (at most 64 characters), so retries and redelivered
// events cannot start a second one.
func (c *Client) RunNow(ctx context.Context, jobID int64, params map[string]string, idempotencyToken string) (int64, Result, error) {
	if len(idempotencyToken) > 64 {
		return 0, Result{}, fmt.Errorf("idempotency token has %d characters; at most 64", len(idempotencyToken))
	}
	body, err := json.Marshal(map[string]any{"job_id": jobID, "job_parameters": params, "idempotency_token": idempotencyToken})
	if err != nil {
		return 0, Result{}, err
	}
	const op = "run job"
	var out struct {
		RunID int64 `json:"run_id"`
	}
	res, err := c.do(ctx, func(ctx context.Context, host, token string) error {
		out.RunID = 0
		if err := c.call(ctx, op, http.MethodPost, host+"/api/2.1/jobs/run-now", token,
			bytes.NewReader(body), int64(len(body)), "application/json", okJSON, &out); err != nil {
			return err
		}
		// run-now answers 200 with the run_id of the started run
		// (https://docs.databricks.com/api/workspace/jobs/runnow); without
		// one, no run is known to have started.
		if out.RunID <= 0 {
			return &APIError{Op: op, StatusCode: http.StatusOK, Message: "response lacks run_id, so no run is known to have started"}
		}
		return nil
	})
	return out.RunID, res, err
}

// StatementError is a SQL statement that ended in FAILED or CANCELED.
type StatementError struct {
	StatementID, State, ErrorCode, Message string
}

func (e *StatementError) Error() string {
	return fmt.Sprintf("databricks statement %s %s: %s %s", e.StatementID, e.State, e.ErrorCode, e.Message)
}

type statementStatus struct {
	StatementID string `json:"statement_id"`
	Status      struct {
		State string `json:"state"`
		Error struct {
			ErrorCode string `json:"error_code"`
			Message   string `json:"message"`
		} `json:"error"`
	} `json:"status"`
}

// ExecuteStatement runs statement on a SQL warehouse and waits for it to
// finish, polling while it is pending or running. It returns the
// statement ID, and a *StatementError when the statement failed.
func (c *Client) ExecuteStatement(ctx context.Context, warehouseID, statement string) (string, Result, error) {
	body, err := json.Marshal(map[string]any{
		"statement": statement, "warehouse_id": warehouseID,
		"wait_timeout": "30s", "on_wait_timeout": "CONTINUE", "disposition": "INLINE", "format": "JSON_ARRAY",
	})
	if err != nil {
		return "", Result{}, err
	}
	var st statementStatus
	total, err := c.do(ctx, func(ctx context.Context, host, token string) error {
		st = statementStatus{}
		return c.statementCall(ctx, "execute statement", http.MethodPost, host+"/api/2.0/sql/statements", token, body, &st)
	})
	if err != nil {
		return "", total, err
	}
	id := st.StatementID
	for {
		switch st.Status.State {
		case "SUCCEEDED", "CLOSED":
			return id, total, nil
		case "FAILED", "CANCELED":
			return id, total, &StatementError{StatementID: id, State: st.Status.State, ErrorCode: st.Status.Error.ErrorCode, Message: st.Status.Error.Message}
		case "PENDING", "RUNNING":
		default:
			return id, total, fmt.Errorf("databricks statement %s: unknown state %q", id, st.Status.State)
		}
		if err := c.sleep(ctx, c.poll); err != nil {
			return id, total, fmt.Errorf("databricks statement %s still %s: %w", id, st.Status.State, err)
		}
		res, err := c.do(ctx, func(ctx context.Context, host, token string) error {
			st = statementStatus{}
			return c.statementCall(ctx, "get statement", http.MethodGet, host+"/api/2.0/sql/statements/"+url.PathEscape(id), token, nil, &st)
		})
		total = total.Add(res)
		if err != nil {
			return id, total, err
		}
	}
}

// ExecuteStatementOnce runs statement as ExecuteStatement does, unless
// this client has already run the same statement on the same warehouse to
// success: for a statement that sets something up and changes nothing when
// repeated (CREATE TABLE IF NOT EXISTS), so that a warm function sends it
// once rather than before every delivery. ran reports whether it was sent
// now. A failure is not remembered, so the next call sends it again, and
// ForgetStatement makes the next call send it again after a success (when
// what it set up may be gone). Two calls at the same time may both send
// it, which such a statement allows.
func (c *Client) ExecuteStatementOnce(ctx context.Context, warehouseID, statement string) (id string, ran bool, res Result, err error) {
	key := warehouseID + "\x00" + statement
	c.ranMu.Lock()
	done := c.ran[key]
	c.ranMu.Unlock()
	if done {
		return "", false, Result{}, nil
	}
	id, res, err = c.ExecuteStatement(ctx, warehouseID, statement)
	if err != nil {
		return id, true, res, err
	}
	c.ranMu.Lock()
	if c.ran == nil {
		c.ran = map[string]bool{}
	}
	c.ran[key] = true
	c.ranMu.Unlock()
	return id, true, res, nil
}

// ForgetStatement makes the next ExecuteStatementOnce of statement on
// warehouseID send it again.
func (c *Client) ForgetStatement(warehouseID, statement string) {
	c.ranMu.Lock()
	delete(c.ran, warehouseID+"\x00"+statement)
	c.ranMu.Unlock()
}

// statementCall submits (body != nil) or polls a statement. Both answer
// 200 with the statement_id and its status
// (https://docs.databricks.com/api/workspace/statementexecution/executestatement);
// an answer without the ID says nothing about the statement.
func (c *Client) statementCall(ctx context.Context, op, method, rawURL, token string, body []byte, st *statementStatus) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	if err := c.call(ctx, op, method, rawURL, token, r, int64(len(body)), "application/json", okJSON, st); err != nil {
		return err
	}
	if st.StatementID == "" {
		return &APIError{Op: op, StatusCode: http.StatusOK, Message: "response lacks statement_id"}
	}
	return nil
}

// DBFSBlockSize is the raw size of each add-block call: its base64 form
// stays under the 1 MB limit of one call.
const DBFSBlockSize = 512 << 10

// DBFSUpload streams open to a DBFS file with create, add-block and close.
// An add-block that fails is not known to have been applied or not, so a
// failure restarts the whole file from create (which overwrites).
func (c *Client) DBFSUpload(ctx context.Context, path string, open Opener) (Result, error) {
	if _, err := checkPath("DBFS path", path); err != nil {
		return Result{}, err
	}
	raw := make([]byte, DBFSBlockSize)
	msg := make([]byte, 0, base64.StdEncoding.EncodedLen(DBFSBlockSize)+64)
	return c.do(ctx, func(ctx context.Context, host, token string) error {
		body, err := open(ctx)
		if err != nil {
			return err // not retried here: S3 reads have their own retries
		}
		defer body.Close()
		// create, add-block and close each answer 200 with JSON
		// (https://docs.databricks.com/api/workspace/dbfs/create).
		post := func(op, endpoint string, payload []byte, out any) error {
			return c.call(ctx, op, http.MethodPost, host+"/api/2.0/dbfs/"+endpoint, token,
				bytes.NewReader(payload), int64(len(payload)), "application/json", okJSON, out)
		}
		create, err := json.Marshal(map[string]any{"path": path, "overwrite": true})
		if err != nil {
			return fmt.Errorf("encode dbfs create: %w", err)
		}
		var h struct {
			Handle *int64 `json:"handle"`
		}
		if err := post("dbfs create", "create", create, &h); err != nil {
			return err
		}
		if h.Handle == nil {
			return &APIError{Op: "dbfs create", StatusCode: http.StatusOK, Message: "response lacks handle"}
		}
		handle := strconv.FormatInt(*h.Handle, 10)
		for {
			n, err := io.ReadFull(body, raw)
			if n > 0 {
				msg = append(msg[:0], `{"handle":`+handle+`,"data":"`...)
				msg = base64.StdEncoding.AppendEncode(msg, raw[:n])
				msg = append(msg, `"}`...)
				if err := post("dbfs add-block", "add-block", msg, nil); err != nil {
					return err
				}
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("read object: %w", err)
			}
		}
		return post("dbfs close", "close", []byte(`{"handle":`+handle+`}`), nil)
	})
}
