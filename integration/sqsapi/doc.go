// Package sqsapi serves the Amazon SQS calls the pipeline's operator
// tool makes (and what a local event source mapping needs to fill an
// on-failure queue) in SQS's AWS JSON 1.0 protocol, the one the SDK for
// Go speaks to SQS
// (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-making-api-requests-json.html):
// POST / with X-Amz-Target: AmazonSQS.<Operation> and a JSON body, JSON
// answers, and errors as {"__type": "com.amazonaws.sqs#<Code>",
// "message": ...} with the query-compatible code in x-amzn-query-error,
// which the SDK turns into its typed errors (*types.QueueDoesNotExist,
// *types.ReceiptHandleIsInvalid). Point the real SDK at it with
// BaseEndpoint or AWS_ENDPOINT_URL_SQS.
//
// It keeps SQS's semantics where the tool depends on them: a received
// message is hidden for its visibility timeout and comes back after it; a
// receipt handle is valid only for the latest receive; DeleteMessage with
// an old handle fails; ChangeMessageVisibility to 0 shows a message again
// at once; ReceiveMessage long-polls up to WaitTimeSeconds; MD5OfBody is
// the body's MD5, which the SDK checks. Served: CreateQueue, GetQueueUrl,
// SendMessage, ReceiveMessage, DeleteMessage, ChangeMessageVisibility,
// GetQueueAttributes, PurgeQueue.
package sqsapi
