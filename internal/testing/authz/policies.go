package authz

import (
	"fmt"
	"regexp"
	"strings"
)

// resourcePolicies are the resources' own policies, by what they apply
// to.
type resourcePolicies struct {
	// buckets: a bucket policy, by bucket name: it applies to the bucket
	// and its objects.
	buckets map[string]any
	// byARN: key policies, queue policies, functions' resource policies
	// (their Lambda permissions), tables' resource policies.
	byARN map[string]any
	// streams: a table's stream policy, by table name (the stream's
	// label changes with each run's table).
	streams map[string]any
	// trust: role trust policies, by role ARN, for sts: actions only.
	trust map[string]any
}

// defaultKeyPolicy is the key policy KMS gives a key created without one:
// the account's root user may do everything, so IAM policies govern
// (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
func (s *Stack) defaultKeyPolicy() any {
	return map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
		"Principal": map[string]any{"AWS": "arn:" + s.env.Partition + ":iam::" + s.env.Account + ":root"},
	}}}
}

func (s *Stack) buildResourcePolicies() error {
	p := resourcePolicies{buckets: map[string]any{}, byARN: map[string]any{}, streams: map[string]any{}, trust: map[string]any{}}
	put := func(m map[string]any, key string, doc any, id string) error {
		if doc == nil {
			return fmt.Errorf("authz: %s has no policy document", id)
		}
		if _, dup := m[key]; dup {
			return fmt.Errorf("authz: %s: %s has another policy already", id, key)
		}
		m[key] = doc
		return nil
	}
	queues := map[string]string{} // URL to ARN
	for _, id := range s.ids {
		if r := s.resources[id]; r.typ == "AWS::SQS::Queue" {
			queues[s.queueURL(r.name)], _ = s.getAtt(id, "Arn")
		}
	}
	permissions := map[string][]any{}
	var functions []string
	for _, id := range s.ids {
		r := s.resources[id]
		var err error
		switch r.typ {
		case "AWS::S3::BucketPolicy":
			bucket, _ := r.props["Bucket"].(string)
			err = put(p.buckets, bucket, r.props["PolicyDocument"], id)
		case "AWS::KMS::Key":
			doc := r.props["KeyPolicy"]
			if doc == nil {
				doc = s.defaultKeyPolicy()
			}
			arn, _ := s.getAtt(id, "Arn")
			err = put(p.byARN, arn, doc, id)
		case "AWS::SQS::QueuePolicy":
			urls, _ := r.props["Queues"].([]any)
			for _, u := range urls {
				arn, ok := queues[fmt.Sprint(u)]
				if !ok {
					return fmt.Errorf("authz: %s names the queue %v, which is not in the template", id, u)
				}
				if err := put(p.byARN, arn, r.props["PolicyDocument"], id); err != nil {
					return err
				}
			}
		case "AWS::DynamoDB::Table":
			if rp, ok := r.props["ResourcePolicy"].(map[string]any); ok {
				arn, _ := s.getAtt(id, "Arn")
				err = put(p.byARN, arn, rp["PolicyDocument"], id)
			}
			if ss, ok := r.props["StreamSpecification"].(map[string]any); ok && err == nil {
				if rp, ok := ss["ResourcePolicy"].(map[string]any); ok {
					err = put(p.streams, r.name, rp["PolicyDocument"], id)
				}
			}
		case "AWS::IAM::Role":
			// A role without a trust policy (invalid in CloudFormation)
			// can be assumed by nobody: no policy then.
			if doc := r.props["AssumeRolePolicyDocument"]; doc != nil {
				arn, _ := s.roleARN(r)
				err = put(p.trust, arn, doc, id)
			}
		case "AWS::Lambda::Permission":
			fn, st, perr := s.permissionStatement(r)
			if perr != nil {
				return perr
			}
			if permissions[fn] == nil {
				functions = append(functions, fn)
			}
			permissions[fn] = append(permissions[fn], st)
		}
		if err != nil {
			return err
		}
	}
	for _, fn := range functions {
		if err := put(p.byARN, fn, map[string]any{"Version": "2012-10-17", "Id": "default", "Statement": permissions[fn]}, "the Lambda permissions of "+fn); err != nil {
			return err
		}
	}
	s.policies = p
	return nil
}

