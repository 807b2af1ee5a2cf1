package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SecretsManager serves GetSecretValue and PutSecretValue in the Secrets
// Manager JSON protocol, so the real SDK reads secrets from it.
type SecretsManager struct {
	mu      sync.Mutex
	secrets map[string]string
	version int
	reads   int
}

// NewSecretsManager returns an endpoint holding secrets by name.
func NewSecretsManager(secrets map[string]string) *SecretsManager {
	m := &SecretsManager{secrets: map[string]string{}}
	for k, v := range secrets {
		m.secrets[k] = v
	}
	return m
}

// Rotate replaces a secret's value, as a rotation does.
func (m *SecretsManager) Rotate(name, value string) {
	m.mu.Lock()
	m.secrets[name] = value
	m.version++
	m.mu.Unlock()
}

// Reads counts GetSecretValue calls.
func (m *SecretsManager) Reads() int { m.mu.Lock(); defer m.mu.Unlock(); return m.reads }

// ServeHTTP answers one Secrets Manager API call.
func (m *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
			"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + name + "-AbCdEf", "Name": name,
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
