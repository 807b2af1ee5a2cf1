package integration

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddbstream/pipeline/internal/testing/authz"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// authorizeRecorded evaluates every AWS request the end-to-end tests
// recorded against what the stack would deploy (Authorize), once all
// tests have run: a request denied or invalid fails the run. When every
// test ran, each grant no request used must have its reason in
// UnusedGrantsFile. Then it plants faults in the policies and checks that
// each is caught on the requests recorded.
func authorizeRecorded(recs []authz.Recorded) error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	sim, err := iamsim.Find(root)
	if err != nil {
		if os.Getenv("INTEGRATION_REQUIRED") == "" {
			fmt.Fprintln(os.Stderr, "the recorded requests are not evaluated:", err)
			return nil
		}
		return err
	}
	ctx := context.Background()
	env := Options{}.Env()
	s, err := LoadStack(root, env)
	if err != nil {
		return err
	}
	rep, err := authz.Evaluate(ctx, sim, s, recs)
	if err != nil {
		return err
	}
	fmt.Print(rep.Summary())
	if testing.Verbose() {
		fmt.Print(rep.UnusedText())
	}
	var errs []error
	if err := rep.Err(); err != nil {
		errs = append(errs, err)
	}
	if allTestsRan() {
		if err := authz.CheckUnused(rep, filepath.Join(root, UnusedGrantsFile)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, plantedFaults(ctx, root, sim, env, recs))
	}
	return errors.Join(errs...)
}

