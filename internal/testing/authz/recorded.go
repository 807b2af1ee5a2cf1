package authz

import "github.com/ddbstream/pipeline/iam"

// Recorded is one request a principal made in a local run: the endpoint
// saw it signed with the principal's access key, or the local stand-in of
// an AWS service made it on the principal's behalf.
type Recorded struct {
	// Principal names who made it: a function (streamer, forwarder,
	// exportplanner, exportconverter), a ddbstream subcommand (backfill,
	// reconcile, redrive, ...), a service principal
	// (events.amazonaws.com), or "harness" for the test's own requests,
	// which are not evaluated.
	Principal string
	Call      iam.Call
	// Where says which run made it (a test's name, "make local").
	Where string
}
