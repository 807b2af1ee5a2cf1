package databricks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Read makes one authenticated read of the workspace, GET or HEAD of
// path (absolute, with its query), through the same retry loop,
// credential refresh and redirect rules as the forwarder's writes, and
// decodes a GET's JSON answer into out when out is not nil. Only 200 is
// success. It exists for operator checks (ddbstream doctor): a cheap call
// that proves the workspace answers, the forwarder's credentials are
// accepted and a destination (volume directory, job, warehouse) exists,
// with the forwarder's own client rather than a second one that could
// disagree with it. An *APIError tells a missing destination (404) from
// refused credentials (401, 403).
func (c *Client) Read(ctx context.Context, method, path string, out any) (Result, error) {
	if method != http.MethodGet && method != http.MethodHead {
		return Result{}, fmt.Errorf("read with %s: only GET and HEAD read", method)
	}
	if !strings.HasPrefix(path, "/") {
		return Result{}, fmt.Errorf("read %q: the path must be absolute", path)
	}
	op := strings.ToLower(method) + " " + strings.SplitN(path, "?", 2)[0]
	if method == http.MethodHead {
		out = nil
	}
	return c.do(ctx, func(ctx context.Context, host, token string) error {
		return c.call(ctx, op, method, host+path, token, nil, 0, "", okJSON, out)
	})
}
