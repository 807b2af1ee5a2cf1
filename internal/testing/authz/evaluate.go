package authz

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// Harness is the principal of the tests' own requests (creating the
// table, writing items, reading the lake to check it), which nothing
// deploys and Evaluate skips.
const Harness = "harness"

// Report is what Evaluate found.
type Report struct {
	// Calls are the recorded calls evaluated (the harness's left out);
	// Requests the distinct IAM requests they needed.
	Calls, Requests int
	// Distinct are the distinct IAM requests evaluated per principal.
	Distinct map[string]int
	// Denied are the requests not allowed: implicitly or explicitly
	// denied, or invalid (an unknown action, a resource type the action
	// does not support, a call with no IAM mapping, an unknown principal).
	Denied []Denial
	// Unused are the identity-policy grants of the evaluated principals
	// that no allowed request used.
	Unused []UnusedGrant
	// Unexercised are principals with policies that made no request:
	// their grants are not measured.
	Unexercised []string
	// IgnoredContextKeys are condition keys a request carried that the
	// simulator says do not apply to its action ("action: key"): a
	// mapping that sets keys AWS never sets for the action.
	IgnoredContextKeys []string
}

// Denial is one request not allowed, with the first recorded call that
// needed it.
type Denial struct {
	Principal string
	Call      iam.Call
	// Where is the run that made the call (Recorded.Where).
	Where string
	// Authorization is the IAM request; its Action is empty when the call
	// could not be turned into one (Explanation says why).
	Authorization iam.Authorization
	Decision      iamsim.Decision
	Explanation   string
	// Calls counts the recorded calls that needed the request.
	Calls int
}

// String is the denial as Report.Err lists it: who, the call and where it
// was made, the IAM request, the decision and why.
func (d Denial) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", d.Principal, callText(d.Call))
	if d.Where != "" {
		fmt.Fprintf(&b, " (in %s", d.Where)
		if d.Calls > 1 {
			fmt.Fprintf(&b, ", and %d more calls", d.Calls-1)
		}
		b.WriteString(")")
	}
	if a := d.Authorization; a.Action != "" {
		fmt.Fprintf(&b, " needs %s on %s", a.Action, a.Resource)
		if len(a.Context) > 0 {
			c, _ := json.Marshal(a.Context)
			fmt.Fprintf(&b, " with %s", c)
		}
		if a.Why != "" {
			fmt.Fprintf(&b, " (%s)", a.Why)
		}
	}
	fmt.Fprintf(&b, ": %s: %s", d.Decision, d.Explanation)
	return b.String()
}

// callText shows a call's operation and the fields it sets.
func callText(c iam.Call) string {
	parts := []string{c.Service + ":" + c.Operation}
	for _, f := range []struct{ name, value string }{
		{"Bucket", c.Bucket}, {"Key", c.Key}, {"Prefix", c.Prefix}, {"VersionID", c.VersionID}, {"Table", c.Table},
		{"Stream", c.Stream}, {"Export", c.Export}, {"Queue", c.Queue}, {"Function", c.Function}, {"Secret", c.Secret},
		{"Stack", c.Stack}, {"LogGroup", c.LogGroup}, {"LogStream", c.LogStream}, {"SourceARN", c.SourceARN},
	} {
		if f.value != "" {
			parts = append(parts, f.name+"="+f.value)
		}
	}
	if c.Status != 0 {
		parts = append(parts, fmt.Sprintf("Status=%d", c.Status))
	}
	return strings.Join(parts, " ")
}

// Err is nil when every request was allowed, and otherwise lists each
// denial.
func (r *Report) Err() error {
	if len(r.Denied) == 0 {
		return nil
	}
	lines := make([]string, len(r.Denied))
	for i, d := range r.Denied {
		lines[i] = "  " + d.String()
	}
	return fmt.Errorf("authz: %d of %d distinct requests not allowed:\n%s", len(r.Denied), r.Requests, strings.Join(lines, "\n"))
}

// Summary says what was evaluated: the distinct requests per principal,
// the denials, the unused grants and the principals not exercised.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "authz: %d recorded calls, %d distinct IAM requests evaluated, %d not allowed, %d unused grants\n",
		r.Calls, r.Requests, len(r.Denied), len(r.Unused))
	names := make([]string, 0, len(r.Distinct))
	for n := range r.Distinct {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-22s %5d distinct requests\n", n, r.Distinct[n])
	}
	if len(r.Unexercised) > 0 {
		fmt.Fprintf(&b, "  not exercised: %s\n", strings.Join(r.Unexercised, ", "))
	}
	if len(r.IgnoredContextKeys) > 0 {
		fmt.Fprintf(&b, "  context keys that do not apply: %s\n", strings.Join(r.IgnoredContextKeys, "; "))
	}
	return b.String()
}

// principalFor is the principal a recorded call was made by: one of the
// stack's, or a service principal (events.amazonaws.com), which has no
// identity policies: only the resource's policy can allow it.
func (s *Stack) principalFor(name string) (*Principal, bool) {
	if p, ok := s.principals[name]; ok {
		return p, true
	}
	if strings.HasSuffix(name, ".amazonaws.com") {
		return &Principal{Name: name, ARN: name}, true
	}
	return nil, false
}

