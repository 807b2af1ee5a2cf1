// Package pipeline defines the CDK stack that deploys the pipeline: the
// table and its stream, the output bucket and key, both functions built
// from source, their event sources, on-failure queues, log groups,
// alarms and dashboard, and least-privilege roles whose statements come
// from the iam package. Constructs read no environment: everything comes
// from Props, which main fills from CDK context.
package pipeline
