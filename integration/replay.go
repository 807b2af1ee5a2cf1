package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	// The SDK's client, not the local endpoint (integration/secretsmanager).
	smsdk "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/replay"
)

// Replay runs ddbstream replay's logic, internal/replay as the command
// runs it (cmd/ddbstream/replay.go), against the local pipeline and as the
// replay principal: it lists the table's objects through the S3 endpoint,
// reads the forwarder's settings from the Lambda endpoint's
// GetFunctionConfiguration of ForwarderFunction (its environment, as the
// command reads the deployed forwarder's), and delivers each object with
// the forwarder's own code, in process, reading it from S3 and the
// Databricks secret from the Secrets Manager endpoint, each request
// signed with the replay principal's key so that it is evaluated against
// the ddbstream-replay policy.
//
// What the command takes from --stack, cfg may leave empty: the bucket,
// prefix and table default to the pipeline's, and the forwarder function
// to ForwarderFunction. The fake workspace's certificate is trusted as
// the operator's machine trusts a real workspace's: by an HTTP client
// whose roots are the certificate the forwarder's SSL_CERT_FILE names
// (replayHTTPClient says why not SSL_CERT_FILE itself).
func (p *Pipeline) Replay(ctx context.Context, cfg replay.Config) (replay.Report, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = p.Opts.Bucket
	}
	if cfg.Prefix == "" {
		cfg.Prefix = p.Opts.Prefix
	}
	if cfg.Table == "" {
		cfg.Table = p.Opts.Table
	}
	if cfg.ForwarderFunction == "" && cfg.Forwarder == nil {
		cfg.ForwarderFunction = ForwarderFunction
	}
	client, err := p.replayHTTPClient()
	if err != nil {
		return replay.Report{}, err
	}
	if client != nil {
		// Before the caller's options, so that a test's own client wins.
		cfg.DatabricksOptions = append([]databricks.Option{databricks.WithHTTPClient(client)}, cfg.DatabricksOptions...)
	}
	as := p.As(ReplayPrincipal)
	secrets := smsdk.NewFromConfig(as.Config, func(o *smsdk.Options) { o.BaseEndpoint = aws.String(p.endpoints.secrets) })
	return replay.Run(ctx, cfg, replay.Clients{S3: as.S3, Secrets: secrets, Functions: as.Lambda})
}

// replayHTTPClient is the Databricks HTTP client of a replay: the
// forwarder's own transport (databricks.NewHTTPClient), trusting the fake
// workspace's certificate when the pipeline started one. The forwarder
// process trusts it through SSL_CERT_FILE, which Go reads once per
// process (crypto/x509's system roots); the replay runs in the test's
// process, whose roots are already loaded, so it is given the same
// certificate as its roots instead. nil: the default client (a real
// workspace, whose certificate the system trusts).
func (p *Pipeline) replayHTTPClient() (*http.Client, error) {
	ca := p.forwarderEnv["SSL_CERT_FILE"]
	if ca == "" {
		return nil, nil
	}
	pemBytes, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("replay: the fake workspace's certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("replay: no certificate in %s", ca)
	}
	c := databricks.NewHTTPClient()
	t, ok := c.Transport.(*http.Transport)
	if !ok {
		return nil, errors.New("replay: the Databricks client's transport is not an *http.Transport")
	}
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return c, nil
}
