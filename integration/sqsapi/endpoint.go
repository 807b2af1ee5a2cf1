package sqsapi

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ddbstream/pipeline/integration/internal/wake"
)

// Account is the account in the queues' URLs and ARNs, the one the local
// pipeline uses throughout.
const Account = "000000000000"

// Region is the region in the queues' ARNs.
const Region = "us-east-1"

// Endpoint is an SQS endpoint holding standard queues in memory. It
// checks that requests are SigV4-signed (not the signature itself), so
// that a client without credentials fails here as it would in AWS.
type Endpoint struct {
	mu     sync.Mutex
	queues map[string]*queue
	now    func() time.Time
	// arrived is closed and replaced whenever a message is sent or
	// becomes visible, to wake long polls.
	arrived chan struct{}
	nextID  int
	// polling counts the receives long-polling now; polls is notified
	// when it changes.
	polling int
	polls   wake.Signal
}

// Polling counts the receives waiting for a message now, and
// PollingChanged returns a channel closed when that count next changes,
// so that a test can send to a receive known to be waiting.
func (e *Endpoint) Polling() int { e.mu.Lock(); defer e.mu.Unlock(); return e.polling }

// PollingChanged: see Polling.
func (e *Endpoint) PollingChanged() <-chan struct{} { return e.polls.C() }

// poll counts a long poll in (+1) or out (-1).
func (e *Endpoint) poll(delta int) {
	e.mu.Lock()
	e.polling += delta
	e.mu.Unlock()
	e.polls.Notify()
}

type queue struct {
	name       string
	visibility time.Duration
	messages   []*message
}

type message struct {
	id, body, handle string
	sent, firstRecv  time.Time
	visibleAt        time.Time
	receives         int
}

// New returns an endpoint with no queue.
func New() *Endpoint {
	return &Endpoint{queues: map[string]*queue{}, now: time.Now, arrived: make(chan struct{})}
}

// CreateQueue makes a queue (or returns the existing one) and returns
// its name; the URL depends on the host a client reaches the endpoint
// at (URL).
func (e *Endpoint) CreateQueue(name string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.create(name)
	return name
}

func (e *Endpoint) create(name string) *queue {
	q, ok := e.queues[name]
	if !ok {
		q = &queue{name: name, visibility: 30 * time.Second}
		e.queues[name] = q
	}
	return q
}

// URL is a queue's URL for an endpoint served at base (http://host:port).
func URL(base, name string) string { return strings.TrimSuffix(base, "/") + "/" + Account + "/" + name }

// ARN is a queue's ARN.
func ARN(name string) string { return "arn:aws:sqs:" + Region + ":" + Account + ":" + name }

// Send puts a message in a queue, as a service sending to it would (the
// local event source mapping's on-failure destination, a test), and
// returns its ID.
func (e *Endpoint) Send(name, body string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, ok := e.queues[name]
	if !ok {
		return "", fmt.Errorf("no queue %q", name)
	}
	return e.send(q, body), nil
}

func (e *Endpoint) send(q *queue, body string) string {
	e.nextID++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", e.nextID)
	q.messages = append(q.messages, &message{id: id, body: body, sent: e.now()})
	e.wake()
	return id
}

func (e *Endpoint) wake() {
	close(e.arrived)
	e.arrived = make(chan struct{})
}

// Bodies returns the bodies of a queue's messages, visible or not, in the
// order they were sent.
func (e *Endpoint) Bodies(name string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	if q, ok := e.queues[name]; ok {
		for _, m := range q.messages {
			out = append(out, m.body)
		}
	}
	return out
}

// apiError is an SQS error: its JSON type, the query-compatible code the
// SDK reports, and whether the caller is at fault.
type apiError struct {
	status          int
	typ, query, msg string
	receiverProblem bool
}

func (a *apiError) Error() string { return a.typ + ": " + a.msg }

func errNoQueue() *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "QueueDoesNotExist", query: "AWS.SimpleQueueService.NonExistentQueue",
		msg: "The specified queue does not exist."}
}

func errBadHandle(h string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "ReceiptHandleIsInvalid", query: "ReceiptHandleIsInvalid",
		msg: fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", h)}
}

func errInvalid(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "InvalidParameterValue", query: "InvalidParameterValue", msg: fmt.Sprintf(format, args...)}
}

