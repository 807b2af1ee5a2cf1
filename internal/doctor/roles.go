package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/deployed"
)

// roles compares each function's role with what package iam defines for
// it: the one inline policy infra puts on it (named after the function),
// no other inline policy, no managed policy.
func (d *doctor) roles(ctx context.Context) {
	type role struct {
		id, name, output string
		statements       func(iam.Resources) []iam.Statement
	}
	list := []role{{"role-streamer", "streamer", "StreamerFunctionName", iam.Streamer}}
	if d.hasForwarder() {
		list = append(list, role{"role-forwarder", "forwarder", "ForwarderFunctionName", iam.Forwarder})
	}
	if d.outputs["ExportPlannerFunctionName"] != "" {
		list = append(list, role{"role-exportplanner", "exportplanner", "ExportPlannerFunctionName", iam.ExportPlanner},
			role{"role-exportconverter", "exportconverter", "ExportConverterFunctionName", iam.ExportConverter})
	}
	for _, r := range list {
		title := "role policy: " + r.name
		f, err := d.function(ctx, r.output)
		if err != nil {
			d.fail(r.id, title, short(err.Error()), remedyFor(err, "lambda:GetFunctionConfiguration"))
			continue
		}
		deployedDoc, extra, err := d.rolePolicies(ctx, f, r.name)
		if err != nil {
			d.fail(r.id, title, short(err.Error()), remedyFor(err, "iam:GetRolePolicy"))
			continue
		}
		res, err := d.resources(ctx, f, deployedDoc)
		if err != nil {
			d.fail(r.id, title, short(err.Error()), remedyFor(err, "the stack's resources"))
			continue
		}
		expected, err := normalize(mustJSON(iam.Policy(r.statements(res))))
		if err != nil {
			d.fail(r.id, title, err.Error(), "report this: iam's own policy does not read back")
			continue
		}
		drift := append(extra, compare(deployedDoc, expected)...)
		if len(drift) > 0 {
			d.fail(r.id, title, fmt.Sprintf("role %s differs from iam's %s policy (%s)", f.RoleName(), r.name, plural(len(drift), "difference")),
				"deploy the stack again (make deploy), which puts iam's policy back; find who changed the role in CloudTrail (iam:PutRolePolicy, iam:AttachRolePolicy)", drift...)
			continue
		}
		d.pass(r.id, title, fmt.Sprintf("role %s holds exactly iam's %s policy (%d statements)", f.RoleName(), r.name, len(expected)))
	}
}

