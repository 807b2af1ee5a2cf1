// Package s3event reads the events that announce new S3 objects, in the
// three shapes AWS delivers them: S3 event notifications invoking a
// function directly, the same notifications wrapped in SQS messages
// (optionally inside SNS), and EventBridge "Object Created" events.
//
// Notification keys are URL-encoded ("+" is a space, "%2B" a plus) and are
// decoded here; EventBridge keys arrive as they are. s3:TestEvent messages,
// which S3 sends when a notification is configured, are counted and ignored,
// as are records and EventBridge events of other types ("Object Deleted",
// ObjectRemoved:*), which announce nothing to deliver.
package s3event
