package authz

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// otherAccount is an account that is not the stack's, for the principals
// that must be refused.
const otherAccount = "111122223333"

// TrustChecks are the requests no local run makes but the deployment
// depends on, each with the decision it must get:
//
//   - a role whose trust policy requires an external ID (the Unity
//     Catalog role): each trusted principal may assume it with that ID,
//     and not without it, nor with another ID; another principal may not
//     even with it;
//   - a function role: lambda.amazonaws.com may assume it, another
//     service may not;
//   - each Lambda permission: its principal may invoke the function from
//     its source (an EventBridge rule), and not from another source in
//     the same account;
//   - each service-principal statement of a queue or bucket policy (an
//     EventBridge rule's dead-letter queue, the log delivery to the access
//     logs bucket): the service may act from its source, and not from
//     another.
//
// A principal of another account also needs its own identity policy to
// allow sts:AssumeRole; Databricks' role is given one that does, so the
// check is of the trust policy alone.
func TrustChecks(s *Stack) []iamsim.Check {
	var checks []iamsim.Check
	for _, id := range s.ids {
		r := s.resources[id]
		switch r.typ {
		case "AWS::IAM::Role":
			checks = append(checks, s.roleTrustChecks(r)...)
		case "AWS::Lambda::Permission":
			checks = append(checks, s.permissionChecks(r)...)
		case "AWS::SQS::QueuePolicy", "AWS::S3::BucketPolicy":
			checks = append(checks, s.serviceStatementChecks(r)...)
		}
	}
	return checks
}

// anyAssume is the identity policy assumed for a principal outside the
// stack: it may assume any role, so only the trust policy decides.
var anyAssume = []iamsim.Policy{{Name: "assumed-caller-policy", Document: map[string]any{"Version": "2012-10-17",
	"Statement": []any{map[string]any{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}}}}}

func (s *Stack) roleTrustChecks(r *resource) []iamsim.Check {
	roleARN, err := s.roleARN(r)
	if err != nil {
		return nil
	}
	trust := r.props["AssumeRolePolicyDocument"]
	request := func(principal string, pols []iamsim.Policy, ctx map[string]any) iamsim.Request {
		return iamsim.Request{Principal: principal, IdentityPolicies: pols, ResourcePolicy: trust, Action: "sts:AssumeRole",
			Resource: roleARN, Account: s.env.Account, Context: ctx}
	}
	var checks []iamsim.Check
	for _, st := range trustStatements(trust) {
		if st.service != "" {
			checks = append(checks,
				iamsim.Check{Name: fmt.Sprintf("%s: %s assumes the role", r.id, st.service), Request: request(st.service, nil, nil), Want: iamsim.Allowed},
				iamsim.Check{Name: fmt.Sprintf("%s: another service (ec2.amazonaws.com) assumes the role", r.id),
					Request: request("ec2.amazonaws.com", nil, nil), Want: iamsim.ImplicitlyDenied})
			continue
		}
		// The caller: the principal the statement names or, for an
		// account, the one principal its aws:PrincipalArn condition
		// narrows it to (the role itself, assuming itself with its own
		// policies); without one, any principal of the account.
		caller, callerRole, pols := st.aws, st.aws, anyAssume
		account := iam.ARNAccount(st.aws)
		if strings.HasSuffix(st.aws, ":root") {
			caller = "arn:" + s.env.Partition + ":iam::" + account + ":role/any-principal"
			if st.principalARN != "" {
				caller = st.principalARN
			}
			callerRole = caller
			if caller == roleARN {
				caller, pols = s.sessionARN(r.name, "self"), s.identityPoliciesOf(roleARN)
			}
		}
		// Every statement trusting an AWS principal must require an
		// external ID (the confused deputy,
		// https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html):
		// without one, the check without an ID fails.
		id := st.externalID
		if id == "" {
			id = "some-external-id"
		}
		with := func(principalARN, externalID string) map[string]any {
			c := map[string]any{"aws:PrincipalArn": principalARN}
			if externalID != "" {
				c["sts:ExternalId"] = externalID
			}
			return c
		}
		if st.externalID != "" {
			checks = append(checks, iamsim.Check{Name: fmt.Sprintf("%s: %s assumes the role with the external ID", r.id, caller),
				Request: request(caller, pols, with(callerRole, id)), Want: iamsim.Allowed})
		}
		intruder := "arn:" + s.env.Partition + ":iam::" + otherAccount + ":role/intruder"
		if account == s.env.Account {
			intruder = "arn:" + s.env.Partition + ":iam::" + s.env.Account + ":role/intruder"
		}
		checks = append(checks,
			iamsim.Check{Name: fmt.Sprintf("%s: %s assumes the role without an external ID", r.id, caller),
				Request: request(caller, pols, with(callerRole, "")), Want: iamsim.ImplicitlyDenied},
			iamsim.Check{Name: fmt.Sprintf("%s: %s assumes the role with another external ID", r.id, caller),
				Request: request(caller, pols, with(callerRole, id+"-other")), Want: iamsim.ImplicitlyDenied},
			iamsim.Check{Name: fmt.Sprintf("%s: another principal (%s) assumes the role with the external ID", r.id, intruder),
				Request: request(intruder, anyAssume, with(intruder, id)), Want: iamsim.ImplicitlyDenied})
	}
	return checks
}

