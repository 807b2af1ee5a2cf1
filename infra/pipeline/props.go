package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ddbstream/pipeline/internal/emf"
	"github.com/ddbstream/pipeline/internal/export/converter"
	"github.com/ddbstream/pipeline/internal/export/planner"
	"github.com/ddbstream/pipeline/internal/forwarder"
	"github.com/ddbstream/pipeline/internal/objectkey"
	"github.com/ddbstream/pipeline/internal/streamer"
)

// Props configures the pipeline. PropsFromContext fills it from CDK
// context; tests build it directly from DefaultProps.
type Props struct {
	// SourceDir is the repository root the functions are built from.
	SourceDir string

	// New table: TableName (empty: generated), keys and TTL attribute.
	TableName        string
	PartitionKey     string
	PartitionKeyType string
	SortKey          string
	SortKeyType      string
	TTLAttribute     string
	// ExistingTableName and ExistingStreamARN import a table instead.
	ExistingTableName string
	ExistingStreamARN string
	// ExistingTableKMSKeyARN is the imported table's customer managed key,
	// if it has one: reading its stream needs kms:Decrypt on that key.
	ExistingTableKMSKeyARN string

	// BucketName overrides the generated bucket name.
	BucketName string
	// Prefix starts every object key.
	Prefix string
	// BucketEncryption is "kms" (customer managed key, rotated) or "s3".
	BucketEncryption string
	// NoncurrentVersionDays expires overwritten versions.
	NoncurrentVersionDays int
	// InfrequentAccessDays moves objects to Standard-IA (0: never).
	InfrequentAccessDays int
	// ImageFormat is "plain" or "dynamodb".
	ImageFormat string

	// Event source mapping of the streamer.
	StartingPosition      string
	BatchSize             int
	BatchingWindowSeconds int
	ParallelizationFactor int
	// BisectOnError splits a batch on function errors. Off by default: the
	// streamer never fails on a bad record (it keeps it under _errors/), so
	// its only function errors are crashes and timeouts, and bisecting the
	// retry of a batch whose object is already durable would write its
	// records again under new keys.
	BisectOnError       bool
	MaxRetryAttempts    int
	MaxRecordAgeSeconds int
	StreamerMemoryMB    int
	StreamerTimeoutSec  int

	// Forwarder: delivery settings, as in its environment.
	DeliveryMode          string
	DatabricksVolumePath  string
	DatabricksJobID       string
	DatabricksWarehouseID string
	DatabricksTable       string
	DBFSPath              string
	ForwarderMemoryMB     int
	ForwarderTimeoutSec   int
	AsyncRetryAttempts    int
	MaxEventAgeSeconds    int

	// The Databricks secret, by name or ARN, and its key if not AWS's.
	DatabricksSecretName      string
	DatabricksSecretARN       string
	DatabricksSecretKMSKeyARN string

	// ExportPrefix is where ddbstream backfill has table exports written:
	// outside Prefix (empty: "<Prefix>-exports").
	ExportPrefix string
	// The export converter's memory (CPU grows with it: 1,769 MB is one
	// vCPU) and timeout.
	ExportConverterMemoryMB   int
	ExportConverterTimeoutSec int
	// ExportConverterReservedConcurrency caps the converters that run at
	// once, and reserves them, so that a backfill's burst of asynchronous
	// invocations (one per data file) never takes the concurrency the
	// streamer, the forwarder and the account's other functions need.
	// 0 reserves nothing (not Lambda's 0, which would stop the function).
	ExportConverterReservedConcurrency int

	// Logs and alarms.
	LogRetentionDays    int
	LogLevel            string
	AlarmTopicARN       string
	IteratorAgeAlarmSec int
	MetricsNamespace    string

	// Optional Unity Catalog storage credential role.
	DatabricksExternalID            string
	DatabricksUCPrincipalARN        string
	DatabricksStorageCredentialName string
	// DatabricksReadPrincipal, if set, is the Unity Catalog principal the
	// printed SQL grants READ FILES (or READ VOLUME) for the bundle.
	DatabricksReadPrincipal string
}

// DeliveryNone deploys no forwarder: Databricks reads the objects itself,
// with Auto Loader (the bundle in databricks/).
const DeliveryNone = "none"

