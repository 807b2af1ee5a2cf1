// Package secret reads Databricks credentials from AWS Secrets Manager and
// keeps them in memory between invocations.
//
// The secret holds JSON, either a personal access token:
//
//	{"host": "https://adb-123.4.azuredatabricks.net", "token": "dapi..."}
//
// or an OAuth machine-to-machine service principal:
//
//	{"host": "https://...", "client_id": "...", "client_secret": "..."}
//
// Validation errors name the field that is wrong and never include any
// value from the secret.
package secret
