// Package authz evaluates the AWS requests a local run made (Recorded:
// the e2e tests in ./integration, make local) against what would be
// deployed, with the IAM policy simulator built on AWS's service
// authorization data (internal/testing/iamsim).
//
// What would be deployed is the synthesized stack: the authorization
// part of the template (iam/testdata/stack-template.json, kept current by
// infra/pipeline's TestStackTemplateIsCurrent) with its CloudFormation
// intrinsics resolved for the local run's account, region and names
// (Load, Env), and the operator policies of iam/testdata/operator-policies.json
// with the stack's values (AddOperators). From it come the principals'
// identity policies (each function's execution role, each ddbstream
// subcommand's policy) and the resources' own policies (bucket policy,
// KMS key policy, queue policies, the Lambda permissions as the
// functions' resource policies, role trust policies).
//
// Evaluate turns each recorded call into the IAM requests AWS evaluates
// for it (iam.Deployment.Authorize: the action, the resource ARN, the
// condition keys, the KMS requests a service makes with the caller's
// permissions), evaluates the distinct ones in one simulator run and
// reports what was denied or invalid, the distinct requests per
// principal, and the grants no allowed request used. CheckUnused holds
// each unused grant to a reason in a reviewable file; TrustChecks covers
// who may assume a role or invoke a function, which no local run
// exercises.
//
// A test tool: it never runs in the pipeline.
package authz
