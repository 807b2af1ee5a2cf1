package requestlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/ddbstream/pipeline/iam"
)

// jsonServices are the JSON protocols' X-Amz-Target prefixes and the
// SDK's package for each: POST / with the operation in the header and
// its input as a JSON body.
var jsonServices = []struct{ prefix, service string }{
	{"DynamoDB_20120810.", "dynamodb"},
	{"DynamoDBStreams_20120810.", "dynamodbstreams"},
	{"AmazonSQS.", "sqs"},
	{"secretsmanager.", "secretsmanager"},
}

// maxJSONBody bounds the JSON body parse reads: DynamoDB's largest
// request, a BatchWriteItem, carries up to 16 MB
// (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html).
// A larger body is passed on whole and its call recorded as unknown.
const maxJSONBody = 16<<20 + 1<<16

// jsonInput is every input member that names a call's resource, across
// the operations of the JSON protocols.
type jsonInput struct {
	TableName, TableArn string
	StreamArn           string
	ShardIterator       string
	ExportArn           string
	QueueURL            string `json:"QueueUrl"`
	QueueName           string
	SecretID            string `json:"SecretId"`
	// RequestItems are BatchGetItem's and BatchWriteItem's, by table.
	RequestItems map[string]json.RawMessage
	// TransactItems are TransactGetItems' (Get) and TransactWriteItems'
	// (the others).
	TransactItems []map[string]struct{ TableName string }
}

// parseJSON names a JSON-protocol call from its target and body. It reads
// the body (small in these protocols) and puts it back for the handler.
func parseJSON(r *http.Request, target string) []iam.Call {
	i := slices.IndexFunc(jsonServices, func(s struct{ prefix, service string }) bool { return strings.HasPrefix(target, s.prefix) })
	if i < 0 {
		return []iam.Call{{Operation: UnknownOperation + "X-Amz-Target " + target + " is no service recorded here"}}
	}
	c := iam.Call{Service: jsonServices[i].service, Operation: strings.TrimPrefix(target, jsonServices[i].prefix)}
	if c.Operation == "" {
		return []iam.Call{{Service: c.Service, Operation: UnknownOperation + "X-Amz-Target " + target + " names no operation"}}
	}
	unknown := func(why string) []iam.Call {
		return []iam.Call{{Service: c.Service, Operation: UnknownOperation + c.Operation + ": " + why}}
	}
	if r.Body == nil {
		return unknown("no body")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody))
	// The handler gets the body whole: what was read, then the rest.
	r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	if err != nil {
		return unknown("reading the body: " + err.Error())
	}
	if len(body) == maxJSONBody {
		return unknown(fmt.Sprintf("body over %d bytes, not parsed", maxJSONBody-1))
	}
	var in jsonInput
	if err := json.Unmarshal(body, &in); err != nil {
		return unknown("body is not JSON: " + err.Error())
	}
	c.Table = in.TableName
	if c.Table == "" {
		c.Table = in.TableArn // ExportTableToPointInTime, ListExports
	}
	c.Stream, c.Export, c.Queue, c.Secret = in.StreamArn, in.ExportArn, in.QueueURL, in.SecretID
	if c.Queue == "" {
		c.Queue = in.QueueName // GetQueueUrl and CreateQueue name the queue
	}
	switch c.Service + ":" + c.Operation {
	case "dynamodbstreams:GetRecords":
		// DynamoDB Local's shard iterators begin with the stream's ARN
		// and '|' (TestRewriteDynamoDBLocal reads them): the request
		// names its stream no other way.
		arn, _, ok := strings.Cut(in.ShardIterator, "|")
		if !ok || !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, "/stream/") {
			return unknown(fmt.Sprintf("shard iterator %.60q does not begin with a stream ARN", in.ShardIterator))
		}
		c.Stream = arn
	case "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem":
		// RequestItems maps each table (name or ARN) to its items
		// (API_BatchWriteItem.html, API_BatchGetItem.html), and the
		// action's resource is a table
		// (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazondynamodb.html):
		// one call per table, in a stable order.
		return perTable(c, slices.Sorted(maps.Keys(in.RequestItems)))
	case "dynamodb:TransactGetItems", "dynamodb:TransactWriteItems":
		var tables []string
		for _, item := range in.TransactItems {
			for _, op := range item {
				if !slices.Contains(tables, op.TableName) {
					tables = append(tables, op.TableName)
				}
			}
		}
		return perTable(c, tables)
	}
	return []iam.Call{c}
}

// perTable is c once for each table; an input naming no table is
// recorded as it is, without one.
func perTable(c iam.Call, tables []string) []iam.Call {
	if len(tables) == 0 {
		return []iam.Call{c}
	}
	out := make([]iam.Call, len(tables))
	for i, t := range tables {
		out[i] = c
		out[i].Table = t
	}
	return out
}

// readCloser reads from one reader and closes another: the request's
// own body, once parse has put back what it read.
type readCloser struct {
	io.Reader
	io.Closer
}
