// Package responsestatus keeps the status a test server's handler
// answered with, for the local endpoints that record their requests
// (integration/requestlog, fakedatabricks).
package responsestatus

import "net/http"

// Writer passes a response on and keeps its status: 0 while nothing was
// answered.
type Writer struct {
	http.ResponseWriter
	Status int
}

// WriteHeader keeps the final status; 1xx answers (100 Continue, which a
// reverse proxy passes on) come before it.
func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 && code >= 200 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write answers 200 unless a status was written.
func (w *Writer) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps http.Flusher working through the writer: a reverse proxy
// flushes streamed answers, and long-polling endpoints their headers.
func (w *Writer) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (w *Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