// DefaultProps returns the defaults; a Databricks secret and destination
// must still be given.
func DefaultProps() Props {
	return Props{
		PartitionKey: "pk", PartitionKeyType: "S", SortKey: "sk", SortKeyType: "S",
		Prefix: "cdc", BucketEncryption: "kms", NoncurrentVersionDays: 30, ImageFormat: "plain",
		StartingPosition: "TRIM_HORIZON", BatchSize: 1000, BatchingWindowSeconds: 5, ParallelizationFactor: 1,
		MaxRetryAttempts: 10, MaxRecordAgeSeconds: 86400, StreamerMemoryMB: 512, StreamerTimeoutSec: 60,
		ExportConverterMemoryMB: 1769, ExportConverterTimeoutSec: 900, ExportConverterReservedConcurrency: DefaultConverterReservedConcurrency,
		DeliveryMode: "volume", ForwarderMemoryMB: 256, ForwarderTimeoutSec: 300, AsyncRetryAttempts: 2, MaxEventAgeSeconds: 21600,
		LogRetentionDays: 30, LogLevel: "INFO", IteratorAgeAlarmSec: 300, MetricsNamespace: emf.DefaultNamespace,
		DatabricksUCPrincipalARN:        "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL",
		DatabricksStorageCredentialName: "ddb_stream_pipeline",
	}
}

// contextKeys maps each CDK context key to its field, for PropsFromContext
// and the README.
func (p *Props) contextKeys() map[string]any {
	return map[string]any{
		"tableName": &p.TableName, "partitionKey": &p.PartitionKey, "partitionKeyType": &p.PartitionKeyType,
		"sortKey": &p.SortKey, "sortKeyType": &p.SortKeyType, "ttlAttribute": &p.TTLAttribute,
		"existingTableName": &p.ExistingTableName, "existingStreamArn": &p.ExistingStreamARN, "existingTableKmsKeyArn": &p.ExistingTableKMSKeyARN,
		"bucketName": &p.BucketName, "prefix": &p.Prefix, "bucketEncryption": &p.BucketEncryption,
		"noncurrentVersionDays": &p.NoncurrentVersionDays, "infrequentAccessDays": &p.InfrequentAccessDays,
		"imageFormat": &p.ImageFormat, "startingPosition": &p.StartingPosition, "batchSize": &p.BatchSize,
		"batchingWindowSeconds": &p.BatchingWindowSeconds, "parallelizationFactor": &p.ParallelizationFactor, "bisectOnError": &p.BisectOnError,
		"maxRetryAttempts": &p.MaxRetryAttempts, "maxRecordAgeSeconds": &p.MaxRecordAgeSeconds,
		"streamerMemoryMB": &p.StreamerMemoryMB, "streamerTimeoutSeconds": &p.StreamerTimeoutSec,
		"deliveryMode": &p.DeliveryMode, "databricksVolumePath": &p.DatabricksVolumePath, "databricksJobId": &p.DatabricksJobID,
		"databricksWarehouseId": &p.DatabricksWarehouseID, "databricksTable": &p.DatabricksTable, "dbfsPath": &p.DBFSPath,
		"forwarderMemoryMB": &p.ForwarderMemoryMB, "forwarderTimeoutSeconds": &p.ForwarderTimeoutSec,
		"asyncRetryAttempts": &p.AsyncRetryAttempts, "maxEventAgeSeconds": &p.MaxEventAgeSeconds,
		"databricksSecretName": &p.DatabricksSecretName, "databricksSecretArn": &p.DatabricksSecretARN,
		"databricksSecretKmsKeyArn": &p.DatabricksSecretKMSKeyARN, "logRetentionDays": &p.LogRetentionDays,
		"logLevel": &p.LogLevel, "alarmTopicArn": &p.AlarmTopicARN, "iteratorAgeAlarmSeconds": &p.IteratorAgeAlarmSec,
		"metricsNamespace": &p.MetricsNamespace, "databricksExternalId": &p.DatabricksExternalID,
		"databricksUcPrincipalArn": &p.DatabricksUCPrincipalARN, "databricksStorageCredentialName": &p.DatabricksStorageCredentialName, "databricksReadPrincipal": &p.DatabricksReadPrincipal,
		"exportPrefix": &p.ExportPrefix, "exportConverterMemoryMB": &p.ExportConverterMemoryMB, "exportConverterTimeoutSeconds": &p.ExportConverterTimeoutSec,
		"exportConverterReservedConcurrency": &p.ExportConverterReservedConcurrency,
	}
}

