// Package iamsim evaluates IAM requests with an IAM policy simulator built
// on AWS's service authorization data (its actions, resource types and
// condition keys): npm @cloud-copilot/iam-simulate, pinned in the
// repository's package.json and installed by `make tools` (npm ci).
//
// It is AGPL-3.0: a test tool only. It runs from node_modules in its own
// node process and is never linked, bundled or shipped.
//
// Tests describe the requests their code makes (the principal, its
// identity policies, the resource's policy, the action, the resource ARN
// and the condition keys AWS sets, such as s3:prefix or kms:ViaService),
// and Evaluate answers each in one process, in well under a second for a
// few hundred: allowed, implicitly or explicitly denied, or invalid (an
// unknown action, a resource type the action does not support), with the
// simulator's explanation.
package iamsim

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Version is the simulator release the harness is written against; the
// repository's package.json pins it exactly.
const Version = "0.1.173"

// Package is the simulator's npm package.
const Package = "@cloud-copilot/iam-simulate"

//go:embed simulate.mjs
var script string

// Policy is one named policy document: anything that marshals to IAM
// policy JSON (iam.Document, a map, raw JSON).
type Policy struct {
	Name     string
	Document any
}

// Request is one AWS request as IAM authorizes it.
type Request struct {
	// Principal is the caller's ARN (a role, or an assumed-role session).
	Principal string
	// IdentityPolicies are the principal's policies.
	IdentityPolicies []Policy
	// ResourcePolicy is the resource's own policy (a bucket policy, a
	// queue policy), or nil. KMS always consults the key policy: a KMS
	// request without one is denied.
	ResourcePolicy any
	// Action is the IAM action, such as s3:GetObject (not the API
	// operation: ListObjectsV2 is s3:ListBucket).
	Action string
	// Resource is the resource's ARN, or "*" for actions that support no
	// resource type.
	Resource string
	// Account owns the resource; empty: the principal's account.
	Account string
	// Context holds the condition keys the request carries, as a string
	// or a list of strings: s3:prefix, kms:ViaService, aws:SecureTransport.
	Context map[string]any
}

// Decision is the simulator's answer.
type Decision string

// The decisions. Invalid means the simulator could not evaluate the
// request as given: an unknown service or action, a resource type the
// action does not support, a wildcard-only action on a specific resource,
// or a policy that does not validate.
const (
	Allowed          Decision = "Allowed"
	ImplicitlyDenied Decision = "ImplicitlyDenied"
	ExplicitlyDenied Decision = "ExplicitlyDenied"
	Invalid          Decision = "Invalid"
)

// Grant names a statement that allowed a request: the identity policy's
// name, or "resource" for the resource policy, and the statement's Sid
// (its 1-based index when it has none).
type Grant struct {
	Policy string `json:"policy"`
	Sid    string `json:"sid"`
}

// Result is the answer to one request.
type Result struct {
	Decision Decision `json:"decision"`
	// Explanation says which statements allowed or denied it, or, for a
	// denial, why each statement granting the action did not apply (its
	// resources, or the condition that failed and the request's value).
	Explanation string `json:"explanation"`
	// IgnoredContextKeys are keys of Request.Context that do not apply to
	// the action: a misspelt key, or one AWS never sets for it.
	IgnoredContextKeys []string `json:"ignoredContextKeys"`
	// ResourceType is the resource type the simulator matched the ARN to.
	ResourceType string `json:"resourceType"`
	// Grants are the statements that allowed it.
	Grants []Grant `json:"grants"`
}

// Simulator runs the simulator script with node from a repository's
// node_modules.
type Simulator struct {
	node, root string
}

// Find locates the repository (the directory holding go.mod, from dir
// upwards), node, and the pinned simulator in its node_modules.
func Find(dir string) (*Simulator, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(root)
		if parent == root {
			return nil, fmt.Errorf("iamsim: no go.mod above %s", dir)
		}
		root = parent
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("iamsim: node is not installed: %w", err)
	}
	manifest := filepath.Join(root, "node_modules", filepath.FromSlash(Package), "package.json")
	b, err := os.ReadFile(manifest)
	if err != nil {
		return nil, fmt.Errorf("iamsim: %s is not installed (make tools runs npm ci): %w", Package, err)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		return nil, fmt.Errorf("iamsim: %s: %w", manifest, err)
	}
	if pkg.Version != Version {
		return nil, fmt.Errorf("iamsim: %s is %s, want %s (run make tools)", Package, pkg.Version, Version)
	}
	return &Simulator{node: node, root: root}, nil
}

