package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ddbstream/pipeline/integration/sqsapi"
	"github.com/ddbstream/pipeline/internal/testing/authz"
	"github.com/ddbstream/pipeline/internal/testing/iamsim"
)

// The files the recorded requests are evaluated against, under the
// repository: the authorization part of the synthesized stack
// (infra/pipeline's TestStackTemplateIsCurrent keeps it current), the
// operator policies (iam's TestOperatorPoliciesAreReviewable), and the
// reasons each grant no recorded request uses is kept.
var (
	StackTemplateFile    = filepath.Join("iam", "testdata", "stack-template.json")
	OperatorPoliciesFile = filepath.Join("iam", "testdata", "operator-policies.json")
	UnusedGrantsFile     = filepath.Join("iam", "testdata", "unused-grants.txt")
)

// StackName is the stack the local pipeline stands for.
const StackName = "DdbStreamPipeline"

// Env is the deployment the local pipeline stands for: the stack's
// resources by their logical IDs (without CDK's hash) named as the local
// pipeline names them; the table's stream has the label the recorded
// requests give it (StreamLabel).
func (o Options) Env() authz.Env {
	o.defaults()
	return authz.Env{Region: Region, Account: sqsapi.Account, StackName: StackName, StreamLabel: StreamLabel,
		Names: map[string]string{
			"PipelineOutput": o.Bucket, "PipelineTable": o.Table,
			"PipelineStreamer": StreamerFunction, "PipelineForwarder": ForwarderFunction,
			"PipelineBackfillPlanner": PlannerFunction, "PipelineBackfillConverter": ConverterFunction,
			"PipelineStreamerFailureQueue":          StreamerFailureQueue,
			"PipelineBackfillConverterFailureQueue": ConverterFailureQueue,
			"PipelineBackfillPlannerFailureQueue":   PlannerFailureQueue,
			"PipelineForwarderFailureQueue":         ForwarderFailureQueue,
			// The rules' dead-letter queues, which only EventBridge
			// writes: no local queue stands for them.
			"PipelineForwarderTriggerDeadLetterQueue": "forwarder-trigger-dead-letters",
			"PipelineBackfillTriggerDeadLetterQueue":  "export-planner-trigger-dead-letters",
			"PipelineForwarderTrigger":                ForwarderRule,
			"PipelineBackfillPlannerTrigger":          PlannerRule,
			"PipelineStreamerLogs":                    LogGroup(StreamerFunction),
			"PipelineForwarderLogs":                   LogGroup(ForwarderFunction),
			"PipelineBackfillPlannerLogs":             LogGroup(PlannerFunction),
			"PipelineBackfillConverterLogs":           LogGroup(ConverterFunction),
		}}
}

// LoadStack reads the stack template and the operator policies under
// root, resolved for env.
func LoadStack(root string, env authz.Env) (*authz.Stack, error) {
	tpl, err := os.ReadFile(filepath.Join(root, StackTemplateFile))
	if err != nil {
		return nil, fmt.Errorf("the stack template: %w", err)
	}
	ops, err := os.ReadFile(filepath.Join(root, OperatorPoliciesFile))
	if err != nil {
		return nil, fmt.Errorf("the operator policies: %w", err)
	}
	s, err := authz.Load(tpl, env)
	if err != nil {
		return nil, err
	}
	if err := s.AddOperators(ops); err != nil {
		return nil, err
	}
	return s, nil
}

// Authorize evaluates recorded requests with the IAM policy simulator
// (installed under root by make tools) against what the stack would
// deploy: its roles' policies, its bucket, key, queue and function
// policies, and the operator policies with its values. The report's Err
// lists every request not allowed.
func Authorize(ctx context.Context, root string, opts Options, recs []authz.Recorded) (*authz.Report, error) {
	sim, err := iamsim.Find(root)
	if err != nil {
		return nil, err
	}
	s, err := LoadStack(root, opts.Env())
	if err != nil {
		return nil, err
	}
	return authz.Evaluate(ctx, sim, s, recs)
}
