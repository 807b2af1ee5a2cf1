package planner

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/envconfig"
	"github.com/ddbstream/pipeline/internal/objectkey"
)

// Config is the planner's configuration.
type Config struct {
	// ConverterFunction is the converter's function name or ARN
	// (CONVERTER_FUNCTION, required), invoked once per data file.
	ConverterFunction string
	// InvokeConcurrency bounds the converter invocations in flight
	// (INVOKE_CONCURRENCY, default 8): an export has at least one data
	// file per partition, so thousands are possible.
	InvokeConcurrency int
	// DeadlineMargin is kept free before the Lambda deadline to log and
	// answer (DEADLINE_MARGIN, default 5s).
	DeadlineMargin time.Duration
	// MetricsNamespace is the CloudWatch namespace (METRICS_NAMESPACE).
	MetricsNamespace string
	// S3PathStyle addresses the bucket in the path, for S3-compatible
	// servers (S3_FORCE_PATH_STYLE).
	S3PathStyle bool

	// Bucket, ExportPrefix and Table are the pipeline's own exports: its
	// bucket (BUCKET_NAME), export prefix (EXPORT_PREFIX) and table
	// (TABLE_NAME). An export elsewhere, or of another table, is not this
	// pipeline's to convert: the planner answers it with a logged skip
	// rather than an error that would land in the failure queue. The
	// stack's rule only sends this bucket's summaries under the export
	// prefix, but EventBridge's '*' also matches a deeper
	// .../AWSDynamoDB/<id>/... and a hand-made or redriven event can name
	// anything. Empty: not checked (a stack deployed before these
	// variables existed).
	Bucket, ExportPrefix, Table string
}

// DefaultConfig returns the defaults, with no converter function.
func DefaultConfig() Config {
	return Config{InvokeConcurrency: 8, DeadlineMargin: 5 * time.Second, MetricsNamespace: emf.DefaultNamespace}
}

// functionName is the FunctionName pattern of Lambda's Invoke API
// (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html): a
// name, a partial ARN or an ARN, with an optional version or alias.
var functionName = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)

// tableName is DynamoDB's rule for table names
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
var tableName = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)

// ConfigFromEnv reads and validates the configuration; lookup is usually
// os.LookupEnv. The error names every bad variable and its expected form.
func ConfigFromEnv(lookup func(string) (string, bool)) (Config, error) {
	d := DefaultConfig()
	r := envconfig.New(lookup)
	c := Config{
		ConverterFunction: r.Required("CONVERTER_FUNCTION", "the converter's function name or ARN"),
		InvokeConcurrency: r.Int("INVOKE_CONCURRENCY", d.InvokeConcurrency, 1, 64),
		DeadlineMargin:    r.Duration("DEADLINE_MARGIN", d.DeadlineMargin, 100*time.Millisecond, 5*time.Minute),
		MetricsNamespace:  r.String("METRICS_NAMESPACE", d.MetricsNamespace),
		S3PathStyle:       r.Bool("S3_FORCE_PATH_STYLE", false),
		Bucket:            r.String("BUCKET_NAME", ""),
		ExportPrefix:      r.String("EXPORT_PREFIX", ""),
		Table:             r.String("TABLE_NAME", ""),
	}
	if c.ConverterFunction != "" && !functionName.MatchString(c.ConverterFunction) {
		r.Fail("CONVERTER_FUNCTION", c.ConverterFunction, "a Lambda function name, partial ARN or ARN")
	}
	if c.ExportPrefix != "" && objectkey.ValidatePrefix(c.ExportPrefix) != nil {
		r.Fail("EXPORT_PREFIX", c.ExportPrefix, "a key prefix of letters, digits and -_.=/ without a leading or trailing /")
	}
	if c.Table != "" && !tableName.MatchString(c.Table) {
		r.Fail("TABLE_NAME", c.Table, "a DynamoDB table name (3-255 letters, digits, _ . -)")
	}
	if err := r.Err(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks a Config built in code rather than from the environment.
func (c Config) Validate() error {
	if !functionName.MatchString(c.ConverterFunction) {
		return errors.New("converter function must be a Lambda function name or ARN")
	}
	if c.InvokeConcurrency < 1 {
		return errors.New("invoke concurrency must be 1 or more")
	}
	if c.ExportPrefix != "" {
		if err := objectkey.ValidatePrefix(c.ExportPrefix); err != nil {
			return fmt.Errorf("export prefix: %w", err)
		}
	}
	if c.Table != "" && !tableName.MatchString(c.Table) {
		return fmt.Errorf("table %q is not a DynamoDB table name", c.Table)
	}
	return nil
}
