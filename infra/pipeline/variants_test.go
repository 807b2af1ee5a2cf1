package pipeline

import "testing"

// variants are the stack configurations the tests synthesize, each a
// different shape of template: every one is linted and checked.
func variants(t *testing.T) map[string]Props {
	t.Helper()
	imported := testProps(t)
	imported.ExistingTableName = "Orders"
	imported.ExistingStreamARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-01-01T00:00:00.000"
	imported.ExistingTableKMSKeyARN = "arn:aws:kms:eu-west-1:123456789012:key/0d26daa6-5e44-4c97-a497-ef015f91254a"
	sseS3 := testProps(t)
	sseS3.BucketEncryption = "s3"
	uc := testProps(t)
	uc.DatabricksExternalID = "0d26daa6-5e44-4c97-a497-ef015f91254a"
	topic := testProps(t)
	topic.AlarmTopicARN = "arn:aws:sns:eu-west-1:123456789012:pipeline-alarms"
	none := testProps(t)
	none.DeliveryMode, none.DatabricksSecretName, none.DatabricksVolumePath = DeliveryNone, "", ""
	return map[string]Props{
		"delivery-none": none,
		"default":       testProps(t), "imported-table": imported, "sse-s3": sseS3, "unity-catalog-role": uc, "alarm-topic": topic,
	}
}
