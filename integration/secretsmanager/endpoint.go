package secretsmanager

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Endpoint is a Secrets Manager endpoint holding string secrets by name.
// It checks that requests are SigV4-signed (not the signature itself), so
// that a client without credentials fails here as it would in AWS.
type Endpoint struct {
	mu      sync.Mutex
	secrets map[string]string
	version int
	reads   int
}

// New returns an endpoint holding a copy of secrets (name to value).
func New(secrets map[string]string) *Endpoint {
	m := &Endpoint{secrets: map[string]string{}}
	for k, v := range secrets {
		m.secrets[k] = v
	}
	return m
}

// Rotate replaces a secret's value with a new version, as a rotation
// does: the next GetSecretValue returns it.
func (m *Endpoint) Rotate(name, value string) {
	m.mu.Lock()
	m.secrets[name] = value
	m.version++
	m.mu.Unlock()
}

// Current returns a secret's current value, so that a test can derive
// the rotated value from it; ok is false for an unknown name.
func (m *Endpoint) Current(name string) (value string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	value, ok = m.secrets[name]
	return value, ok
}

// Reads counts GetSecretValue calls, found or not: tests use it to see
// that a client caches.
func (m *Endpoint) Reads() int { m.mu.Lock(); defer m.mu.Unlock(); return m.reads }

// arnPrefix is how this endpoint's secrets ARNs begin; the account is
// the one the local pipeline uses throughout.
const arnPrefix = "arn:aws:secretsmanager:us-east-1:000000000000:secret:"

// ServeHTTP answers one Secrets Manager API call, named by X-Amz-Target.
// A secret is found by its name or by an ARN ending in ":secret:" and the
// name, without the six-character suffix AWS adds. PutSecretValue
// creates a secret it does not know (AWS would refuse): the local
// pipeline never relies on that refusal.
func (m *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(http.StatusBadRequest, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	var in struct {
		SecretID     string `json:"SecretId"`
		SecretString string `json:"SecretString"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(http.StatusBadRequest, "InvalidRequestException", err.Error())
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	name := in.SecretID
	if i := strings.Index(name, ":secret:"); i >= 0 {
		name = name[i+len(":secret:"):]
	}
	value, ok := m.secrets[name]
	switch target {
	case "secretsmanager.GetSecretValue":
		m.reads++
		if !ok {
			fail(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"ARN": arnPrefix + name + "-AbCdEf", "Name": name,
			"SecretString": value, "VersionId": fmt.Sprintf("v%d", m.version), "VersionStages": []string{"AWSCURRENT"},
			"CreatedDate": float64(time.Now().Unix()),
		})
	case "secretsmanager.PutSecretValue":
		m.secrets[name] = in.SecretString
		m.version++
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": name, "VersionId": fmt.Sprintf("v%d", m.version)})
	default:
		fail(http.StatusBadRequest, "UnknownOperationException", "operation "+target+" is not served here")
	}
}