// permissionStatement is the statement Lambda adds to a function's
// resource policy for an AWS::Lambda::Permission, as AddPermission
// writes it: the principal, the action on the function, and SourceArn
// as an ArnLike AWS:SourceArn condition, SourceAccount as StringEquals
// AWS:SourceAccount (https://repost.aws/knowledge-center/lambda-resource-based-policies
// shows the statement add-permission writes;
// https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html
// the parameters).
func (s *Stack) permissionStatement(r *resource) (string, any, error) {
	for _, unsupported := range []string{"EventSourceToken", "FunctionUrlAuthType", "InvokedViaFunctionUrl"} {
		if r.props[unsupported] != nil {
			return "", nil, fmt.Errorf("authz: %s: %s is not supported", r.id, unsupported)
		}
	}
	name, _ := r.props["FunctionName"].(string)
	fn, err := s.functionARN(name)
	if err != nil {
		return "", nil, fmt.Errorf("authz: %s: %w", r.id, err)
	}
	action, _ := r.props["Action"].(string)
	who, _ := r.props["Principal"].(string)
	if action == "" || who == "" {
		return "", nil, fmt.Errorf("authz: %s has no Action or Principal", r.id)
	}
	var principal any
	switch {
	case who == "*":
		principal = "*"
	case strings.HasSuffix(who, ".amazonaws.com"):
		principal = map[string]any{"Service": who}
	case accountID.MatchString(who):
		principal = map[string]any{"AWS": "arn:" + s.env.Partition + ":iam::" + who + ":root"}
	default:
		principal = map[string]any{"AWS": who}
	}
	st := map[string]any{"Sid": r.id, "Effect": "Allow", "Principal": principal, "Action": action, "Resource": fn}
	cond := map[string]any{}
	if v, ok := r.props["SourceArn"].(string); ok {
		cond["ArnLike"] = map[string]any{"AWS:SourceArn": v}
	}
	eq := map[string]any{}
	if v, ok := r.props["SourceAccount"].(string); ok {
		eq["AWS:SourceAccount"] = v
	}
	if v, ok := r.props["PrincipalOrgID"].(string); ok {
		eq["aws:PrincipalOrgID"] = v
	}
	if len(eq) > 0 {
		cond["StringEquals"] = eq
	}
	if len(cond) > 0 {
		st["Condition"] = cond
	}
	return fn, st, nil
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// functionARN is a function's ARN from a name, partial ARN or ARN.
func (s *Stack) functionARN(name string) (string, error) {
	switch parts := strings.Split(name, ":"); {
	case name == "":
		return "", fmt.Errorf("no FunctionName")
	case strings.HasPrefix(name, "arn:"):
		return name, nil
	case len(parts) >= 3 && parts[1] == "function":
		return "arn:" + s.env.Partition + ":lambda:" + s.env.Region + ":" + name, nil
	}
	return s.arn("lambda", "function:"+name), nil
}

// ResourcePolicy is the policy of the resource an action is authorized
// on, or nil: the bucket policy for a bucket and its objects, the key
// policy for a key (which KMS always consults: a key the stack does not
// hold has none, and KMS denies), a queue's policy, a function's Lambda
// permissions, a table's or its stream's resource policy, and for sts:
// actions, a role's trust policy.
func (s *Stack) ResourcePolicy(action, arn string) any {
	if strings.HasPrefix(strings.ToLower(action), "sts:") {
		return s.policies.trust[arn]
	}
	if rest, ok := strings.CutPrefix(arn, "arn:"+s.env.Partition+":s3:::"); ok {
		bucket, _, _ := strings.Cut(rest, "/")
		return s.policies.buckets[bucket]
	}
	if m := streamARN.FindStringSubmatch(arn); m != nil {
		return s.policies.streams[m[1]]
	}
	return s.policies.byARN[arn]
}

var streamARN = regexp.MustCompile(`^arn:[^:]+:dynamodb:[^:]*:[0-9]*:table/([^/]+)/stream/[^/]+$`)