// rolePolicies reads the role's inline policy named name, and lists the
// policies that should not be there.
func (d *doctor) rolePolicies(ctx context.Context, f deployed.Function, name string) (map[string]statement, []string, error) {
	role := f.RoleName()
	if role == "" {
		return nil, nil, fmt.Errorf("function %s has no role", f.Name)
	}
	var extra []string
	inline, err := d.c.Roles.ListRolePolicies(ctx, &awsiam.ListRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		return nil, nil, fmt.Errorf("list the inline policies of %s: %w", role, err)
	}
	found := false
	for _, p := range inline.PolicyNames {
		if p == name {
			found = true
			continue
		}
		extra = append(extra, fmt.Sprintf("inline policy %s is not iam's", p))
	}
	attached, err := d.c.Roles.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	if err != nil {
		return nil, nil, fmt.Errorf("list the managed policies of %s: %w", role, err)
	}
	for _, p := range attached.AttachedPolicies {
		extra = append(extra, fmt.Sprintf("managed policy %s is attached", aws.ToString(p.PolicyArn)))
	}
	if !found {
		return map[string]statement{}, append(extra, fmt.Sprintf("inline policy %s is missing", name)), nil
	}
	out, err := d.c.Roles.GetRolePolicy(ctx, &awsiam.GetRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
	if err != nil {
		return nil, nil, fmt.Errorf("read policy %s of %s: %w", name, role, err)
	}
	doc, err := normalize(policyText(aws.ToString(out.PolicyDocument)))
	if err != nil {
		return nil, nil, fmt.Errorf("policy %s of %s: %w", name, role, err)
	}
	return doc, extra, nil
}

// policyText decodes GetRolePolicy's document, which "is URL-encoded
// compliant with RFC 3986"
// (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetRolePolicy.html);
// PathUnescape, unlike QueryUnescape, leaves '+' alone.
func policyText(s string) []byte {
	if json.Valid([]byte(s)) {
		return []byte(s)
	}
	if u, err := url.PathUnescape(s); err == nil {
		return []byte(u)
	}
	return []byte(s)
}

// resources rebuilds what infra gave package iam for the stack, from the
// outputs, the function and its queues. The optional keys of an imported
// table and of the secret are not outputs: they are read from the
// deployed statements that use them (their actions and conditions are
// still compared).
func (d *doctor) resources(ctx context.Context, f deployed.Function, doc map[string]statement) (iam.Resources, error) {
	o := d.outputs
	r := iam.Resources{
		Partition: f.Partition(), Region: f.Region(), Account: f.Account(),
		BucketName: o["BucketName"], Prefix: o["Prefix"], KeyARN: o["BucketKeyArn"],
		TableName: o["TableName"], StreamARN: o["StreamArn"],
		StreamerLogGroup: o["StreamerLogGroupName"], ForwarderLogGroup: o["ForwarderLogGroupName"],
		ExportPrefix: o["ExportPrefix"],
	}
	if s, ok := doc["DecryptStream"]; ok && len(s.Resources) > 0 {
		r.TableKeyARN = s.Resources[0]
	}
	if s, ok := doc["DecryptDatabricksSecret"]; ok && len(s.Resources) > 0 {
		r.SecretKeyARN = s.Resources[0]
	}
	var err error
	queue := func(output string) string {
		url := o[output]
		if url == "" || err != nil {
			return ""
		}
		if arn, ok := d.queueARNs[url]; ok && arn != "" {
			return arn
		}
		if _, _, qerr := d.queueDepth(ctx, url); qerr != nil {
			err = fmt.Errorf("read queue %s: %w", url, qerr)
		}
		return d.queueARNs[url]
	}
	r.StreamerQueueARN = queue("StreamerFailureQueueUrl")
	r.ForwarderQueueARN = queue("ForwarderFailureQueueUrl")
	r.PlannerQueueARN = queue("ExportPlannerFailureQueueUrl")
	r.ConverterQueueARN = queue("ExportConverterFailureQueueUrl")
	if err != nil {
		return r, err
	}
	if d.hasForwarder() {
		fw, ferr := d.function(ctx, "ForwarderFunctionName")
		if ferr != nil {
			return r, ferr
		}
		r.SecretARN = secretARN(r, fw.Env["DATABRICKS_SECRET_ID"])
	}
	for _, p := range []struct {
		output string
		group  *string
		arn    *string
	}{
		{"ExportPlannerFunctionName", &r.PlannerLogGroup, nil},
		{"ExportConverterFunctionName", &r.ConverterLogGroup, &r.ConverterFunctionARN},
	} {
		if o[p.output] == "" {
			continue
		}
		ef, ferr := d.function(ctx, p.output)
		if ferr != nil {
			return r, ferr
		}
		*p.group = ef.LogGroup
		if p.arn != nil {
			*p.arn = ef.ARN
		}
	}
	return r, nil
}

// secretARN is the resource infra grants for the secret the forwarder
// reads: its ARN when given one, else the name's ARN with the six random
// characters Secrets Manager appends (infra/pipeline/stack.go).
func secretARN(r iam.Resources, id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", r.Partition, r.Region, r.Account, id)
}

// statement is a policy statement in a form that compares: effect, sorted
// actions and resources, conditions with sorted values.
type statement struct {
	Effect     string
	Actions    []string
	Resources  []string
	Conditions map[string][]string // "operator key" -> values
}

// normalize reads a policy document into statements by Sid. IAM returns
// an action, resource or condition value as a string or a list as it was
// written; both read the same here.
func normalize(doc []byte) (map[string]statement, error) {
	var raw struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("policy is not JSON: %w", err)
	}
	var list []map[string]any
	if err := json.Unmarshal(raw.Statement, &list); err != nil {
		var one map[string]any
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("policy has no statements: %w", err)
		}
		list = []map[string]any{one}
	}
	out := map[string]statement{}
	for i, s := range list {
		sid, _ := s["Sid"].(string)
		if sid == "" {
			sid = fmt.Sprintf("(statement %d, no Sid)", i+1)
		}
		st := statement{Effect: fmt.Sprint(s["Effect"]), Actions: strs(s["Action"]), Resources: strs(s["Resource"]), Conditions: map[string][]string{}}
		if c, ok := s["Condition"].(map[string]any); ok {
			for op, kv := range c {
				if m, ok := kv.(map[string]any); ok {
					for k, v := range m {
						st.Conditions[op+" "+k] = strs(v)
					}
				}
			}
		}
		for _, notAllowed := range []string{"NotAction", "NotResource", "Principal", "NotPrincipal"} {
			if _, ok := s[notAllowed]; ok {
				st.Conditions["(has "+notAllowed+")"] = []string{"yes"}
			}
		}
		out[sid] = st
	}
	return out, nil
}

func strs(v any) []string {
	var out []string
	switch v := v.(type) {
	case nil:
	case []any:
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
	default:
		out = []string{fmt.Sprint(v)}
	}
	sort.Strings(out)
	return out
}

// compare lists how the deployed statements differ from iam's.
func compare(got, want map[string]statement) []string {
	var sids []string
	for sid := range want {
		sids = append(sids, sid)
	}
	for sid := range got {
		if _, ok := want[sid]; !ok {
			sids = append(sids, sid)
		}
	}
	sort.Strings(sids)
	var drift []string
	for _, sid := range sids {
		g, inGot := got[sid]
		w, inWant := want[sid]
		switch {
		case !inGot:
			drift = append(drift, fmt.Sprintf("statement %s is missing (iam grants %s on %s)", sid, strings.Join(w.Actions, ", "), strings.Join(w.Resources, ", ")))
			continue
		case !inWant:
			drift = append(drift, fmt.Sprintf("statement %s is not iam's: %s %s on %s", sid, g.Effect, strings.Join(g.Actions, ", "), strings.Join(g.Resources, ", ")))
			continue
		}
		if g.Effect != w.Effect {
			drift = append(drift, fmt.Sprintf("statement %s: effect %s, iam's %s", sid, g.Effect, w.Effect))
		}
		if !slices.Equal(g.Actions, w.Actions) {
			drift = append(drift, fmt.Sprintf("statement %s: actions %s, iam's %s", sid, strings.Join(g.Actions, ", "), strings.Join(w.Actions, ", ")))
		}
		if !slices.Equal(g.Resources, w.Resources) {
			drift = append(drift, fmt.Sprintf("statement %s: resources %s, iam's %s", sid, strings.Join(g.Resources, ", "), strings.Join(w.Resources, ", ")))
		}
		var keys []string
		for k := range g.Conditions {
			keys = append(keys, k)
		}
		for k := range w.Conditions {
			if _, ok := g.Conditions[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !slices.Equal(g.Conditions[k], w.Conditions[k]) {
				drift = append(drift, fmt.Sprintf("statement %s: condition %s is %v, iam's %v", sid, k, g.Conditions[k], w.Conditions[k]))
			}
		}
	}
	return drift
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("{}")
	}
	return b
}
