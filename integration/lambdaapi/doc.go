// Package lambdaapi serves Lambda's Invoke API on one machine, so that a
// function's real SDK client calls another function of the local
// pipeline as it would in AWS: the export planner, with
// AWS_ENDPOINT_URL_LAMBDA pointing here, invokes the export converter
// once per data file with InvocationType Event.
//
// It serves POST /2015-03-31/functions/{FunctionName}/invocations for the
// functions it was given, found by name, partial ARN or ARN:
//
//   - Event: the payload is queued and the call answered 202 at once, as
//     Lambda's asynchronous invocation does. Each function has its own
//     queue, run one event at a time (one execution environment). A
//     function error (a returned error, a crash, a timeout) is retried
//     Function.Retries times, Function.RetryDelay apart, behind the events
//     queued meanwhile, as Lambda puts a failed event back in its queue;
//     an event whose attempts are all spent goes to the on-failure list
//     (Failed) and, when Function.OnFailure is set, to that on-failure
//     destination as the invocation record Lambda sends one (condition
//     RetriesExhausted, the event as requestPayload, the last error as
//     responsePayload:
//     https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html);
//   - RequestResponse: the function runs at once and the answer is its
//     payload, or its error with X-Amz-Function-Error: Unhandled;
//   - DryRun: 204.
//
// Errors have the service's shapes, so the SDK maps them to its types:
// ResourceNotFoundException (404) for an unknown function or a qualifier
// other than $LATEST, InvalidRequestContentException (400) for a payload
// that is not JSON, RequestTooLargeException (413) beyond 6 MB
// synchronous or 1 MB asynchronous
// (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html).
//
// It also serves GET /2015-03-31/functions/{FunctionName}/configuration,
// GetFunctionConfiguration
// (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html),
// for the functions registered with an Environment, so that ddbstream
// replay reads the forwarder's settings as it reads the deployed
// function's: FunctionName, FunctionArn (unqualified unless a qualifier
// was given), Version $LATEST, State Active and Environment.Variables
// without Lambda's reserved keys. A function registered with an
// Environment and no Invoke is one another service invokes (the
// forwarder, by its EventBridge rule): Invoke answers it 403
// AccessDeniedException, as AWS answers every principal of the local
// pipeline there (Function.Invoke says why).
//
// Where it differs from AWS: no IAM (it only checks that a request is
// SigV4-signed), no versions or aliases, no event age limit, one
// execution environment per function, and retries spaced by RetryDelay
// rather than Lambda's minute or two.
package lambdaapi
