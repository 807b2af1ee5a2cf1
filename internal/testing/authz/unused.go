package authz

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// UnusedGrant is one action and resource pattern of an identity policy
// statement that no allowed request used.
type UnusedGrant struct {
	Principal string
	// Policy and Sid name the statement (Sid: its 1-based index when it
	// has none, as iamsim.Grant does).
	Policy, Sid string
	// Action and Resource are the statement's patterns; a NotAction or
	// NotResource pattern is written with a leading "!".
	Action, Resource string
}

// String is the grant's line in UnusedText and in a reasons file:
// "<principal> <policy>/<sid> <action> <resource>". None of the fields
// holds a space (a principal, a policy name, a Sid, an IAM action or ARN
// pattern cannot).
func (g UnusedGrant) String() string {
	return g.Principal + " " + g.Policy + "/" + g.Sid + " " + g.Action + " " + g.Resource
}

func sortGrants(gs []UnusedGrant) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].String() < gs[j].String() })
}

// UnusedText lists the unused grants, one a line, sorted: the form a
// reasons file quotes.
func (r *Report) UnusedText() string {
	var b strings.Builder
	for _, g := range r.Unused {
		b.WriteString(g.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// statement is an identity policy statement's grants.
type statement struct {
	policy, sid         string
	allow               bool
	actions, resources  []string
	notAction, notResrc bool
}

// statements reads a policy document's statements.
func statements(name string, doc any) []statement {
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil
	}
	var d struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if json.Unmarshal(raw, &d) != nil {
		return nil
	}
	var list []map[string]any
	if json.Unmarshal(d.Statement, &list) != nil {
		var one map[string]any
		if json.Unmarshal(d.Statement, &one) != nil {
			return nil
		}
		list = []map[string]any{one}
	}
	var out []statement
	for i, st := range list {
		s := statement{policy: name, sid: strconv.Itoa(i + 1), allow: st["Effect"] == "Allow"}
		if sid, ok := st["Sid"].(string); ok && sid != "" {
			s.sid = sid
		}
		s.actions, s.notAction = patterns(st, "Action", "NotAction")
		s.resources, s.notResrc = patterns(st, "Resource", "NotResource")
		out = append(out, s)
	}
	return out
}

// patterns are a statement's Action (or NotAction) patterns, one string
// or several.
func patterns(st map[string]any, key, notKey string) ([]string, bool) {
	v, not := st[key], false
	if v == nil {
		v, not = st[notKey], true
	}
	var out []string
	switch v := v.(type) {
	case string:
		out = []string{v}
	case []any:
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
	}
	return out, not
}

// usedGrants are the (principal, policy, sid, action pattern, resource
// pattern) an allowed request used.
type usedGrants map[UnusedGrant]bool

// mark records the patterns of the statements that allowed a request
// (the simulator's grants) which match its action and resource, and
// reports whether any did.
func (u usedGrants) mark(p *Principal, a iam.Authorization, grants []iamsim.Grant) bool {
	marked := false
	for _, g := range grants {
		if g.Policy == "resource" {
			continue
		}
		for _, pol := range p.Policies {
			if pol.Name != g.Policy {
				continue
			}
			for _, st := range statements(pol.Name, pol.Document) {
				if st.sid != g.Sid || !st.allow || st.notAction || st.notResrc {
					continue
				}
				for _, ap := range st.actions {
					if !matchAction(ap, a.Action) {
						continue
					}
					for _, rp := range st.resources {
						if matchResource(rp, a.Resource) {
							u[UnusedGrant{Principal: p.Name, Policy: pol.Name, Sid: st.sid, Action: ap, Resource: rp}] = true
							marked = true
						}
					}
				}
			}
		}
	}
	return marked
}

// unused are a principal's Allow patterns not marked.
func (u usedGrants) unused(p *Principal) []UnusedGrant {
	var out []UnusedGrant
	for _, pol := range p.Policies {
		for _, st := range statements(pol.Name, pol.Document) {
			if !st.allow {
				continue
			}
			for _, ap := range st.actions {
				for _, rp := range st.resources {
					g := UnusedGrant{Principal: p.Name, Policy: pol.Name, Sid: st.sid, Action: ap, Resource: rp}
					if st.notAction {
						g.Action = "!" + ap
					}
					if st.notResrc {
						g.Resource = "!" + rp
					}
					if !u[g] {
						out = append(out, g)
					}
				}
			}
		}
	}
	return out
}

// matchAction: an action pattern matches case-insensitively, with * and
// ? ("Action element ... case insensitive", and wildcards in it,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
func matchAction(pattern, action string) bool {
	return glob(strings.ToLower(pattern), strings.ToLower(action))
}

// matchResource: a resource pattern matches with * (any characters,
// colons and slashes included) and ? (one character), case-sensitively
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
func matchResource(pattern, resource string) bool {
	return glob(pattern, resource)
}

// glob matches s against a pattern of * and ?.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// reasonSeparator parts a grant from its reason in a reasons file.
const reasonSeparator = " -- "

// CheckUnused holds the report's unused grants to the reasons file at
// path: every unused grant needs a line
//
//	<principal> <policy>/<sid> <action> <resource> -- <why it is kept>
//
// and every principal with policies that made no request at all (whose
// grants are then not measured) a line
//
//	<principal> * -- <why no request of it is recorded>
//
// (the grant as UnusedText writes it), and every line must name a grant
// that is unused: a reason for a grant now used, or gone, is stale. Blank
// lines and lines starting with # are comments. The error lists the lines
// to add and those to remove.
func CheckUnused(r *Report, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("authz: the unused grants' reasons: %w", err)
	}
	return checkReasons(r, data, path)
}

func checkReasons(r *Report, data []byte, name string) error {
	var errs []error
	reasons := map[string]int{} // grant line to its line number
	// notExercised are the lines "<principal> * -- why": a principal no
	// recorded request exercised, none of whose grants is measured.
	notExercised := map[string]int{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		grant, why, ok := strings.Cut(line, reasonSeparator)
		fields := strings.Fields(grant)
		if ok && strings.TrimSpace(why) != "" && len(fields) == 2 && fields[1] == "*" {
			notExercised[fields[0]] = n + 1
			continue
		}
		if !ok || strings.TrimSpace(why) == "" || len(fields) != 4 || !strings.Contains(fields[1], "/") {
			errs = append(errs, fmt.Errorf("%s:%d: want <principal> <policy>/<sid> <action> <resource>%s<reason>, got %q", name, n+1, reasonSeparator, line))
			continue
		}
		key := strings.Join(fields, " ")
		if first, dup := reasons[key]; dup {
			errs = append(errs, fmt.Errorf("%s:%d: the grant has a reason already on line %d", name, n+1, first))
			continue
		}
		reasons[key] = n + 1
	}
	unused := map[string]bool{}
	var missing []string
	for _, g := range r.Unused {
		unused[g.String()] = true
		if _, ok := reasons[g.String()]; !ok {
			missing = append(missing, g.String()+reasonSeparator+"<why it is kept>")
		}
	}
	var stale []string
	for key, n := range reasons {
		if !unused[key] {
			stale = append(stale, fmt.Sprintf("%s:%d: %s", name, n, key))
		}
	}
	exercised := map[string]bool{}
	for _, p := range r.Unexercised {
		exercised[p] = false
		if _, ok := notExercised[p]; !ok {
			missing = append(missing, p+" *"+reasonSeparator+"<why no request of it is recorded>")
		}
	}
	for p, n := range notExercised {
		if _, listed := exercised[p]; !listed {
			stale = append(stale, fmt.Sprintf("%s:%d: %s * (it made requests, or is gone)", name, n, p))
		}
	}
	sort.Strings(stale)
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("%d unused grants have no reason in %s (drop the grant, or add the line with its reason):\n  %s",
			len(missing), name, strings.Join(missing, "\n  ")))
	}
	if len(stale) > 0 {
		errs = append(errs, fmt.Errorf("%d reasons name a grant that is used now or gone (remove them):\n  %s", len(stale), strings.Join(stale, "\n  ")))
	}
	if len(errs) > 0 {
		return fmt.Errorf("authz: %w", errors.Join(errs...))
	}
	return nil
}
