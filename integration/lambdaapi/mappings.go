package lambdaapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Mapping is an event source mapping as ListEventSourceMappings describes
// it (https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingConfiguration.html):
// the local pipeline's poller plays the stream's mapping, and ddbstream
// backfill reads it to know since when the stream has been carried into
// the lake.
type Mapping struct {
	UUID, EventSourceARN, FunctionARN string
	// State is Enabled, Disabled, Creating, ...; StartingPosition
	// TRIM_HORIZON or LATEST.
	State, StartingPosition string
	// LastModified is when the mapping was last updated or its state
	// changed.
	LastModified time.Time
}

// AddMapping lists m from now on.
func (e *Endpoint) AddMapping(m Mapping) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mappings = append(e.mappings, m)
}

// mappingsPath is ListEventSourceMappings' path (GET, REST-JSON).
const mappingsPath = "/2015-03-31/event-source-mappings"

// listMappings serves ListEventSourceMappings with its EventSourceArn and
// FunctionName filters, in one page. FunctionName may be a name or an
// ARN, as the API takes it.
func (e *Endpoint) listMappings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	source, fn := q.Get("EventSourceArn"), q.Get("FunctionName")
	type config struct {
		UUID             string  `json:"UUID"`
		EventSourceArn   string  `json:"EventSourceArn"`
		FunctionArn      string  `json:"FunctionArn"`
		State            string  `json:"State"`
		StartingPosition string  `json:"StartingPosition"`
		LastModified     float64 `json:"LastModified"` // REST-JSON timestamps: epoch seconds
	}
	out := struct {
		EventSourceMappings []config `json:"EventSourceMappings"`
	}{EventSourceMappings: []config{}}
	e.mu.Lock()
	for _, m := range e.mappings {
		if source != "" && m.EventSourceARN != source {
			continue
		}
		if name, _ := parseFunction(fn); fn != "" && !strings.HasSuffix(m.FunctionARN, ":function:"+name) {
			continue
		}
		out.EventSourceMappings = append(out.EventSourceMappings, config{UUID: m.UUID, EventSourceArn: m.EventSourceARN,
			FunctionArn: m.FunctionARN, State: m.State, StartingPosition: m.StartingPosition,
			LastModified: float64(m.LastModified.UnixMilli()) / 1000})
	}
	e.mu.Unlock()
	body, _ := json.Marshal(out)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
