package responsestatus

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWriterKeepsTheFinalStatus(t *testing.T) {
	tests := []struct {
		name   string
		answer func(w http.ResponseWriter)
		expect int
	}{
		{"nothing answered", func(http.ResponseWriter) {}, 0},
		{"a body alone is 200", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"a status", func(w http.ResponseWriter) { w.WriteHeader(http.StatusNotFound) }, http.StatusNotFound},
		{"100 Continue first", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusContinue)
			w.WriteHeader(http.StatusCreated)
		}, http.StatusCreated},
		{"the first final status", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte("x"))
		}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := &Writer{ResponseWriter: httptest.NewRecorder()}
			tc.answer(w)
			if w.Status != tc.expect {
				t.Errorf("status: got %d, expect %d", w.Status, tc.expect)
			}
		})
	}
	rec := httptest.NewRecorder()
	(&Writer{ResponseWriter: rec}).Flush()
	if !rec.Flushed {
		t.Error("Flush did not reach the underlying writer")
	}
}