// identityPoliciesOf are the policies of the stack's role roleARN.
func (s *Stack) identityPoliciesOf(roleARN string) []iamsim.Policy {
	for _, id := range s.ids {
		if r := s.resources[id]; r.typ == "AWS::IAM::Role" {
			if arn, _ := s.roleARN(r); arn == roleARN {
				pols, _ := s.rolePolicies(r)
				return pols
			}
		}
	}
	return nil
}

// trustStatement is what TrustChecks reads of an Allow sts:AssumeRole
// statement: a service, or an AWS principal with the external ID it must
// give and the principal ARN an account principal is narrowed to.
type trustStatement struct {
	service, aws, externalID, principalARN string
}

func trustStatements(doc any) []trustStatement {
	var out []trustStatement
	for _, st := range rawStatements(doc) {
		actions, _ := patterns(st, "Action", "NotAction")
		if st["Effect"] != "Allow" || !containsFold(actions, "sts:AssumeRole") {
			continue
		}
		principal, _ := st["Principal"].(map[string]any)
		cond, _ := st["Condition"].(map[string]any)
		t := trustStatement{externalID: conditionValue(cond, "StringEquals", "sts:ExternalId")}
		for _, op := range []string{"ArnLike", "ArnEquals"} {
			if v := conditionValue(cond, op, "aws:PrincipalArn"); v != "" {
				t.principalARN = v
			}
		}
		for _, svc := range stringList(principal["Service"]) {
			u := t
			u.service = svc
			out = append(out, u)
		}
		for _, a := range stringList(principal["AWS"]) {
			u := t
			u.aws = a
			out = append(out, u)
		}
	}
	return out
}

func (s *Stack) permissionChecks(r *resource) []iamsim.Check {
	fn, st, err := s.permissionStatement(r)
	if err != nil {
		return nil
	}
	principal, _ := st.(map[string]any)["Principal"].(map[string]any)
	svc, _ := principal["Service"].(string)
	action, _ := r.props["Action"].(string)
	if svc == "" {
		return nil
	}
	source, _ := r.props["SourceArn"].(string)
	policy := s.ResourcePolicy(action, fn)
	req := func(src string) iamsim.Request {
		return iamsim.Request{Principal: svc, ResourcePolicy: policy, Action: action, Resource: fn, Account: s.env.Account,
			Context: map[string]any{"aws:SourceArn": src, "aws:SourceAccount": s.env.Account}}
	}
	var checks []iamsim.Check
	if source != "" {
		checks = append(checks, iamsim.Check{Name: fmt.Sprintf("%s: %s invokes %s from %s", r.id, svc, fn, source), Request: req(source), Want: iamsim.Allowed})
	}
	// A permission without SourceArn lets the service invoke the
	// function for any source, even another account's: this check fails.
	return append(checks, iamsim.Check{Name: fmt.Sprintf("%s: %s invokes %s from another source", r.id, svc, fn),
		Request: req(s.otherSource(svc, source)), Want: iamsim.ImplicitlyDenied})
}