// Require returns the simulator for a test. Without it the test is
// skipped, unless INTEGRATION_REQUIRED is set (as make test sets it).
func Require(t testing.TB) *Simulator {
	t.Helper()
	s, err := Find(".")
	if err != nil {
		if os.Getenv("INTEGRATION_REQUIRED") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return s
}

type wireRequest struct {
	Principal        string         `json:"principal"`
	IdentityPolicies []wirePolicy   `json:"identityPolicies"`
	ResourcePolicy   any            `json:"resourcePolicy,omitempty"`
	Action           string         `json:"action"`
	Resource         string         `json:"resource"`
	AccountID        string         `json:"accountId"`
	Context          map[string]any `json:"context"`
}

type wirePolicy struct {
	Name   string `json:"name"`
	Policy any    `json:"policy"`
}

// accountOf is the account field of an ARN (arn:partition:service:region:account:...).
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// Evaluate answers the requests, in order, in one node process; identical
// requests are evaluated once.
func (s *Simulator) Evaluate(ctx context.Context, reqs []Request) ([]Result, error) {
	var wire []wireRequest
	index := map[string]int{}
	slot := make([]int, len(reqs))
	for i, r := range reqs {
		w := wireRequest{Principal: r.Principal, ResourcePolicy: r.ResourcePolicy, Action: r.Action, Resource: r.Resource,
			AccountID: r.Account, Context: r.Context}
		if w.AccountID == "" {
			w.AccountID = accountOf(r.Principal)
		}
		if w.Context == nil {
			w.Context = map[string]any{}
		}
		w.IdentityPolicies = []wirePolicy{}
		for _, p := range r.IdentityPolicies {
			w.IdentityPolicies = append(w.IdentityPolicies, wirePolicy{Name: p.Name, Policy: p.Document})
		}
		key, err := json.Marshal(w)
		if err != nil {
			return nil, fmt.Errorf("iamsim: request %d (%s on %s): %w", i, r.Action, r.Resource, err)
		}
		n, ok := index[string(key)]
		if !ok {
			n = len(wire)
			index[string(key)] = n
			wire = append(wire, w)
		}
		slot[i] = n
	}
	in, err := json.Marshal(wire)
	if err != nil {
		return nil, fmt.Errorf("iamsim: %w", err)
	}
	cmd := exec.CommandContext(ctx, s.node, "--input-type=module", "--eval", script, s.root)
	cmd.Dir = s.root
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("iamsim: node: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var answers []Result
	if err := json.Unmarshal(stdout.Bytes(), &answers); err != nil {
		return nil, fmt.Errorf("iamsim: the simulator's answer: %w", err)
	}
	if len(answers) != len(wire) {
		return nil, fmt.Errorf("iamsim: %d answers to %d requests", len(answers), len(wire))
	}
	out := make([]Result, len(reqs))
	for i := range reqs {
		out[i] = answers[slot[i]]
	}
	return out, nil
}

// Check is one request with the decision a test expects.
type Check struct {
	// Name says where the request comes from: the command and the code
	// path, such as "backfill: count the export's errors objects".
	Name    string
	Request Request
	Want    Decision
}

// Expect evaluates the checks in one batch and reports each whose
// decision differs from its Want, with the request and the simulator's
// explanation. A check that expects Allowed also fails when a context key
// it gives does not apply to the action: the condition it stands for
// would never be evaluated.
func (s *Simulator) Expect(t testing.TB, checks []Check) {
	t.Helper()
	reqs := make([]Request, len(checks))
	for i, c := range checks {
		reqs[i] = c.Request
	}
	got, err := s.Evaluate(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range checks {
		g := got[i]
		if g.Decision != c.Want {
			t.Errorf("%s: %s on %s by %s%s: got %s, want %s: %s", c.Name, c.Request.Action, c.Request.Resource,
				c.Request.Principal, contextText(c.Request.Context), g.Decision, c.Want, g.Explanation)
			continue
		}
		if c.Want == Allowed && len(g.IgnoredContextKeys) > 0 {
			t.Errorf("%s: %s on %s: context keys %v do not apply to the action", c.Name, c.Request.Action, c.Request.Resource, g.IgnoredContextKeys)
		}
	}
}

func contextText(c map[string]any) string {
	if len(c) == 0 {
		return ""
	}
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Sprintf(" with %v", c)
	}
	return " with " + string(b)
}
