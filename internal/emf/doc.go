// Package emf writes CloudWatch Embedded Metric Format records: JSON log
// lines that CloudWatch turns into metrics without any API call, so a
// function needs no cloudwatch:PutMetricData permission.
package emf
