package authz

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Env is the deployment a template is resolved for: the local run's
// account, region and the physical names of its resources, which
// CloudFormation would otherwise generate.
type Env struct {
	// Partition defaults to aws, URLSuffix to amazonaws.com; Region,
	// Account and StackName are required.
	Partition, Region, Account, StackName, URLSuffix string
	// Names are physical names by logical-ID prefix: the logical ID
	// without the 8-hex-digit hash CDK ends it with (PipelineStreamer for
	// PipelineStreamer4DD103DC). A function's name is also its principal's
	// name ("streamer"). A resource without one takes the name its
	// template fixes, or else <StackName>-<prefix>.
	Names map[string]string
	// StreamLabel or StreamARN give the table's stream (Fn::GetAtt
	// StreamArn): the label is the last part of a stream ARN; "*" stands
	// for every stream of the table, for runs that each create the table
	// afresh (and so a new stream label).
	StreamLabel, StreamARN string
	// KeyIDs are KMS key IDs by logical-ID prefix; a key without one gets
	// an ID derived from its logical ID.
	KeyIDs map[string]string
	// Secrets renames secrets the stack's policies name by ARN
	// (arn:...:secret:<name>-??????): the stack's secret name to the local
	// run's (databricks/pipeline to local/databricks).
	Secrets map[string]string
}

// nameProperties are the properties that fix a resource's physical name.
var nameProperties = map[string]string{
	"AWS::S3::Bucket":             "BucketName",
	"AWS::IAM::Role":              "RoleName",
	"AWS::IAM::ManagedPolicy":     "ManagedPolicyName",
	"AWS::IAM::Policy":            "PolicyName",
	"AWS::SQS::Queue":             "QueueName",
	"AWS::Lambda::Function":       "FunctionName",
	"AWS::DynamoDB::Table":        "TableName",
	"AWS::Logs::LogGroup":         "LogGroupName",
	"AWS::Events::Rule":           "Name",
	"AWS::SecretsManager::Secret": "Name",
}

// resource is one template resource, resolved.
type resource struct {
	id, prefix, typ string
	raw             map[string]any // Properties as in the template
	props           map[string]any // resolved
	name            string         // physical name ("" until known)
	naming          bool           // its name is being resolved (cycle check)
}

// Stack is a template resolved for an Env: the principals with their
// identity policies, the resources' policies by ARN, and the deployment
// iam.Deployment.Authorize needs.
type Stack struct {
	env        Env
	resources  map[string]*resource
	ids        []string // logical IDs, sorted
	parameters map[string]any
	rawOutputs map[string]any
	outputs    map[string]string
	// renames are resolved strings the local run names otherwise.
	renames    []rename
	principals map[string]*Principal
	policies   resourcePolicies
	secrets    map[string]secretRef // by (local) name
}

type rename struct {
	from, to string
	// whole: from is a name, replaced only where it stands alone
	// (bounded by characters no name holds), not inside a longer name.
	whole bool
}

type secretRef struct {
	pattern string // as the policies name it: ...:secret:<name>-?????? or the full ARN
	arn     string // a full ARN standing for it
}

// hashSuffix is the hash CDK appends to logical IDs.
var hashSuffix = regexp.MustCompile(`[0-9A-F]{8}$`)

// logicalPrefix is a logical ID without CDK's hash.
func logicalPrefix(id string) string {
	if len(id) > 8 && hashSuffix.MatchString(id) {
		return id[:len(id)-8]
	}
	return id
}

// LogicalID is the logical ID of the resource among a template's
// Resources whose ID, without CDK's hash, is prefix: for tests that edit
// a template before Load (planting a fault in a policy).
func LogicalID(resources map[string]any, prefix string) (string, bool) {
	for id := range resources {
		if logicalPrefix(id) == prefix {
			return id, true
		}
	}
	return "", false
}

