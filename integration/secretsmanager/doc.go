// Package secretsmanager serves the two Secrets Manager calls the
// pipeline makes, GetSecretValue and PutSecretValue, in the service's
// JSON 1.1 protocol, so that the forwarder's real SDK client reads its
// Databricks secret from it when AWS_ENDPOINT_URL_SECRETS_MANAGER points
// here. Tests rotate a secret live with Rotate, as a rotation Lambda does
// in AWS.
package secretsmanager
