package authz

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// Principal is who makes requests, with the identity policies AWS
// evaluates them against.
type Principal struct {
	// Name is how Recorded names it: a function's name, a ddbstream
	// subcommand.
	Name string
	// ARN is the request's principal: a session of the role, as AWS sees
	// a function's or an operator's requests (no policy here names a
	// session, so its name is immaterial).
	ARN     string
	RoleARN string
	// Policies are its identity policies: the role's inline policies,
	// the AWS::IAM::Policy and customer managed policies attached to it.
	Policies []iamsim.Policy
}

// buildPrincipals makes each function's execution role a principal,
// named as the function.
func (s *Stack) buildPrincipals() error {
	for _, id := range s.ids {
		fn := s.resources[id]
		if fn.typ != "AWS::Lambda::Function" {
			continue
		}
		roleARN, _ := fn.props["Role"].(string)
		var role *resource
		for _, rid := range s.ids {
			if r := s.resources[rid]; r.typ == "AWS::IAM::Role" {
				if arn, err := s.roleARN(r); err == nil && arn == roleARN {
					role = r
				}
			}
		}
		if role == nil {
			return fmt.Errorf("authz: function %s: its role %q is not in the template, so its policies are unknown", id, roleARN)
		}
		pols, err := s.rolePolicies(role)
		if err != nil {
			return err
		}
		if _, dup := s.principals[fn.name]; dup {
			return fmt.Errorf("authz: two functions are named %q", fn.name)
		}
		s.principals[fn.name] = &Principal{Name: fn.name, ARN: s.sessionARN(role.name, fn.name), RoleARN: roleARN, Policies: pols}
	}
	return nil
}

func (s *Stack) sessionARN(role, session string) string {
	return "arn:" + s.env.Partition + ":sts::" + s.env.Account + ":assumed-role/" + role + "/" + session
}

