package requestlog

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/ddbstream/pipeline/iam"
	"github.com/ddbstream/pipeline/internal/testing/responsestatus"
)

// Handler records every request to next, by the principal whose access
// key signed it, with the operation and resource it names and the status
// it was answered with. With upstreamAccessKey set, next receives the
// request with the Authorization header's access key ID replaced by
// upstreamAccessKey (doc.go says why the signature stays valid); nothing
// else of the request changes, and S3 bodies are streamed, never read
// here.
func (l *Log) Handler(next http.Handler, upstreamAccessKey string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cred := credentialOf(r)
		principal := l.principal(cred)
		// parse may read a JSON body; it leaves r.Body whole for next.
		calls := parse(r, cred)
		r = r.WithContext(context.WithValue(r.Context(), keyIDContext{}, cred.keyID))
		if upstreamAccessKey != "" && cred.inHeader && cred.keyID != "" {
			r.Header = r.Header.Clone() // the caller's request stays as it was
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:cred.keyStart]+upstreamAccessKey+h[cred.keyStart+len(cred.keyID):])
		}
		rec := &responsestatus.Writer{ResponseWriter: w}
		defer func() {
			// A handler that panics (ReverseProxy does, with
			// http.ErrAbortHandler, when the client goes away mid-answer)
			// still made the request: it is recorded before the panic goes
			// on, with the status it had sent, if any.
			p := recover()
			status := rec.Status
			if status == 0 && p == nil {
				status = http.StatusOK // net/http's answer to a handler that wrote nothing
			}
			for _, c := range calls {
				c.Status = status
				l.Add(principal, c)
			}
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// Proxy returns a reverse proxy to upstreamURL (http://host:port) that
// records every request as Handler does, rewriting the access key ID to
// upstreamAccessKey. It forwards the request as the client signed it:
// the same Host header (SigV4 signs it), path, query, headers and body,
// which it streams both ways (S3 uploads of any size, chunked or
// aws-chunked, pass through unread).
func (l *Log) Proxy(upstreamURL, upstreamAccessKey string) (http.Handler, error) {
	u, err := url.Parse(upstreamURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("upstream %q is not a URL like http://127.0.0.1:8000", upstreamURL)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host // signed: the server recomputes the signature with it
	}}
	return l.Handler(rp, upstreamAccessKey), nil
}

// AccessKeyID returns the access key ID a request was signed with: the
// client's, even where Handler has since replaced it for the upstream
// server, so that an endpoint behind Handler knows who called it. It is
// empty for an unsigned request.
func AccessKeyID(r *http.Request) string {
	if id, ok := r.Context().Value(keyIDContext{}).(string); ok {
		return id
	}
	return credentialOf(r).keyID
}

// keyIDContext holds, in a request's context, the access key ID the
// client signed it with.
type keyIDContext struct{}

// credential is what a request's SigV4 credential says.
type credential struct {
	// signed: the request has an Authorization header or a presigned
	// URL's X-Amz-Credential; an unsigned request is anonymous.
	signed bool
	// keyID is the access key ID (empty when none can be read) and
	// service the credential scope's service, the signing name (s3,
	// lambda, dynamodb, ...; empty when the scope is malformed).
	keyID, service string
	// inHeader: the credential is the Authorization header's, with keyID
	// at byte keyStart; a presigned URL's is part of what is signed and
	// cannot be rewritten.
	inHeader bool
	keyStart int
}

// credentialOf reads the credential of a request signed in the
// Authorization header,
//
//	AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/s3/aws4_request, SignedHeaders=..., Signature=...
//
// or, for a presigned URL, in the X-Amz-Credential query parameter
// (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-auth-using-authorization-header.html,
// https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html).
func credentialOf(r *http.Request) credential {
	if h := r.Header.Get("Authorization"); h != "" {
		c := credential{signed: true, inHeader: true}
		i := strings.Index(h, "Credential=")
		if i < 0 {
			return c
		}
		c.keyStart = i + len("Credential=")
		scope := h[c.keyStart:]
		if end := strings.IndexAny(scope, ", "); end >= 0 {
			scope = scope[:end]
		}
		c.keyID, c.service = splitScope(scope)
		return c
	}
	if v := r.URL.Query().Get("X-Amz-Credential"); v != "" {
		c := credential{signed: true}
		c.keyID, c.service = splitScope(v)
		return c
	}
	return credential{}
}

// splitScope splits AKID/date/region/service/aws4_request.
func splitScope(scope string) (keyID, service string) {
	parts := strings.Split(scope, "/")
	if len(parts) == 5 && parts[4] == "aws4_request" {
		service = parts[3]
	}
	return parts[0], service
}

// parse names the calls a request makes: usually one, one per table for
// DynamoDB's batch and transaction operations, two for an S3 copy.
func parse(r *http.Request, cred credential) []iam.Call {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		return parseJSON(r, target)
	}
	switch cred.service {
	case "s3":
		return parseS3(r)
	case "lambda":
		return parseLambda(r)
	case "":
		// Unsigned, or a scope without a service: the path tells.
		if isLambdaPath(r.URL.Path) {
			return parseLambda(r)
		}
		return parseS3(r)
	}
	return []iam.Call{{Service: cred.service, Operation: UnknownOperation + cred.service + " request without X-Amz-Target: " + r.Method + " " + r.URL.Path}}
}
