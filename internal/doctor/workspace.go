package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ddbstream/pipeline/internal/databricks"
	"github.com/ddbstream/pipeline/internal/secret"
)

// Databricks endpoints of the checks, all reads:
//
//   - GET /api/2.0/preview/scim/v2/Me: the caller's identity; proves the
//     workspace answers and accepts the credentials
//     (https://docs.databricks.com/api/workspace/currentuser/me);
//   - HEAD /api/2.0/fs/directories{path}: "useful to check if a directory
//     exists and the caller has access to it"
//     (https://docs.databricks.com/api/files/v2/get-directory-metadata.md);
//   - GET /api/2.1/jobs/get?job_id=: the job
//     (https://docs.databricks.com/api/workspace/jobs/get);
//   - GET /api/2.0/sql/warehouses/{id}: the warehouse and its state
//     (https://docs.databricks.com/api/workspace/warehouses/get).
const (
	mePath         = "/api/2.0/preview/scim/v2/Me"
	directoriesAPI = "/api/2.0/fs/directories"
	jobsGetPath    = "/api/2.1/jobs/get"
	warehousesAPI  = "/api/2.0/sql/warehouses/"
)

// databricks checks the secret, the workspace and the destination with
// the forwarder's settings (its environment) and its own client.
func (d *doctor) databricks(ctx context.Context) {
	ids := [3][2]string{{"databricks-secret", "Databricks secret"}, {"databricks-workspace", "Databricks workspace"}, {"databricks-destination", "Databricks destination"}}
	skipAll := func(from int, why string) {
		for _, c := range ids[from:] {
			d.skip(c[0], c[1], why)
		}
	}
	if !d.hasForwarder() {
		skipAll(0, "no forwarder (delivery mode none)")
		return
	}
	f, err := d.function(ctx, "ForwarderFunctionName")
	if err != nil {
		d.fail(ids[0][0], ids[0][1], short(err.Error()), remedyFor(err, "lambda:GetFunctionConfiguration"))
		skipAll(1, "the forwarder's settings could not be read")
		return
	}
	env := f.Env
	id := env["DATABRICKS_SECRET_ID"]
	cache := secret.NewCache(d.c.Secrets, id, time.Hour)
	creds, err := cache.Get(ctx)
	if err != nil {
		d.fail(ids[0][0], ids[0][1], short(err.Error()), secretRemedy(err, id))
		skipAll(1, "the secret could not be read")
		return
	}
	kind := "a personal access token"
	if creds.OAuth() {
		kind = "an OAuth service principal (client ID and secret)"
	}
	d.pass(ids[0][0], ids[0][1], fmt.Sprintf("%s is readable and well-formed: %s (values not shown)", id, kind))

	client := databricks.New(cache, append([]databricks.Option{
		databricks.WithHTTPClient(databricks.NewHTTPClient()),
		databricks.WithRetryPolicy(databricks.RetryPolicy{MaxAttempts: 3, BaseDelay: 500 * time.Millisecond, MaxDelay: 5 * time.Second}),
	}, d.cfg.DatabricksOptions...)...)
	var me struct {
		UserName    string `json:"userName"`
		DisplayName string `json:"displayName"`
	}
	if _, err := client.Read(ctx, http.MethodGet, mePath, &me); err != nil {
		d.fail(ids[1][0], ids[1][1], short(err.Error()), workspaceRemedy(err, id))
		skipAll(2, "the workspace check failed")
		return
	}
	who := me.UserName
	if who == "" {
		who = me.DisplayName
	}
	d.pass(ids[1][0], ids[1][1], fmt.Sprintf("reachable; the credentials are accepted (as %s)", who))
	d.destination(ctx, client, env, ids[2][0], ids[2][1])
}