// Load resolves a template (JSON: Resources, Outputs, Parameters) for env.
// Every Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split
// is resolved, with the pseudo parameters AWS::Partition, AWS::Region,
// AWS::AccountId, AWS::StackName and AWS::URLSuffix; a token it cannot
// resolve is an error naming the logical ID and the path to it.
//
// A resource whose template fixes its name (the output bucket's
// BucketName is a formula of the account, the region and a hash of the
// stack's name) takes env's name instead, and the formula's value is
// replaced by it wherever it appears (the roles' policies name the bucket
// by the formula, not by Ref): the local run's bucket is named otherwise,
// and its requests name the local bucket.
func Load(template []byte, env Env) (*Stack, error) {
	if env.Partition == "" {
		env.Partition = "aws"
	}
	if env.URLSuffix == "" {
		env.URLSuffix = "amazonaws.com"
	}
	if env.Region == "" || env.Account == "" || env.StackName == "" {
		return nil, fmt.Errorf("authz: the Env needs a Region, Account and StackName, got %q, %q, %q", env.Region, env.Account, env.StackName)
	}
	var tpl struct {
		Resources  map[string]json.RawMessage `json:"Resources"`
		Outputs    map[string]any             `json:"Outputs"`
		Parameters map[string]any             `json:"Parameters"`
	}
	if err := json.Unmarshal(template, &tpl); err != nil {
		return nil, fmt.Errorf("authz: the template: %w", err)
	}
	s := &Stack{env: env, resources: map[string]*resource{}, parameters: tpl.Parameters, rawOutputs: tpl.Outputs,
		outputs: map[string]string{}, principals: map[string]*Principal{}, secrets: map[string]secretRef{}}
	prefixes := map[string][]string{}
	for id, raw := range tpl.Resources {
		var r struct {
			Type       string         `json:"Type"`
			Properties map[string]any `json:"Properties"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("authz: resource %s: %w", id, err)
		}
		if r.Properties == nil {
			r.Properties = map[string]any{}
		}
		p := logicalPrefix(id)
		s.resources[id] = &resource{id: id, prefix: p, typ: r.Type, raw: r.Properties}
		s.ids = append(s.ids, id)
		prefixes[p] = append(prefixes[p], id)
	}
	sort.Strings(s.ids)
	for _, m := range []map[string]string{env.Names, env.KeyIDs} {
		for p := range m {
			switch ids := prefixes[p]; len(ids) {
			case 0:
				return nil, fmt.Errorf("authz: Env names %q, which no resource's logical ID starts with", p)
			case 1:
			default:
				sort.Strings(ids)
				return nil, fmt.Errorf("authz: Env names %q, the prefix of several resources (%s)", p, strings.Join(ids, ", "))
			}
		}
	}
	// Names first: Ref and Fn::GetAtt build on them.
	for _, id := range s.ids {
		if _, err := s.physicalName(s.resources[id]); err != nil {
			return nil, err
		}
	}
	for _, id := range s.ids {
		r := s.resources[id]
		v, err := s.resolve(r.raw, id+" Properties")
		if err != nil {
			return nil, err
		}
		r.props = v.(map[string]any)
	}
	names := make([]string, 0, len(tpl.Outputs))
	for name := range tpl.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o, ok := tpl.Outputs[name].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("authz: output %s is not an object", name)
		}
		v, err := s.resolve(o["Value"], "Outputs "+name+" Value")
		if err != nil {
			return nil, err
		}
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("authz: output %s resolves to %v, not a string", name, v)
		}
		s.outputs[name] = str
	}
	for from, to := range env.Secrets {
		if from == "" || to == "" {
			return nil, fmt.Errorf("authz: Env.Secrets renames %q to %q", from, to)
		}
		s.renames = append(s.renames, rename{from: ":secret:" + from + "-", to: ":secret:" + to + "-"})
	}
	sort.Slice(s.renames, func(i, j int) bool { return s.renames[i].from < s.renames[j].from })
	for _, id := range s.ids {
		r := s.resources[id]
		r.props = s.applyRenames(r.props).(map[string]any)
	}
	for name, v := range s.outputs {
		s.outputs[name] = s.applyRenames(v).(string)
	}
	s.findSecrets()
	if err := s.buildPrincipals(); err != nil {
		return nil, err
	}
	if err := s.buildResourcePolicies(); err != nil {
		return nil, err
	}
	return s, nil
}

// physicalName is r's name: Env's, the template's, or a default.
func (s *Stack) physicalName(r *resource) (string, error) {
	if r.name != "" {
		return r.name, nil
	}
	if r.naming {
		return "", fmt.Errorf("authz: %s: its name depends on itself", r.id)
	}
	r.naming = true
	defer func() { r.naming = false }()
	fixed := ""
	if prop := nameProperties[r.typ]; prop != "" && r.raw[prop] != nil {
		v, err := s.resolve(r.raw[prop], r.id+" Properties."+prop)
		if err != nil {
			return "", err
		}
		str, ok := v.(string)
		if !ok || str == "" {
			return "", fmt.Errorf("authz: %s Properties.%s resolves to %v, not a name", r.id, prop, v)
		}
		fixed = str
	}
	switch name := s.env.Names[r.prefix]; {
	case name != "":
		r.name = name
		if fixed != "" && fixed != name {
			s.renames = append(s.renames, rename{from: fixed, to: name, whole: true})
		}
	case fixed != "":
		r.name = fixed
	case r.typ == "AWS::KMS::Key":
		r.name = s.env.KeyIDs[r.prefix]
		if r.name == "" {
			r.name = derivedUUID("kms-key:" + r.prefix)
		}
	default:
		r.name = s.env.StackName + "-" + r.prefix
	}
	return r.name, nil
}

// derivedUUID is a stable stand-in for an ID AWS generates.
func derivedUUID(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// noValue is AWS::NoValue: the property it stands for is removed.
type noValue struct{}

// resolve resolves the intrinsics of a template value; path names where
// it is, for errors.
func (s *Stack) resolve(v any, path string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 1 {
			for k, arg := range v {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					return s.intrinsic(k, arg, path)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			r, err := s.resolve(x, path+"."+k)
			if err != nil {
				return nil, err
			}
			if _, drop := r.(noValue); !drop {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(v))
		for i, x := range v {
			r, err := s.resolve(x, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			if _, drop := r.(noValue); !drop {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (s *Stack) intrinsic(fn string, arg any, path string) (any, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("authz: %s: %s: %s", path, fn, fmt.Sprintf(format, a...))
	}
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fail("want a name, got %v", arg)
		}
		v, err := s.ref(name)
		if err != nil {
			return nil, fail("%v", err)
		}
		return v, nil
	case "Fn::GetAtt":
		var id, attr string
		switch a := arg.(type) {
		case string:
			id, attr, _ = strings.Cut(a, ".")
		case []any:
			if len(a) == 2 {
				id, _ = a[0].(string)
				x, err := s.resolve(a[1], path+"[1]")
				if err != nil {
					return nil, err
				}
				attr, _ = x.(string)
			}
		}
		if id == "" || attr == "" {
			return nil, fail("want [logical ID, attribute], got %v", arg)
		}
		v, err := s.getAtt(id, attr)
		if err != nil {
			return nil, fail("%v", err)
		}
		return v, nil
	case "Fn::Join":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fail("want [delimiter, list], got %v", arg)
		}
		delim, ok := a[0].(string)
		if !ok {
			return nil, fail("the delimiter %v is not a string", a[0])
		}
		list, err := s.resolve(a[1], path+"[1]")
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok {
			return nil, fail("%v is not a list", list)
		}
		parts := make([]string, len(items))
		for i, x := range items {
			str, ok := x.(string)
			if !ok {
				return nil, fail("item %d resolves to %v, not a string", i, x)
			}
			parts[i] = str
		}
		return strings.Join(parts, delim), nil
	case "Fn::Sub":
		var text string
		vars := map[string]any{}
		switch a := arg.(type) {
		case string:
			text = a
		case []any:
			if len(a) != 2 {
				return nil, fail("want a string or [string, variables], got %v", arg)
			}
			text, _ = a[0].(string)
			m, ok := a[1].(map[string]any)
			if !ok {
				return nil, fail("the variables %v are not an object", a[1])
			}
			for k, x := range m {
				r, err := s.resolve(x, path+"[1]."+k)
				if err != nil {
					return nil, err
				}
				vars[k] = r
			}
		default:
			return nil, fail("want a string or [string, variables], got %v", arg)
		}
		out, err := s.sub(text, vars)
		if err != nil {
			return nil, fail("%v", err)
		}
		return out, nil
	case "Fn::Select":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fail("want [index, list], got %v", arg)
		}
		idx, err := s.resolve(a[0], path+"[0]")
		if err != nil {
			return nil, err
		}
		var i int
		switch x := idx.(type) {
		case float64:
			i = int(x)
		case string:
			if i, err = strconv.Atoi(x); err != nil {
				return nil, fail("the index %q is not a number", x)
			}
		default:
			return nil, fail("the index %v is not a number", idx)
		}
		list, err := s.resolve(a[1], path+"[1]")
		if err != nil {
			return nil, err
		}
		items, ok := list.([]any)
		if !ok || i < 0 || i >= len(items) {
			return nil, fail("index %d out of %v", i, list)
		}
		return items[i], nil
	case "Fn::Split":
		a, ok := arg.([]any)
		if !ok || len(a) != 2 {
			return nil, fail("want [delimiter, string], got %v", arg)
		}
		delim, _ := a[0].(string)
		src, err := s.resolve(a[1], path+"[1]")
		if err != nil {
			return nil, err
		}
		str, ok := src.(string)
		if !ok || delim == "" {
			return nil, fail("want a delimiter and a string, got %v, %v", a[0], src)
		}
		var out []any
		for _, p := range strings.Split(str, delim) {
			out = append(out, p)
		}
		return out, nil
	}
	return nil, fail("not supported")
}

// ref is what Ref gives for a pseudo parameter, a parameter's default or
// a resource, as the CloudFormation template reference documents for
// each resource type (its "Return values"; for example
// https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queue.html#aws-resource-sqs-queue-return-values:
// Ref of a queue is its URL).
func (s *Stack) ref(name string) (any, error) {
	switch name {
	case "AWS::Partition":
		return s.env.Partition, nil
	case "AWS::Region":
		return s.env.Region, nil
	case "AWS::AccountId":
		return s.env.Account, nil
	case "AWS::StackName":
		return s.env.StackName, nil
	case "AWS::URLSuffix":
		return s.env.URLSuffix, nil
	case "AWS::StackId":
		return s.arn("cloudformation", "stack/"+s.env.StackName+"/"+derivedUUID("stack:"+s.env.StackName)), nil
	case "AWS::NoValue":
		return noValue{}, nil
	}
	if r, ok := s.resources[name]; ok {
		n, err := s.physicalName(r)
		if err != nil {
			return nil, err
		}
		switch r.typ {
		case "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::Lambda::Function", "AWS::DynamoDB::Table",
			"AWS::Logs::LogGroup", "AWS::Events::Rule", "AWS::KMS::Key":
			return n, nil
		case "AWS::SQS::Queue":
			return s.queueURL(n), nil
		case "AWS::IAM::ManagedPolicy":
			return "arn:" + s.env.Partition + ":iam::" + s.env.Account + ":policy/" + n, nil
		case "AWS::SecretsManager::Secret":
			return s.arn("secretsmanager", "secret:"+n+"-"+secretSuffix(n)), nil
		}
		return nil, fmt.Errorf("the Ref of %s (%s) is not supported", name, r.typ)
	}
	if p, ok := s.parameters[name].(map[string]any); ok {
		if d, ok := p["Default"]; ok {
			return d, nil
		}
		return nil, fmt.Errorf("parameter %s has no default", name)
	}
	return nil, fmt.Errorf("%s is no resource, parameter or pseudo parameter", name)
}

// getAtt is what Fn::GetAtt gives for the attributes the stack's
// policies use.
func (s *Stack) getAtt(id, attr string) (string, error) {
	r, ok := s.resources[id]
	if !ok {
		return "", fmt.Errorf("no resource %s", id)
	}
	n, err := s.physicalName(r)
	if err != nil {
		return "", err
	}
	switch r.typ + "." + attr {
	case "AWS::S3::Bucket.Arn":
		return "arn:" + s.env.Partition + ":s3:::" + n, nil
	case "AWS::S3::Bucket.DomainName":
		return n + ".s3." + s.env.URLSuffix, nil
	case "AWS::S3::Bucket.RegionalDomainName":
		return n + ".s3." + s.env.Region + "." + s.env.URLSuffix, nil
	case "AWS::IAM::Role.Arn":
		return s.roleARN(r)
	case "AWS::IAM::Role.RoleId":
		return "AROA" + strings.ToUpper(strings.ReplaceAll(derivedUUID("role:"+n), "-", "")[:17]), nil
	case "AWS::IAM::ManagedPolicy.PolicyArn":
		return "arn:" + s.env.Partition + ":iam::" + s.env.Account + ":policy/" + n, nil
	case "AWS::KMS::Key.Arn":
		return s.arn("kms", "key/"+n), nil
	case "AWS::KMS::Key.KeyId":
		return n, nil
	case "AWS::SQS::Queue.Arn":
		return s.arn("sqs", n), nil
	case "AWS::SQS::Queue.QueueName":
		return n, nil
	case "AWS::SQS::Queue.QueueUrl":
		return s.queueURL(n), nil
	case "AWS::Lambda::Function.Arn":
		return s.arn("lambda", "function:"+n), nil
	case "AWS::DynamoDB::Table.Arn":
		return s.arn("dynamodb", "table/"+n), nil
	case "AWS::DynamoDB::Table.StreamArn":
		switch {
		case s.env.StreamARN != "":
			return s.env.StreamARN, nil
		case s.env.StreamLabel != "":
			return s.arn("dynamodb", "table/"+n+"/stream/"+s.env.StreamLabel), nil
		}
		return "", fmt.Errorf("%s.StreamArn: the Env gives no StreamLabel or StreamARN", id)
	case "AWS::Logs::LogGroup.Arn":
		// "arn:aws:logs:us-west-1:123456789012:log-group:/mystack-testgroup-12ABC1AB12A1:*"
		// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-logs-loggroup.html#aws-resource-logs-loggroup-return-values).
		return s.arn("logs", "log-group:"+n+":*"), nil
	case "AWS::Events::Rule.Arn":
		bus, _ := r.raw["EventBusName"].(string)
		if bus != "" && bus != "default" {
			return s.arn("events", "rule/"+bus+"/"+n), nil
		}
		return s.arn("events", "rule/"+n), nil
	}
	return "", fmt.Errorf("attribute %s of %s (%s) is not supported", attr, id, r.typ)
}

// roleARN is a role's ARN, with its path.
func (s *Stack) roleARN(r *resource) (string, error) {
	path := "/"
	if p, ok := r.raw["Path"]; ok {
		v, err := s.resolve(p, r.id+" Properties.Path")
		if err != nil {
			return "", err
		}
		path, _ = v.(string)
	}
	return "arn:" + s.env.Partition + ":iam::" + s.env.Account + ":role" + path + r.name, nil
}

func (s *Stack) arn(service, rest string) string {
	return "arn:" + s.env.Partition + ":" + service + ":" + s.env.Region + ":" + s.env.Account + ":" + rest
}

func (s *Stack) queueURL(name string) string {
	return "https://sqs." + s.env.Region + "." + s.env.URLSuffix + "/" + s.env.Account + "/" + name
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

// sub expands Fn::Sub's ${Name}, ${Logical.Attribute} and ${!Literal}.
func (s *Stack) sub(text string, vars map[string]any) (string, error) {
	var errs []string
	out := subVariable.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		var v any
		var err error
		if x, ok := vars[name]; ok {
			v = x
		} else if id, attr, dotted := strings.Cut(name, "."); dotted && !strings.HasPrefix(name, "AWS::") {
			v, err = s.getAtt(id, attr)
		} else {
			v, err = s.ref(name)
		}
		if err != nil {
			errs = append(errs, err.Error())
			return m
		}
		str, ok := v.(string)
		if !ok {
			errs = append(errs, fmt.Sprintf("${%s} is %v, not a string", name, v))
			return m
		}
		return str
	})
	if len(errs) > 0 {
		return "", fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// applyRenames replaces, in every string of v, what the local run names
// otherwise.
func (s *Stack) applyRenames(v any) any {
	switch v := v.(type) {
	case string:
		for _, r := range s.renames {
			v = r.apply(v)
		}
		return v
	case map[string]any:
		for k, x := range v {
			v[k] = s.applyRenames(x)
		}
		return v
	case []any:
		for i, x := range v {
			v[i] = s.applyRenames(x)
		}
		return v
	}
	return v
}

func (r rename) apply(s string) string {
	if !r.whole {
		return strings.ReplaceAll(s, r.from, r.to)
	}
	var b strings.Builder
	for {
		i := strings.Index(s, r.from)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(r.from)
		if (i == 0 || !nameChar(s[i-1])) && (end == len(s) || !nameChar(s[end])) {
			b.WriteString(s[:i] + r.to)
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
	}
}

// nameChar: a character of a bucket, role or queue name, which bounds
// none.
func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
}

// Output is a stack output's resolved value.
func (s *Stack) Output(name string) (string, bool) {
	v, ok := s.outputs[name]
	return v, ok
}

// Resource is a template resource as deployed for the Env.
type Resource struct {
	LogicalID, Type string
	// Name is its physical name; ARN its ARN, when it has one
	// authorization uses.
	Name, ARN string
}

// Resource finds the one resource whose logical ID is prefix, or prefix
// and CDK's hash (as Env.Names names them): a local run can take the ARN
// of a rule, say, from it for the SourceARN of the calls it makes in the
// rule's name.
func (s *Stack) Resource(prefix string) (Resource, error) {
	var found []*resource
	for _, id := range s.ids {
		if r := s.resources[id]; r.prefix == prefix || id == prefix {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return Resource{}, fmt.Errorf("authz: %d resources have the logical-ID prefix %q", len(found), prefix)
	}
	r := found[0]
	out := Resource{LogicalID: r.id, Type: r.typ, Name: r.name}
	if arn, err := s.getAtt(r.id, "Arn"); err == nil {
		out.ARN = arn
	}
	return out, nil
}
