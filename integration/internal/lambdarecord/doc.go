// Package lambdarecord writes what Lambda's on-failure records share, for
// the local emulators that send them: the event source mapping's batch
// record (integration/poller) and the asynchronous invocation record
// (integration/lambdaapi). Both carry the same requestContext and
// responseContext, as AWS documents them
// (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html,
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
package lambdarecord
