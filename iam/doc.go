// Package iam is the single source of the pipeline's IAM policies: the
// least-privilege statements of each role, built from plain values so that
// infra turns them into CloudFormation and Export turns them into
// reviewable JSON.
//
// What a function may do follows from what its code calls: each function
// keeps the AWS operations it calls in functions/<name>/aws-calls.txt,
// tests check that list against the code (the SDK interfaces its packages
// declare) and against these statements, so a new call without a grant, or
// a grant without a call, fails the build. Calls that AWS makes with the
// role on the function's behalf (logs, the stream poller, destinations) are
// listed here with their reasons.
//
// Action names are not enough: the tests also evaluate every request the
// code makes (the object keys and prefixes objectkey builds, the condition
// keys AWS sets) against these statements, the bucket policy and the KMS
// key policy with an IAM policy simulator built on AWS's service
// authorization data (internal/testing/iamsim), and the requests each
// principal must not be able to make.
package iam