// rolePolicies are the identity policies of a role: inline, the
// AWS::IAM::Policy and AWS::IAM::ManagedPolicy resources attached to it,
// and its ManagedPolicyArns, each of which must be a managed policy of the
// template: an AWS managed policy's document is not here to evaluate.
func (s *Stack) rolePolicies(role *resource) ([]iamsim.Policy, error) {
	var out []iamsim.Policy
	seen := map[string]bool{}
	add := func(name string, doc any, where string) error {
		if name == "" || doc == nil {
			return fmt.Errorf("authz: role %s: %s has no name or document", role.id, where)
		}
		if seen[name] {
			return fmt.Errorf("authz: role %s has two policies named %q", role.id, name)
		}
		seen[name] = true
		out = append(out, iamsim.Policy{Name: name, Document: doc})
		return nil
	}
	if role.props["PermissionsBoundary"] != nil {
		return nil, fmt.Errorf("authz: role %s has a permissions boundary, which authz does not evaluate", role.id)
	}
	inline, _ := role.props["Policies"].([]any)
	for i, p := range inline {
		m, _ := p.(map[string]any)
		name, _ := m["PolicyName"].(string)
		if err := add(name, m["PolicyDocument"], fmt.Sprintf("Policies[%d]", i)); err != nil {
			return nil, err
		}
	}
	managed := map[string]*resource{}
	for _, id := range s.ids {
		r := s.resources[id]
		switch r.typ {
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			if r.typ == "AWS::IAM::ManagedPolicy" {
				managed["arn:"+s.env.Partition+":iam::"+s.env.Account+":policy/"+r.name] = r
			}
			roles, _ := r.props["Roles"].([]any)
			for _, x := range roles {
				if x == role.name {
					if err := add(r.name, r.props["PolicyDocument"], id); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	arns, _ := role.props["ManagedPolicyArns"].([]any)
	for _, x := range arns {
		arn, _ := x.(string)
		r, ok := managed[arn]
		switch {
		case ok && seen[r.name]:
		case ok:
			if err := add(r.name, r.props["PolicyDocument"], r.id); err != nil {
				return nil, err
			}
		case strings.Contains(arn, ":iam::aws:policy/"):
			return nil, fmt.Errorf("authz: role %s has the AWS managed policy %s attached, whose document is not in the template", role.id, arn)
		default:
			return nil, fmt.Errorf("authz: role %s has the managed policy %s attached, which is not in the template", role.id, arn)
		}
	}
	return out, nil
}

// Principals are the names of the stack's principals (its functions) and
// of the operators added, sorted.
func (s *Stack) Principals() []string {
	out := make([]string, 0, len(s.principals))
	for n := range s.principals {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Principal returns a principal by name.
func (s *Stack) Principal(name string) (Principal, bool) {
	p, ok := s.principals[name]
	if !ok {
		return Principal{}, false
	}
	return *p, true
}

// operatorPolicyPrefix starts the operator policies' names in
// iam/testdata/operator-policies.json: ddbstream-backfill is the
// backfill subcommand's.
const operatorPolicyPrefix = "ddbstream-"

// AddOperator adds a ddbstream subcommand as a principal with its
// policy: a session of the role ddbstream-<principal>, holding that one
// policy, named ddbstream-<principal>.
func (s *Stack) AddOperator(principal string, policy any) error {
	if principal == "" || strings.ContainsAny(principal, " \t\n/:") {
		return fmt.Errorf("authz: operator name %q: want a subcommand name", principal)
	}
	if _, dup := s.principals[principal]; dup {
		return fmt.Errorf("authz: a principal named %q exists already", principal)
	}
	raw, err := json.Marshal(policy)
	if err != nil {
		return fmt.Errorf("authz: operator %s's policy: %w", principal, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil || doc["Statement"] == nil {
		return fmt.Errorf("authz: operator %s's policy is not a policy document: %s", principal, raw)
	}
	role := operatorPolicyPrefix + principal
	s.principals[principal] = &Principal{Name: principal, ARN: s.sessionARN(role, principal),
		RoleARN:  "arn:" + s.env.Partition + ":iam::" + s.env.Account + ":role/" + role,
		Policies: []iamsim.Policy{{Name: role, Document: doc}}}
	return nil
}

// AddOperators adds every policy of an operator policy file
// (iam/testdata/operator-policies.json: ddbstream-<subcommand> to its
// document), its placeholders filled with the stack's values, each as the
// principal <subcommand>.
func (s *Stack) AddOperators(policies []byte) error {
	docs, err := s.OperatorPolicies(policies)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sub, ok := strings.CutPrefix(n, operatorPolicyPrefix)
		if !ok {
			return fmt.Errorf("authz: operator policy %q is not named %s<subcommand>", n, operatorPolicyPrefix)
		}
		if err := s.AddOperator(sub, docs[n]); err != nil {
			return err
		}
	}
	return nil
}

// OperatorPolicies reads an operator policy file with its placeholders
// filled (FillPlaceholders): policy name to document.
func (s *Stack) OperatorPolicies(policies []byte) (map[string]any, error) {
	filled, err := s.FillPlaceholders(policies)
	if err != nil {
		return nil, err
	}
	var docs map[string]any
	if err := json.Unmarshal(filled, &docs); err != nil {
		return nil, fmt.Errorf("authz: the operator policies: %w", err)
	}
	return docs, nil
}

// placeholder is iam.Placeholders()' ${Name}; IAM's own policy variables
// (${aws:username}) hold a colon and are left alone.
var placeholder = regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`)

// FillPlaceholders replaces every ${Name} of iam.Placeholders() in text
// with the stack's value (PlaceholderValues); one it has no value for is
// an error naming it.
func (s *Stack) FillPlaceholders(text []byte) ([]byte, error) {
	values := s.PlaceholderValues()
	missing := map[string]bool{}
	out := placeholder.ReplaceAllFunc(text, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := values[name]
		if !ok {
			missing[name] = true
			return m
		}
		// The value goes into a JSON string.
		q, _ := json.Marshal(v)
		return q[1 : len(q)-1]
	})
	if len(missing) > 0 {
		var names []string
		for n := range missing {
			names = append(names, "${"+n+"}")
		}
		sort.Strings(names)
		return nil, fmt.Errorf("authz: the stack gives no value for %s", strings.Join(names, ", "))
	}
	return out, nil
}

// PlaceholderValues are the stack's values for the placeholders of
// iam.Placeholders(), by name. They come from the Env (Partition, Region,
// Account, StackName) and the stack's outputs: BucketName, BucketKeyArn,
// TableName and StreamArn as they are; for an output <X>FunctionName, the
// function's ARN (<X>FunctionArn), its role's (<X>RoleArn) and its log
// group (<X>LogGroup); for <X>QueueUrl, the queue's ARN (<X>QueueArn).
// DatabricksSecretArn is the one secret the stack's policies name, as they
// name it. TableKeyArn is the table's customer managed key or, for a
// table with AWS's key, a stand-in no request uses: the operator
// statements for it (for an imported table's key) then show as unused
// grants, each with its reason.
func (s *Stack) PlaceholderValues() map[string]string {
	v := map[string]string{
		"Partition": s.env.Partition, "Region": s.env.Region, "Account": s.env.Account, "StackName": s.env.StackName,
	}
	for _, name := range []string{"BucketName", "BucketKeyArn", "TableName", "StreamArn"} {
		if o, ok := s.outputs[name]; ok {
			v[name] = o
		}
	}
	for name, raw := range s.rawOutputs {
		o, _ := raw.(map[string]any)
		val, _ := o["Value"].(map[string]any)
		id, _ := val["Ref"].(string)
		r := s.resources[id]
		if r == nil {
			continue
		}
		if x, ok := strings.CutSuffix(name, "FunctionName"); ok && r.typ == "AWS::Lambda::Function" {
			v[x+"FunctionArn"], _ = s.getAtt(id, "Arn")
			if role, ok := r.props["Role"].(string); ok {
				v[x+"RoleArn"] = role
			}
			if lc, ok := r.props["LoggingConfig"].(map[string]any); ok {
				if lg, ok := lc["LogGroup"].(string); ok {
					v[x+"LogGroup"] = lg
				}
			}
		}
		if x, ok := strings.CutSuffix(name, "QueueUrl"); ok && r.typ == "AWS::SQS::Queue" {
			v[x+"QueueArn"], _ = s.getAtt(id, "Arn")
		}
		if x, ok := strings.CutSuffix(name, "LogGroupName"); ok && r.typ == "AWS::Logs::LogGroup" {
			v[x+"LogGroup"] = r.name
		}
	}
	if len(s.secrets) == 1 {
		for _, ref := range s.secrets {
			v["DatabricksSecretArn"] = ref.pattern
		}
	}
	v["TableKeyArn"] = s.tableKeyARN()
	return v
}

// tableKeyARN is the table's customer managed key, or a stand-in.
func (s *Stack) tableKeyARN() string {
	keys := s.Deployment().TableKeys
	if len(keys) == 1 {
		for _, k := range keys {
			return k
		}
	}
	return s.arn("kms", "key/"+derivedUUID("kms-key:ExistingTableKey"))
}
