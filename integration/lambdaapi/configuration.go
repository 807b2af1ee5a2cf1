package lambdaapi

import (
	"encoding/json"
	"net/http"
)

// configurationPath is GetFunctionConfiguration's path below
// /2015-03-31/functions/{FunctionName}
// (https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html).
const configurationPath = "/configuration"

// reservedVariables are the keys Lambda sets in every execution
// environment and refuses in a function's configuration
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars-runtime.html):
// GetFunctionConfiguration never returns them, so a caller that needs one
// of them fails here as it would in AWS.
var reservedVariables = map[string]bool{
	"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
	"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
	"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
	"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true,
	"AWS_SECRET_ACCESS_KEY": true, "AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true, "TZ": true,
}

// functionConfiguration is the part of GetFunctionConfiguration's answer
// the endpoint knows; the rest (runtime, role, code, memory) the local
// pipeline does not model, so it is left out rather than made up.
type functionConfiguration struct {
	FunctionName     string       `json:"FunctionName"`
	FunctionArn      string       `json:"FunctionArn"`
	Version          string       `json:"Version"`
	State            string       `json:"State"`
	LastUpdateStatus string       `json:"LastUpdateStatus"`
	Environment      *environment `json:"Environment,omitempty"`
}

type environment struct {
	Variables map[string]string `json:"Variables"`
}

// getConfiguration serves GetFunctionConfiguration for ref, the path's
// FunctionName in any of its forms (name, partial ARN, ARN, each with an
// optional :qualifier; the Qualifier query parameter wins).
func (e *Endpoint) getConfiguration(w http.ResponseWriter, r *http.Request, ref string) {
	name, qualifier := parseFunction(ref)
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		qualifier = q
	}
	f, ok := e.fns[name]
	if !ok || (qualifier != "" && qualifier != "$LATEST") {
		writeError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+arn(name, qualifier))
		return
	}
	if f.cfg.Environment == nil {
		writeError(w, http.StatusNotFound, "UnknownOperationException",
			"GetFunctionConfiguration is served only for functions registered with an Environment; "+name+" has none")
		return
	}
	// Without a qualifier the answer is $LATEST's with the unqualified
	// ARN; with one, the ARN names it, as the CLI reference says "If you
	// specify function version, the API uses qualified function ARN"
	// (https://docs.aws.amazon.com/cli/latest/reference/lambda/get-function-configuration.html).
	out := functionConfiguration{FunctionName: name, FunctionArn: arn(name, qualifier), Version: "$LATEST",
		State: "Active", LastUpdateStatus: "Successful"}
	vars := map[string]string{}
	for k, v := range f.cfg.Environment {
		if !reservedVariables[k] {
			vars[k] = v
		}
	}
	if len(vars) > 0 {
		out.Environment = &environment{Variables: vars}
	}
	body, err := json.Marshal(out)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "ServiceException", "encode the configuration: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}