// ServeHTTP answers one SQS API call, named by X-Amz-Target.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		writeError(w, &apiError{status: http.StatusBadRequest, typ: "MissingAuthenticationToken", query: "MissingAuthenticationToken", msg: "request is not signed"})
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok || r.Method != http.MethodPost {
		writeError(w, &apiError{status: http.StatusBadRequest, typ: "UnknownOperationException", query: "UnknownOperation", msg: "not an AmazonSQS call"})
		return
	}
	var in request
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeError(w, errInvalid("request body is not JSON: %v", err))
		return
	}
	base := "http://" + r.Host
	var out any
	var err *apiError
	switch op {
	case "CreateQueue":
		out, err = e.createQueue(base, in)
	case "GetQueueUrl":
		out, err = e.getQueueURL(base, in)
	case "SendMessage":
		out, err = e.sendMessage(in)
	case "ReceiveMessage":
		out, err = e.receiveMessage(r.Context(), in)
	case "DeleteMessage":
		out, err = e.deleteMessage(in)
	case "ChangeMessageVisibility":
		out, err = e.changeVisibility(in)
	case "GetQueueAttributes":
		out, err = e.getAttributes(in)
	case "PurgeQueue":
		out, err = e.purge(in)
	default:
		err = &apiError{status: http.StatusBadRequest, typ: "UnsupportedOperation", query: "AWS.SimpleQueueService.UnsupportedOperation", msg: "operation " + op + " is not served here"}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, err *apiError) {
	fault := "Sender"
	if err.receiverProblem {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", err.query+";"+fault)
	w.WriteHeader(err.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + err.typ, "message": err.msg})
}

// request is the union of the served operations' inputs.
type request struct {
	QueueName                   string            `json:"QueueName"`
	QueueURL                    string            `json:"QueueUrl"`
	Attributes                  map[string]string `json:"Attributes"`
	MessageBody                 *string           `json:"MessageBody"`
	MaxNumberOfMessages         int               `json:"MaxNumberOfMessages"`
	VisibilityTimeout           *int              `json:"VisibilityTimeout"`
	WaitTimeSeconds             int               `json:"WaitTimeSeconds"`
	AttributeNames              []string          `json:"AttributeNames"`
	MessageSystemAttributeNames []string          `json:"MessageSystemAttributeNames"`
	ReceiptHandle               string            `json:"ReceiptHandle"`
}

// queueOf finds the queue a URL names (its last segment), under e.mu.
func (e *Endpoint) queueOf(url string) (*queue, *apiError) {
	name := url[strings.LastIndexByte(url, '/')+1:]
	q, ok := e.queues[name]
	if !ok || url == "" {
		return nil, errNoQueue()
	}
	return q, nil
}

