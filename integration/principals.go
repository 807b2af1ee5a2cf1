package integration

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// The principals of the local pipeline. Each has its own access key, so
// that the local endpoints attribute every request to the function's
// execution role or the ddbstream subcommand that would make it in AWS
// (internal/testing/authz evaluates them against the deployed policies).
// Harness is the tests' own requests (creating the table and bucket,
// writing changes, reading the lake to verify it), which no deployed
// policy covers.
const (
	StreamerPrincipal  = "streamer"
	ForwarderPrincipal = "forwarder"
	PlannerPrincipal   = "exportplanner"
	ConverterPrincipal = "exportconverter"
	BackfillPrincipal  = "backfill"
	ReconcilePrincipal = "reconcile"
	RedrivePrincipal   = "redrive"
	ErrorsPrincipal    = "errors"
	ReplayPrincipal    = "replay"
	Harness            = "harness"
)

// EventsPrincipal is EventBridge's service principal: it invokes the
// functions its rules target, with the rule's ARN as aws:SourceArn.
const EventsPrincipal = "events.amazonaws.com"

var principals = []string{StreamerPrincipal, ForwarderPrincipal, PlannerPrincipal, ConverterPrincipal,
	BackfillPrincipal, ReconcilePrincipal, RedrivePrincipal, ErrorsPrincipal, ReplayPrincipal, Harness}

// AccessKey is a principal's local access key ID: letters only, as
// DynamoDB Local requires of access keys. Every principal signs with the
// same secret key, S3SecretKey: the endpoints' recorders replace the key
// ID by the servers' own (requestlog says why the signature holds).
func AccessKey(principal string) string {
	return "LOCAL" + strings.ToUpper(principal)
}

// accessKeys maps each principal's access key ID to its name.
func accessKeys() map[string]string {
	m := make(map[string]string, len(principals))
	for _, p := range principals {
		m[AccessKey(p)] = p
	}
	return m
}

// credentialsOf are a principal's credentials.
func credentialsOf(principal string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(AccessKey(principal), S3SecretKey, "")
}