// destination checks that what the delivery mode writes to exists.
func (d *doctor) destination(ctx context.Context, client *databricks.Client, env map[string]string, id, title string) {
	mode := env["DELIVERY_MODE"]
	if mode == "" {
		mode = "volume"
	}
	switch mode {
	case "volume":
		root, err := volumeRoot(env["DATABRICKS_VOLUME_PATH"])
		if err != nil {
			d.fail(id, title, err.Error(), "set databricksVolumePath to /Volumes/<catalog>/<schema>/<volume>/... and deploy (make deploy)")
			return
		}
		if _, err := client.Read(ctx, http.MethodHead, directoriesAPI+root, nil); err != nil {
			d.fail(id, title, short(fmt.Sprintf("volume %s: %v", root, err)), destinationRemedy(err,
				"create the volume (CREATE VOLUME in Databricks SQL) or fix databricksVolumePath and deploy", "grant the forwarder's principal READ VOLUME and WRITE VOLUME on it"))
			return
		}
		d.pass(id, title, "volume "+root+" exists and is accessible")
	case "job":
		jobID := env["DATABRICKS_JOB_ID"]
		if _, err := strconv.ParseInt(jobID, 10, 64); err != nil {
			d.fail(id, title, fmt.Sprintf("DATABRICKS_JOB_ID %q is not a job ID", jobID), "set databricksJobId and deploy (make deploy)")
			return
		}
		var job struct {
			JobID    int64 `json:"job_id"`
			Settings struct {
				Name string `json:"name"`
			} `json:"settings"`
		}
		if _, err := client.Read(ctx, http.MethodGet, jobsGetPath+"?job_id="+jobID, &job); err != nil {
			d.fail(id, title, short(fmt.Sprintf("job %s: %v", jobID, err)), destinationRemedy(err,
				"create the job or fix databricksJobId and deploy", "grant the forwarder's principal CAN MANAGE RUN on the job"))
			return
		}
		d.pass(id, title, fmt.Sprintf("job %s (%s) exists", jobID, job.Settings.Name))
	case "copy-into":
		wh := env["DATABRICKS_WAREHOUSE_ID"]
		if wh == "" || strings.ContainsAny(wh, "/?#") {
			d.fail(id, title, fmt.Sprintf("DATABRICKS_WAREHOUSE_ID %q is not a warehouse ID", wh), "set databricksWarehouseId and deploy (make deploy)")
			return
		}
		var w struct {
			Name  string `json:"name"`
			State string `json:"state"`
		}
		if _, err := client.Read(ctx, http.MethodGet, warehousesAPI+url.PathEscape(wh), &w); err != nil {
			d.fail(id, title, short(fmt.Sprintf("warehouse %s: %v", wh, err)), destinationRemedy(err,
				"create the warehouse or fix databricksWarehouseId and deploy", "grant the forwarder's principal CAN USE on the warehouse"))
			return
		}
		if w.State == "DELETED" || w.State == "DELETING" {
			d.fail(id, title, fmt.Sprintf("warehouse %s (%s) is %s", wh, w.Name, w.State), "create a warehouse and deploy with its databricksWarehouseId")
			return
		}
		d.pass(id, title, fmt.Sprintf("warehouse %s (%s) exists, %s (a stopped warehouse starts on the first statement)", wh, w.Name, w.State))
	case "dbfs":
		d.skip(id, title, "nothing to check: DBFS creates the directories the forwarder writes to")
	default:
		d.fail(id, title, fmt.Sprintf("unknown DELIVERY_MODE %q", mode), "set deliveryMode to volume, job, copy-into or dbfs and deploy")
	}
}

// volumeRoot is the volume of a volume path template:
// /Volumes/<catalog>/<schema>/<volume>, escaped for the Files API.
func volumeRoot(template string) (string, error) {
	segs := strings.Split(strings.TrimPrefix(template, "/"), "/")
	if len(segs) < 4 || segs[0] != "Volumes" {
		return "", fmt.Errorf("DATABRICKS_VOLUME_PATH %q is not under /Volumes/<catalog>/<schema>/<volume>/", template)
	}
	for _, s := range segs[1:4] {
		if s == "" || strings.ContainsAny(s, "{}") {
			return "", fmt.Errorf("DATABRICKS_VOLUME_PATH %q does not name its volume without variables", template)
		}
	}
	return "/Volumes/" + url.PathEscape(segs[1]) + "/" + url.PathEscape(segs[2]) + "/" + url.PathEscape(segs[3]), nil
}

func secretRemedy(err error, id string) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid Databricks secret"), strings.Contains(msg, "not a JSON object"), strings.Contains(msg, "no string value"):
		return `put a well-formed value in the secret: aws secretsmanager put-secret-value --secret-id ` + id +
			` --secret-string '{"host":"https://<workspace>","token":"<token>"}' (or "client_id" and "client_secret" for a service principal)`
	case strings.Contains(msg, "ResourceNotFound"):
		return "create the secret " + id + ` holding {"host": "https://<workspace>", "token": "..."}, or deploy with the right databricksSecretName`
	}
	return remedyFor(err, "secretsmanager:GetSecretValue (and kms:Decrypt on the secret's key)")
}

func workspaceRemedy(err error, id string) string {
	var apiErr *databricks.APIError
	var tErr *databricks.TransportError
	switch {
	case errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
		return "the workspace refuses the credentials: put a valid token (or service principal) in the secret " + id +
			"; the forwarder reads the new value on its next 401, without a deployment"
	case errors.As(err, &apiErr) && apiErr.StatusCode >= 300 && apiErr.StatusCode < 400:
		return "the host in the secret " + id + " redirects elsewhere: put the workspace's own URL in it"
	case errors.As(err, &tErr):
		return "the workspace does not answer: check the host in the secret " + id + ", DNS and the network (the forwarder runs outside a VPC unless configured)"
	}
	return "check the workspace's status and the host in the secret " + id
}

func destinationRemedy(err error, missing, denied string) string {
	var apiErr *databricks.APIError
	if errors.As(err, &apiErr) {
		switch {
		case apiErr.StatusCode == http.StatusNotFound, apiErr.ErrorCode == "RESOURCE_DOES_NOT_EXIST",
			// jobs/get answers a missing job with 400 INVALID_PARAMETER_VALUE "Job … does not exist."
			apiErr.StatusCode == http.StatusBadRequest && strings.Contains(apiErr.Message, "does not exist"):
			return missing + "; then deliver what failed meanwhile: ddbstream redrive --source forwarder"
		case apiErr.StatusCode == http.StatusForbidden, apiErr.StatusCode == http.StatusUnauthorized:
			return denied
		}
	}
	return "check the workspace, then run ddbstream doctor again"
}