// Evaluate evaluates the recorded calls (but the harness's) against the
// stack: each call's IAM requests (s.Deployment().Authorize), the
// distinct ones (same principal, action, resource and condition keys:
// the policies evaluated are a function of these) in one simulator run.
// Evaluating costs under 2 ms a request on the 2-core test machine
// (TestEvaluateVolume: 1,501 distinct requests in 2.6 s; the e2e suite's
// 664 recorded calls were 199 distinct requests, evaluated in 1 s), so
// nothing coarser than exact duplicates is merged. The error is for a
// simulator that could not run; what is denied or cannot be evaluated is
// in the report.
func Evaluate(ctx context.Context, sim *iamsim.Simulator, s *Stack, recs []Recorded) (*Report, error) {
	d := s.Deployment()
	type slot struct {
		principal *Principal
		auth      iam.Authorization
		first     Recorded
		calls     int
	}
	rep := &Report{Distinct: map[string]int{}}
	var slots []*slot
	index := map[string]int{}
	invalid := map[string]*Denial{}
	for _, rec := range recs {
		if rec.Principal == Harness {
			continue
		}
		rep.Calls++
		fail := func(why string) {
			key := rec.Principal + "\x00" + rec.Call.Service + ":" + rec.Call.Operation + "\x00" + why
			if x, ok := invalid[key]; ok {
				x.Calls++
				return
			}
			invalid[key] = &Denial{Principal: rec.Principal, Call: rec.Call, Where: rec.Where, Decision: iamsim.Invalid, Explanation: why, Calls: 1}
		}
		p, ok := s.principalFor(rec.Principal)
		if !ok {
			fail(fmt.Sprintf("no principal %q: the stack's and the operators added are %s", rec.Principal, strings.Join(s.Principals(), ", ")))
			continue
		}
		auths, err := d.Authorize(rec.Call)
		if err != nil {
			fail("no IAM request: " + err.Error())
			continue
		}
		for _, a := range auths {
			ctxKey, err := json.Marshal(a.Context)
			if err != nil {
				return nil, fmt.Errorf("authz: %s: the context of %s: %w", rec.Principal, a.Action, err)
			}
			key := p.Name + "\x00" + a.Action + "\x00" + a.Resource + "\x00" + string(ctxKey)
			if i, ok := index[key]; ok {
				slots[i].calls++
				continue
			}
			index[key] = len(slots)
			slots = append(slots, &slot{principal: p, auth: a, first: rec, calls: 1})
		}
	}
	reqs := make([]iamsim.Request, len(slots))
	for i, sl := range slots {
		reqs[i] = iamsim.Request{Principal: sl.principal.ARN, IdentityPolicies: sl.principal.Policies,
			ResourcePolicy: s.ResourcePolicy(sl.auth.Action, sl.auth.Resource), Action: sl.auth.Action, Resource: sl.auth.Resource,
			Account: s.env.Account, Context: sl.auth.Context}
	}
	var results []iamsim.Result
	if len(reqs) > 0 {
		var err error
		if results, err = sim.Evaluate(ctx, reqs); err != nil {
			return nil, fmt.Errorf("authz: %w", err)
		}
	}
	rep.Requests = len(slots) + len(invalid)
	used := usedGrants{}
	exercised := map[string]bool{}
	ignored := map[string]bool{}
	for i, sl := range slots {
		res := results[i]
		rep.Distinct[sl.principal.Name]++
		exercised[sl.principal.Name] = true
		for _, k := range res.IgnoredContextKeys {
			ignored[sl.auth.Action+": "+k] = true
		}
		if res.Decision != iamsim.Allowed {
			why := res.Explanation
			if len(sl.principal.Policies) == 0 {
				why += "; a service principal has no identity policies: only the resource's policy can allow it"
				if reqs[i].ResourcePolicy == nil {
					why += ", and the stack gives " + sl.auth.Resource + " none"
				}
			}
			rep.Denied = append(rep.Denied, Denial{Principal: sl.principal.Name, Call: sl.first.Call, Where: sl.first.Where,
				Authorization: sl.auth, Decision: res.Decision, Explanation: why, Calls: sl.calls})
			continue
		}
		// The simulator takes a wildcard in a request's resource (a
		// ListExports on "*", a DescribeStacks by name on stack/<name>/*)
		// as a pattern, which any overlapping grant allows. AWS does not:
		// so one of the identity statements that allowed it must name the
		// resource as written (a "*" grant for a "*" request), which mark
		// matches literally.
		if !used.mark(sl.principal, sl.auth, res.Grants) && strings.ContainsAny(sl.auth.Resource, "*?") && len(sl.principal.Policies) > 0 {
			rep.Denied = append(rep.Denied, Denial{Principal: sl.principal.Name, Call: sl.first.Call, Where: sl.first.Where,
				Authorization: sl.auth, Decision: iamsim.Invalid, Calls: sl.calls,
				Explanation: "the request's resource holds a wildcard, and no identity statement that allowed it (" + res.Explanation + ") names it as written"})
		}
	}
	for _, x := range invalid {
		rep.Distinct[x.Principal]++
		rep.Denied = append(rep.Denied, *x)
	}
	sort.SliceStable(rep.Denied, func(i, j int) bool {
		a, b := rep.Denied[i], rep.Denied[j]
		if a.Principal != b.Principal {
			return a.Principal < b.Principal
		}
		if a.Authorization.Action != b.Authorization.Action {
			return a.Authorization.Action < b.Authorization.Action
		}
		if a.Authorization.Resource != b.Authorization.Resource {
			return a.Authorization.Resource < b.Authorization.Resource
		}
		if a.Explanation != b.Explanation {
			return a.Explanation < b.Explanation
		}
		return callText(a.Call) < callText(b.Call)
	})
	for _, name := range s.Principals() {
		if !exercised[name] {
			rep.Unexercised = append(rep.Unexercised, name)
			continue
		}
		rep.Unused = append(rep.Unused, used.unused(s.principals[name])...)
	}
	sortGrants(rep.Unused)
	for k := range ignored {
		rep.IgnoredContextKeys = append(rep.IgnoredContextKeys, k)
	}
	sort.Strings(rep.IgnoredContextKeys)
	return rep, nil
}