// allTestsRan reports whether the run was not narrowed by -run, -skip
// or -short: only then are the unused grants measured.
func allTestsRan() bool {
	for _, name := range []string{"test.run", "test.skip"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return !testingShort()
}

func testingShort() bool {
	f := flag.Lookup("test.short")
	return f != nil && f.Value.String() == "true"
}

// fault is a policy change that must make some recorded request fail.
type fault struct {
	name string
	// plant changes the template's resources and the operator policies.
	plant func(resources, operators map[string]any) error
	// principal made the requests it must catch; catch is a part of the
	// denial's text that names the request.
	principal, catch string
}

var faults = []fault{
	{name: "the backfill's policy before issue 16", principal: BackfillPrincipal, catch: `"s3:prefix":"cdc/_errors/`,
		plant: func(_, ops map[string]any) error {
			var old map[string]any
			b, err := os.ReadFile(filepath.Join("testdata", "backfill-policy-before-issue-16.json"))
			if err == nil {
				err = json.Unmarshal(b, &old)
			}
			ops["ddbstream-backfill"] = old["ddbstream-backfill"]
			return err
		}},
	{name: "an s3:prefix value removed from the backfill's listing", principal: BackfillPrincipal, catch: `"s3:prefix":"cdc/_errors/`,
		plant: func(_, ops map[string]any) error {
			return eachStatement(ops["ddbstream-backfill"], func(st map[string]any) bool {
				return dropPrefix(st, "cdc/_errors/")
			})
		}},
	{name: "the KMS grant dropped from the streamer's role", principal: StreamerPrincipal, catch: "kms:GenerateDataKey",
		plant: func(res, _ map[string]any) error {
			return eachStatement(rolePolicy(res, "PipelineStreamerRole"), func(st map[string]any) bool {
				if st["Sid"] == "EncryptObjects" {
					st["Effect"], st["Action"] = "Allow", "kms:ListAliases"
					return true
				}
				return false
			})
		}},
	{name: "the stream ARN narrowed to another stream", principal: StreamerPrincipal, catch: "dynamodb:GetRecords",
		plant: func(res, _ map[string]any) error {
			return eachStatement(rolePolicy(res, "PipelineStreamerRole"), func(st map[string]any) bool {
				if st["Sid"] == "ReadStream" {
					st["Resource"] = map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{logicalIDOf(res, "PipelineTable"), "Arn"}}, "/stream/2020-01-01T00:00:00.000"}}}
					return true
				}
				return false
			})
		}},
	{name: "a bucket-policy deny of the forwarder's reads", principal: ForwarderPrincipal, catch: "ExplicitlyDenied",
		plant: func(res, _ map[string]any) error {
			for _, r := range res {
				r := r.(map[string]any)
				if r["Type"] != "AWS::S3::BucketPolicy" || !strings.Contains(fmt.Sprint(r["Properties"]), "PipelineOutput") {
					continue
				}
				doc := r["Properties"].(map[string]any)["PolicyDocument"].(map[string]any)
				doc["Statement"] = append(doc["Statement"].([]any), map[string]any{
					"Effect": "Deny", "Principal": map[string]any{"AWS": map[string]any{"Fn::GetAtt": []any{logicalIDOf(res, "PipelineForwarderRole"), "Arn"}}},
					"Action": []any{"s3:GetObject", "s3:GetObjectVersion"}, "Resource": map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Fn::GetAtt": []any{logicalIDOf(res, "PipelineOutput"), "Arn"}}, "/*"}}},
				})
				return nil
			}
			return errors.New("no bucket policy of PipelineOutput")
		}},
}

// plantedFaults evaluates each fault's principal's recorded requests
// against the policies with the fault planted, and fails for a fault no
// denial names.
func plantedFaults(ctx context.Context, root string, sim *iamsim.Simulator, env authz.Env, recs []authz.Recorded) error {
	tplBytes, err := os.ReadFile(filepath.Join(root, StackTemplateFile))
	if err != nil {
		return err
	}
	opsBytes, err := os.ReadFile(filepath.Join(root, OperatorPoliciesFile))
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range faults {
		var tpl, ops map[string]any
		if err := json.Unmarshal(tplBytes, &tpl); err != nil {
			return err
		}
		if err := json.Unmarshal(opsBytes, &ops); err != nil {
			return err
		}
		if err := f.plant(tpl["Resources"].(map[string]any), ops); err != nil {
			errs = append(errs, fmt.Errorf("plant %s: %w", f.name, err))
			continue
		}
		planted, _ := json.Marshal(tpl)
		s, err := authz.Load(planted, env)
		if err == nil {
			var opsJSON []byte
			opsJSON, _ = json.Marshal(ops)
			err = s.AddOperators(opsJSON)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("planted %s: %w", f.name, err))
			continue
		}
		var mine []authz.Recorded
		for _, r := range recs {
			if r.Principal == f.principal {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			if allTestsRan() {
				errs = append(errs, fmt.Errorf("planted %s: %s made no request", f.name, f.principal))
			}
			continue // its tests did not run
		}
		rep, err := authz.Evaluate(ctx, sim, s, mine)
		if err != nil {
			errs = append(errs, fmt.Errorf("planted %s: %w", f.name, err))
			continue
		}
		caught := false
		for _, d := range rep.Denied {
			caught = caught || strings.Contains(d.String(), f.catch)
		}
		if !caught {
			errs = append(errs, fmt.Errorf("planted fault not caught: %s: no denial of %s's %d requests names %q (denials: %v)", f.name, f.principal, len(mine), f.catch, rep.Err()))
		} else {
			fmt.Printf("authz: planted fault caught: %s (%d denials)\n", f.name, len(rep.Denied))
		}
	}
	return errors.Join(errs...)
}

// rolePolicy is the inline policy document of a role, by logical-ID
// prefix.
func rolePolicy(res map[string]any, prefix string) any {
	r, _ := res[logicalIDOf(res, prefix)].(map[string]any)
	props, _ := r["Properties"].(map[string]any)
	policies, _ := props["Policies"].([]any)
	if len(policies) == 0 {
		return nil
	}
	return policies[0].(map[string]any)["PolicyDocument"]
}

// logicalIDOf is the logical ID CDK gave a construct path; a missing one
// is left as the prefix, which authz.Load then reports unresolved.
func logicalIDOf(res map[string]any, prefix string) string {
	if id, ok := authz.LogicalID(res, prefix); ok {
		return id
	}
	return prefix
}

// eachStatement runs change on each statement of a policy document and
// fails when it changed none.
func eachStatement(doc any, change func(map[string]any) bool) error {
	d, _ := doc.(map[string]any)
	sts, _ := d["Statement"].([]any)
	changed := false
	for _, st := range sts {
		if m, ok := st.(map[string]any); ok && change(m) {
			changed = true
		}
	}
	if !changed {
		return errors.New("no statement to change")
	}
	return nil
}

// dropPrefix removes the s3:prefix values starting with prefix from a
// statement's conditions.
func dropPrefix(st map[string]any, prefix string) bool {
	conds, _ := st["Condition"].(map[string]any)
	dropped := false
	for _, c := range conds {
		keys, _ := c.(map[string]any)
		vals, ok := keys["s3:prefix"].([]any)
		if !ok {
			continue
		}
		var kept []any
		for _, v := range vals {
			if s, _ := v.(string); strings.HasPrefix(s, prefix) {
				dropped = true
				continue
			}
			kept = append(kept, v)
		}
		keys["s3:prefix"] = kept
	}
	return dropped
}