// serviceStatementChecks check each Allow statement of a queue or bucket
// policy whose principal is a service: it may act from the source its
// aws:SourceArn condition names, and from no other (a statement without
// one fails the second check).
func (s *Stack) serviceStatementChecks(r *resource) []iamsim.Check {
	doc := r.props["PolicyDocument"]
	var checks []iamsim.Check
	for i, st := range rawStatements(doc) {
		principal, _ := st["Principal"].(map[string]any)
		services := stringList(principal["Service"])
		actions, not := patterns(st, "Action", "NotAction")
		resources, notRes := patterns(st, "Resource", "NotResource")
		if st["Effect"] != "Allow" || len(services) == 0 || not || notRes || len(actions) == 0 || len(resources) == 0 {
			continue
		}
		cond, _ := st["Condition"].(map[string]any)
		source := ""
		for _, op := range []string{"ArnEquals", "ArnLike", "StringEquals", "StringLike"} {
			if v := conditionValue(cond, op, "aws:SourceArn"); v != "" {
				source = v
			}
		}
		sid, _ := st["Sid"].(string)
		if sid == "" {
			sid = fmt.Sprint(i + 1)
		}
		account := conditionValue(cond, "StringEquals", "aws:SourceAccount")
		if account == "" {
			account = s.env.Account
		}
		// A concrete resource for the statement's pattern: an object
		// under a bucket prefix.
		res := strings.NewReplacer("*", "object", "?", "x").Replace(resources[0])
		for _, svc := range services {
			req := func(src string) iamsim.Request {
				return iamsim.Request{Principal: svc, ResourcePolicy: doc, Action: actions[0], Resource: res, Account: s.env.Account,
					Context: map[string]any{"aws:SourceArn": src, "aws:SourceAccount": account, "aws:SecureTransport": "true"}}
			}
			if source != "" {
				checks = append(checks, iamsim.Check{Name: fmt.Sprintf("%s/%s: %s %s on %s from %s", r.id, sid, svc, actions[0], res, source),
					Request: req(source), Want: iamsim.Allowed})
			}
			checks = append(checks, iamsim.Check{Name: fmt.Sprintf("%s/%s: %s %s on %s from another source", r.id, sid, svc, actions[0], res),
				Request: req(s.otherSource(svc, source)), Want: iamsim.ImplicitlyDenied})
		}
	}
	return checks
}

// otherSource is another resource of the kind a service acts for, in
// the stack's account: another rule, another bucket.
func (s *Stack) otherSource(service, source string) string {
	if source != "" {
		if i := strings.LastIndexAny(source, "/:"); i >= 0 {
			return source[:i+1] + "other-" + strings.Trim(source[i+1:], "*?")
		}
		return source + "-other"
	}
	if strings.Contains(service, ".s3.") || strings.HasPrefix(service, "s3.") {
		return "arn:" + s.env.Partition + ":s3:::other-bucket"
	}
	prefix, _, _ := strings.Cut(service, ".")
	if prefix == "events" {
		return s.arn("events", "rule/other-rule")
	}
	return s.arn(prefix, "other")
}

func rawStatements(doc any) []map[string]any {
	m, _ := doc.(map[string]any)
	switch st := m["Statement"].(type) {
	case []any:
		var out []map[string]any
		for _, x := range st {
			if sm, ok := x.(map[string]any); ok {
				out = append(out, sm)
			}
		}
		return out
	case map[string]any:
		return []map[string]any{st}
	}
	return nil
}

// conditionValue is the one value a condition operator gives a key.
func conditionValue(cond map[string]any, op, key string) string {
	m, _ := cond[op].(map[string]any)
	for k, v := range m {
		if strings.EqualFold(k, key) {
			if l := stringList(v); len(l) == 1 {
				return l[0]
			}
		}
	}
	return ""
}

func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		sort.Strings(out)
		return out
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