// exportPrefix is ExportPrefix, or its default beside Prefix.
func (p Props) exportPrefix() string {
	if p.ExportPrefix != "" {
		return p.ExportPrefix
	}
	if p.Prefix == "" {
		return "exports"
	}
	return p.Prefix + "-exports"
}

// ContextKeys lists the context keys PropsFromContext reads.
func ContextKeys() []string {
	p := DefaultProps()
	var keys []string
	for k := range p.contextKeys() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PropsFromContext reads Props from CDK context (get returns nil for
// unset keys; values may be strings, numbers or booleans, as -c gives
// strings and cdk.json gives JSON values) and validates them. Functions
// are built from sourceDir.
func PropsFromContext(get func(key string) any, sourceDir string) (Props, error) {
	p := DefaultProps()
	p.SourceDir = sourceDir
	var errs []error
	for key, field := range p.contextKeys() {
		v := get(key)
		if v == nil {
			continue
		}
		s := strings.TrimSpace(fmt.Sprint(v))
		switch f := field.(type) {
		case *string:
			*f = s
		case *bool:
			b, err := strconv.ParseBool(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("context %s=%q: want true or false", key, s))
				continue
			}
			*f = b
		case *int:
			if fl, ok := v.(float64); ok && fl == float64(int(fl)) {
				*f = int(fl)
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("context %s=%q: want a whole number", key, s))
				continue
			}
			*f = n
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return Props{}, fmt.Errorf("invalid CDK context: %w", errors.Join(errs...))
	}
	return p, p.Validate()
}

var (
	tableNameRE  = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)
	attrNameRE   = regexp.MustCompile(`^.{1,255}$`)
	streamARNRE  = regexp.MustCompile(`^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]{3,255}/stream/[^/]+$`)
	secretARNRE  = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	kmsKeyARNRE  = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$`)
	topicARNRE   = regexp.MustCompile(`^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$`)
	roleARNRE    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@/_-]+$`)
	bucketNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	ucNameRE     = regexp.MustCompile(`^[A-Za-z0-9_]{1,255}$`)
	externalIDRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@:/-]{2,1000}$`)
)

// logRetentions are the values CloudWatch Logs accepts.
var logRetentions = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Validate checks every value, reporting all problems at once with the
// context key and the form it expects.
func (p Props) Validate() error {
	var errs []string
	bad := func(key string, value any, want string) {
		errs = append(errs, fmt.Sprintf("context %s=%q: want %s", key, fmt.Sprint(value), want))
	}
	inRange := func(key string, v, lo, hi int) {
		if v < lo || v > hi {
			bad(key, v, fmt.Sprintf("a whole number from %d to %d", lo, hi))
		}
	}
	if p.SourceDir == "" {
		errs = append(errs, "source directory is not set")
	}
	imported := p.ExistingTableName != "" || p.ExistingStreamARN != ""
	if imported {
		if !tableNameRE.MatchString(p.ExistingTableName) {
			bad("existingTableName", p.ExistingTableName, "the name of the existing table (3-255 letters, digits, _ . -)")
		}
		if !streamARNRE.MatchString(p.ExistingStreamARN) {
			bad("existingStreamArn", p.ExistingStreamARN, "a DynamoDB stream ARN such as arn:aws:dynamodb:eu-west-1:123456789012:table/T/stream/2026-01-01T00:00:00.000")
		} else if p.ExistingTableName != "" && !strings.Contains(p.ExistingStreamARN, ":table/"+p.ExistingTableName+"/stream/") {
			bad("existingStreamArn", p.ExistingStreamARN, "the stream of table "+p.ExistingTableName)
		}
		if p.TableName != "" {
			bad("tableName", p.TableName, "nothing when an existing table is imported")
		}
		if p.ExistingTableKMSKeyARN != "" && !kmsKeyARNRE.MatchString(p.ExistingTableKMSKeyARN) {
			bad("existingTableKmsKeyArn", p.ExistingTableKMSKeyARN, "the ARN of the imported table's customer managed KMS key (arn:aws:kms:REGION:ACCOUNT:key/ID)")
		}
	} else {
		if p.ExistingTableKMSKeyARN != "" {
			bad("existingTableKmsKeyArn", p.ExistingTableKMSKeyARN, "nothing unless existingTableName imports a table (a table this stack creates uses an AWS owned key)")
		}
		if p.TableName != "" && !tableNameRE.MatchString(p.TableName) {
			bad("tableName", p.TableName, "3-255 letters, digits, _ . -")
		}
		if !attrNameRE.MatchString(p.PartitionKey) {
			bad("partitionKey", p.PartitionKey, "an attribute name")
		}
		for key, t := range map[string]string{"partitionKeyType": p.PartitionKeyType, "sortKeyType": p.SortKeyType} {
			if t != "S" && t != "N" && t != "B" {
				bad(key, t, "S, N or B")
			}
		}
	}
	if p.BucketName != "" && !bucketNameRE.MatchString(p.BucketName) {
		bad("bucketName", p.BucketName, "an S3 bucket name without dots (3-63 lowercase letters, digits, hyphens)")
	}
	if err := objectkey.ValidatePrefix(p.Prefix); err != nil || p.Prefix == "" {
		bad("prefix", p.Prefix, "a non-empty key prefix of letters, digits and -_.=/ without a leading or trailing /")
	}
	if p.ExportPrefix != "" {
		if err := objectkey.ValidatePrefix(p.ExportPrefix); err != nil {
			bad("exportPrefix", p.ExportPrefix, "a key prefix of letters, digits and -_.=/ without a leading or trailing /")
		} else if p.ExportPrefix == p.Prefix || strings.HasPrefix(p.ExportPrefix, p.Prefix+"/") || p.Prefix == "" {
			bad("exportPrefix", p.ExportPrefix, "a prefix outside prefix "+p.Prefix+"/, so exports are never taken for pipeline data")
		}
	}
	inRange("exportConverterMemoryMB", p.ExportConverterMemoryMB, 128, 10240)
	inRange("exportConverterTimeoutSeconds", p.ExportConverterTimeoutSec, 60, 900)
	inRange("exportConverterReservedConcurrency", p.ExportConverterReservedConcurrency, 0, maxReservedConcurrency)
	if p.BucketEncryption != "kms" && p.BucketEncryption != "s3" {
		bad("bucketEncryption", p.BucketEncryption, "kms or s3")
	}
	inRange("noncurrentVersionDays", p.NoncurrentVersionDays, 1, 3650)
	if p.InfrequentAccessDays != 0 && p.InfrequentAccessDays < 30 {
		bad("infrequentAccessDays", p.InfrequentAccessDays, "0 (never) or at least 30")
	}
	if p.StartingPosition != "TRIM_HORIZON" && p.StartingPosition != "LATEST" {
		bad("startingPosition", p.StartingPosition, "TRIM_HORIZON or LATEST")
	}
	inRange("batchSize", p.BatchSize, 1, 10000)
	inRange("batchingWindowSeconds", p.BatchingWindowSeconds, 0, 300)
	inRange("parallelizationFactor", p.ParallelizationFactor, 1, 10)
	inRange("maxRetryAttempts", p.MaxRetryAttempts, 0, 10000)
	if p.MaxRecordAgeSeconds != -1 && (p.MaxRecordAgeSeconds < 60 || p.MaxRecordAgeSeconds > 604800) {
		bad("maxRecordAgeSeconds", p.MaxRecordAgeSeconds, "-1 (no limit) or 60 to 604800")
	}
	inRange("streamerMemoryMB", p.StreamerMemoryMB, 128, 10240)
	inRange("streamerTimeoutSeconds", p.StreamerTimeoutSec, 10, 900)
	inRange("forwarderMemoryMB", p.ForwarderMemoryMB, 128, 10240)
	inRange("forwarderTimeoutSeconds", p.ForwarderTimeoutSec, 10, 900)
	inRange("asyncRetryAttempts", p.AsyncRetryAttempts, 0, 2)
	inRange("maxEventAgeSeconds", p.MaxEventAgeSeconds, 60, 21600)
	inRange("iteratorAgeAlarmSeconds", p.IteratorAgeAlarmSec, 1, 86400)
	switch {
	case p.DatabricksSecretName != "" && p.DatabricksSecretARN != "":
		bad("databricksSecretArn", p.DatabricksSecretARN, "nothing when databricksSecretName is given (one of the two)")
	case p.DatabricksSecretARN != "" && !secretARNRE.MatchString(p.DatabricksSecretARN):
		bad("databricksSecretArn", p.DatabricksSecretARN, "a Secrets Manager secret ARN")
	case p.DatabricksSecretName != "" && !secretNameRE.MatchString(p.DatabricksSecretName):
		bad("databricksSecretName", p.DatabricksSecretName, "a Secrets Manager secret name")
	case p.DatabricksSecretName == "" && p.DatabricksSecretARN == "" && p.DeliveryMode != DeliveryNone:
		errs = append(errs, "context databricksSecretName (or databricksSecretArn) is not set: want the Secrets Manager secret holding the Databricks host and token or OAuth client (or deliveryMode=none, where Databricks reads the objects itself)")
	}
	if p.DatabricksSecretKMSKeyARN != "" && !kmsKeyARNRE.MatchString(p.DatabricksSecretKMSKeyARN) {
		bad("databricksSecretKmsKeyArn", p.DatabricksSecretKMSKeyARN, "a KMS key ARN")
	}
	if !contains(logRetentions, p.LogRetentionDays) {
		bad("logRetentionDays", p.LogRetentionDays, fmt.Sprintf("one of %v", logRetentions))
	}
	switch p.LogLevel {
	case "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL":
	default:
		bad("logLevel", p.LogLevel, "TRACE, DEBUG, INFO, WARN, ERROR or FATAL")
	}
	if p.AlarmTopicARN != "" && !topicARNRE.MatchString(p.AlarmTopicARN) {
		bad("alarmTopicArn", p.AlarmTopicARN, "an SNS topic ARN")
	}
	if p.DatabricksExternalID != "" {
		if !externalIDRE.MatchString(p.DatabricksExternalID) {
			bad("databricksExternalId", p.DatabricksExternalID, "your Databricks account ID")
		}
		if !roleARNRE.MatchString(p.DatabricksUCPrincipalARN) {
			bad("databricksUcPrincipalArn", p.DatabricksUCPrincipalARN, "an IAM role ARN")
		}
		if !ucNameRE.MatchString(p.DatabricksStorageCredentialName) {
			bad("databricksStorageCredentialName", p.DatabricksStorageCredentialName, "letters, digits and _")
		}
	}
	errs = append(errs, p.checkBundle()...)
	// The functions validate their own settings at start; run the same
	// checks now so a bad value stops synthesis, not the first invocation.
	if _, err := streamer.ConfigFromEnv(lookup(p.streamerEnv("placeholder-bucket", ""))); err != nil {
		errs = append(errs, "streamer settings: "+err.Error())
	}
	if p.DeliveryMode == DeliveryNone {
		// No forwarder: nothing of its settings is used.
	} else if _, err := forwarder.ConfigFromEnv(lookup(p.forwarderEnv("placeholder-secret"))); err != nil {
		errs = append(errs, "forwarder settings (context deliveryMode and its keys): "+err.Error())
	}
	if _, err := converter.ConfigFromEnv(lookup(p.converterEnv("placeholder-bucket", ""))); err != nil {
		errs = append(errs, "export converter settings: "+err.Error())
	}
	if _, err := planner.ConfigFromEnv(lookup(p.plannerEnv("placeholder-function", "placeholder-bucket", p.exportPrefix(), "placeholder-table"))); err != nil {
		errs = append(errs, "export planner settings: "+err.Error())
	}
	if len(errs) > 0 {
		return errors.New("invalid CDK context:\n  " + strings.Join(errs, "\n  "))
	}
	return nil
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func lookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
