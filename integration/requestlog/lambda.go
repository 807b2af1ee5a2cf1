package requestlog

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/ddbstream/pipeline/iam"
)

// lambdaPath matches the paths of Lambda's REST API: an API version, then
// the resource (/2015-03-31/functions/..., /2019-09-30/functions/...).
var lambdaPath = regexp.MustCompile(`^/20[0-9]{2}-[0-9]{2}-[0-9]{2}/(functions|event-source-mappings)(/|$)`)

// isLambdaPath tells an unsigned Lambda request from an S3 one.
func isLambdaPath(path string) bool { return lambdaPath.MatchString(path) }

// parseLambda names a call of Lambda's REST API, from the operations'
// HTTP bindings in the SDK (service/lambda/schemas) and the API reference
// (https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html,
// API_GetFunctionConfiguration.html, API_GetPolicy.html,
// API_ListEventSourceMappings.html):
//
//	POST /2015-03-31/functions/{FunctionName}/invocations  Invoke
//	GET  /2015-03-31/functions/{FunctionName}/configuration GetFunctionConfiguration
//	GET  /2015-03-31/functions/{FunctionName}/policy        GetPolicy
//	GET  /2015-03-31/functions/{FunctionName}               GetFunction
//	GET  /2015-03-31/functions                              ListFunctions
//	GET  /2015-03-31/event-source-mappings?FunctionName=    ListEventSourceMappings
//
// Function is the FunctionName as sent (a name, partial ARN or ARN),
// with ":" and the Qualifier parameter appended when there is one, as
// the call then acts on that version or alias; for
// ListEventSourceMappings, the FunctionName filter (empty: none).
func parseLambda(r *http.Request) []iam.Call {
	c := iam.Call{Service: "lambda"}
	q := r.URL.Query()
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	route := r.Method + " " + strings.Join(segs[:min(len(segs), 2)], "/")
	if len(segs) >= 3 {
		route += " " + strings.Join(segs[3:], "/")
		c.Function = segs[2]
		if qual := q.Get("Qualifier"); qual != "" && !strings.HasSuffix(c.Function, ":"+qual) {
			c.Function += ":" + qual
		}
	}
	c.Operation = map[string]string{
		"POST 2015-03-31/functions invocations":  "Invoke",
		"GET 2015-03-31/functions configuration": "GetFunctionConfiguration",
		"GET 2015-03-31/functions policy":        "GetPolicy",
		"GET 2015-03-31/functions ":              "GetFunction",
		"GET 2015-03-31/functions":               "ListFunctions",
		"GET 2015-03-31/event-source-mappings":   "ListEventSourceMappings",
	}[route]
	switch {
	case c.Operation == "":
		return []iam.Call{{Service: "lambda", Operation: UnknownOperation + "Lambda " + r.Method + " " + r.URL.Path + " is no operation recorded here"}}
	case c.Operation == "ListEventSourceMappings":
		c.Function = q.Get("FunctionName")
	case c.Operation != "ListFunctions" && segs[2] == "":
		return []iam.Call{{Service: "lambda", Operation: UnknownOperation + c.Operation + ": the path names no function"}}
	}
	return []iam.Call{c}
}