func (e *Endpoint) createQueue(base string, in request) (any, *apiError) {
	if in.QueueName == "" || strings.HasSuffix(in.QueueName, ".fifo") {
		return nil, errInvalid("QueueName must name a standard queue")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q := e.create(in.QueueName)
	if v, ok := in.Attributes["VisibilityTimeout"]; ok {
		s, err := strconv.Atoi(v)
		if err != nil || s < 0 || s > 43200 {
			return nil, errInvalid("VisibilityTimeout %q is not 0 to 43200", v)
		}
		q.visibility = time.Duration(s) * time.Second
	}
	return map[string]string{"QueueUrl": URL(base, q.name)}, nil
}

func (e *Endpoint) getQueueURL(base string, in request) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.queues[in.QueueName]; !ok {
		return nil, errNoQueue()
	}
	return map[string]string{"QueueUrl": URL(base, in.QueueName)}, nil
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func (e *Endpoint) sendMessage(in request) (any, *apiError) {
	if in.MessageBody == nil || *in.MessageBody == "" {
		return nil, &apiError{status: http.StatusBadRequest, typ: "MissingParameter", query: "MissingParameter", msg: "MessageBody is required"}
	}
	if len(*in.MessageBody) > 1<<20 {
		return nil, errInvalid("MessageBody is longer than 1 MiB")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.queueOf(in.QueueURL)
	if err != nil {
		return nil, err
	}
	id := e.send(q, *in.MessageBody)
	return map[string]string{"MessageId": id, "MD5OfMessageBody": md5Hex(*in.MessageBody)}, nil
}

// receiveMessage returns visible messages, hiding them, and long-polls
// up to WaitTimeSeconds when there are none.
func (e *Endpoint) receiveMessage(ctx context.Context, in request) (any, *apiError) {
	limit := in.MaxNumberOfMessages
	if limit == 0 {
		limit = 1
	}
	if limit < 1 || limit > 10 {
		return nil, errInvalid("MaxNumberOfMessages %d is not 1 to 10", limit)
	}
	if in.WaitTimeSeconds < 0 || in.WaitTimeSeconds > 20 {
		return nil, errInvalid("WaitTimeSeconds %d is not 0 to 20", in.WaitTimeSeconds)
	}
	deadline := time.Now().Add(time.Duration(in.WaitTimeSeconds) * time.Second)
	for {
		e.mu.Lock()
		q, err := e.queueOf(in.QueueURL)
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		vis := q.visibility
		if in.VisibilityTimeout != nil {
			if *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200 {
				e.mu.Unlock()
				return nil, errInvalid("VisibilityTimeout %d is not 0 to 43200", *in.VisibilityTimeout)
			}
			vis = time.Duration(*in.VisibilityTimeout) * time.Second
		}
		msgs := e.take(q, limit, vis, append(in.MessageSystemAttributeNames, in.AttributeNames...))
		wake, next := e.arrived, e.nextVisible(q)
		e.mu.Unlock()
		wait := time.Until(deadline)
		if len(msgs) > 0 || wait <= 0 {
			return map[string]any{"Messages": msgs}, nil
		}
		if !next.IsZero() && time.Until(next) < wait {
			wait = max(time.Until(next), time.Millisecond)
		}
		t := time.NewTimer(wait)
		e.poll(+1)
		select {
		case <-wake:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			e.poll(-1)
			return map[string]any{"Messages": []any{}}, nil
		}
		t.Stop()
		e.poll(-1)
	}
}

// take hides up to limit visible messages for vis and returns them as
// ReceiveMessage lists them, under e.mu.
func (e *Endpoint) take(q *queue, limit int, vis time.Duration, attrs []string) []map[string]any {
	now := e.now()
	var out []map[string]any
	for _, m := range q.messages {
		if len(out) == limit {
			break
		}
		if now.Before(m.visibleAt) {
			continue
		}
		m.receives++
		if m.firstRecv.IsZero() {
			m.firstRecv = now
		}
		m.visibleAt = now.Add(vis)
		m.handle = fmt.Sprintf("%s#%d#%d", m.id, m.receives, now.UnixNano())
		msg := map[string]any{"MessageId": m.id, "ReceiptHandle": m.handle, "Body": m.body, "MD5OfBody": md5Hex(m.body)}
		if a := systemAttributes(m, attrs); len(a) > 0 {
			msg["Attributes"] = a
		}
		out = append(out, msg)
	}
	return out
}

// nextVisible is when the next hidden message shows again; zero for
// none.
func (e *Endpoint) nextVisible(q *queue) time.Time {
	var next time.Time
	now := e.now()
	for _, m := range q.messages {
		if m.visibleAt.After(now) && (next.IsZero() || m.visibleAt.Before(next)) {
			next = m.visibleAt
		}
	}
	return next
}

func systemAttributes(m *message, names []string) map[string]string {
	all := map[string]string{
		"SentTimestamp":                    strconv.FormatInt(m.sent.UnixMilli(), 10),
		"ApproximateReceiveCount":          strconv.Itoa(m.receives),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstRecv.UnixMilli(), 10),
		"SenderId":                         Account,
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

// byHandle finds the message a receipt handle names: only its latest
// receive's handle is valid.
func byHandle(q *queue, handle string) (int, *apiError) {
	for i, m := range q.messages {
		if m.handle != "" && m.handle == handle {
			return i, nil
		}
	}
	return 0, errBadHandle(handle)
}

func (e *Endpoint) deleteMessage(in request) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.queueOf(in.QueueURL)
	if err != nil {
		return nil, err
	}
	i, err := byHandle(q, in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	q.messages = append(q.messages[:i], q.messages[i+1:]...)
	return struct{}{}, nil
}

func (e *Endpoint) changeVisibility(in request) (any, *apiError) {
	if in.VisibilityTimeout == nil || *in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200 {
		return nil, errInvalid("VisibilityTimeout must be 0 to 43200")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.queueOf(in.QueueURL)
	if err != nil {
		return nil, err
	}
	i, err := byHandle(q, in.ReceiptHandle)
	if err != nil {
		return nil, err
	}
	m := q.messages[i]
	if !m.visibleAt.After(e.now()) {
		return nil, &apiError{status: http.StatusBadRequest, typ: "MessageNotInflight", query: "AWS.SimpleQueueService.MessageNotInflight", msg: "The message is not in flight."}
	}
	m.visibleAt = e.now().Add(time.Duration(*in.VisibilityTimeout) * time.Second)
	if *in.VisibilityTimeout == 0 {
		e.wake()
	}
	return struct{}{}, nil
}

func (e *Endpoint) getAttributes(in request) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.queueOf(in.QueueURL)
	if err != nil {
		return nil, err
	}
	now := e.now()
	visible, hidden := 0, 0
	for _, m := range q.messages {
		if now.Before(m.visibleAt) {
			hidden++
		} else {
			visible++
		}
	}
	all := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(hidden),
		"ApproximateNumberOfMessagesDelayed":    "0",
		"QueueArn":                              ARN(q.name),
		"VisibilityTimeout":                     strconv.Itoa(int(q.visibility / time.Second)),
	}
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return map[string]any{"Attributes": out}, nil
}

func (e *Endpoint) purge(in request) (any, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	q, err := e.queueOf(in.QueueURL)
	if err != nil {
		return nil, err
	}
	q.messages = nil
	return struct{}{}, nil
}
