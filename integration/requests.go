package integration

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/integration/runtimeapi"
	"github.com/ddbstream/pipeline/internal/testing/authz"
)

// endpoints are the URLs of the recorded endpoints the SDK's clients use.
type endpoints struct {
	s3, dynamodb, streams, sqs, lambda, secrets string
}

// serveProxy serves a recording reverse proxy to upstream, which takes
// the upstream's own access key.
func (p *Pipeline) serveProxy(upstream, upstreamKey string) (string, error) {
	h, err := p.Requests.Proxy(upstream, upstreamKey)
	if err != nil {
		return "", fmt.Errorf("recording proxy to %s: %w", upstream, err)
	}
	return p.serve(h, false).URL, nil
}

// destination records the SendMessage Lambda makes to a function's (or an
// event source mapping's) on-failure queue: with the function's execution
// role (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
func (p *Pipeline) destination(principal, queueURL string) {
	p.Requests.Add(principal, iam.Call{Service: "sqs", Operation: "SendMessage", Queue: queueURL})
}

// Clients are the SDK's clients of one principal on the local endpoints,
// each request signed with the principal's access key.
type Clients struct {
	DynamoDB *dynamodb.Client
	S3       *s3.Client
	Streams  *dynamodbstreams.Client
	SQS      *sqs.Client
	Lambda   *lambda.Client
	Config   aws.Config
}

// As returns a principal's clients: a ddbstream subcommand's, run by the
// tests, signs as that subcommand so that its requests are evaluated
// against its own policy.
func (p *Pipeline) As(principal string) Clients {
	cfg := aws.Config{Region: Region, Credentials: credentialsOf(principal)}
	return Clients{
		Config:   cfg,
		DynamoDB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(p.endpoints.dynamodb) }),
		S3:       s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(p.endpoints.s3); o.UsePathStyle = true }),
		Streams:  dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(p.endpoints.streams) }),
		SQS:      sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(p.endpoints.sqs) }),
		Lambda:   lambda.NewFromConfig(cfg, func(o *lambda.Options) { o.BaseEndpoint = aws.String(p.endpoints.lambda) }),
	}
}

// StreamLabel is the label the recorded requests give the table's stream
// (each run creates the table, and so its stream, afresh).
const StreamLabel = "local"

// LogGroup is a local function's log group.
func LogGroup(function string) string { return "/aws/lambda/" + function }

// Recorded returns every request recorded so far, attributed to where
// (the test's name, "make local"), with the logs Lambda writes with each
// function's role: a log stream per execution environment started
// (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html).
func (p *Pipeline) Recorded(where string) []authz.Recorded {
	out := p.Requests.Entries(where)
	// The table's stream under one label, whatever the run's: Options.Env
	// resolves the stack's stream with it, so that the policies name this
	// stream exactly and a read of any other stream is denied.
	stream := p.StreamARN[:strings.LastIndexByte(p.StreamARN, '/')+1] + StreamLabel
	for i := range out {
		if out[i].Call.Stream == p.StreamARN {
			out[i].Call.Stream = stream
		}
	}
	day := time.Now().UTC().Format("2006/01/02")
	for _, fn := range []struct {
		name string
		f    *runtimeapi.Function
	}{{StreamerFunction, p.Streamer}, {ForwarderFunction, p.Forwarder}, {PlannerFunction, p.Planner}, {ConverterFunction, p.Converter}} {
		if fn.f == nil {
			continue
		}
		for n := range fn.f.ColdStarts() {
			stream := fmt.Sprintf("%s/[$LATEST]%032x", day, n)
			for _, op := range []string{"CreateLogStream", "PutLogEvents"} {
				out = append(out, authz.Recorded{Principal: functionPrincipals[fn.name], Where: where,
					Call: iam.Call{Service: "cloudwatchlogs", Operation: op, LogGroup: LogGroup(fn.name), LogStream: stream}})
			}
		}
	}
	return out
}
