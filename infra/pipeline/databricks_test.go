package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/service/catalog"
	"gopkg.in/yaml.v3"
)

// bundleEnv parses a printed deploy command's BUNDLE_VAR_ and
// DATABRICKS_BUNDLE_TMP assignments.
func bundleEnv(t *testing.T, cmd string) (vars map[string]string, tmp string) {
	t.Helper()
	vars = map[string]string{}
	for _, m := range regexp.MustCompile(`BUNDLE_VAR_([a-z_]+)='((?:[^']|'\\'')*)'`).FindAllStringSubmatch(cmd, -1) {
		vars[m[1]] = strings.ReplaceAll(m[2], `'\''`, `'`)
	}
	if m := regexp.MustCompile(`DATABRICKS_BUNDLE_TMP='([^']*)'`).FindStringSubmatch(cmd); m != nil {
		tmp = m[1]
	}
	return vars, tmp
}

// bundleConfig is databricks/databricks.yml, the parts these tests read.
type bundleConfig struct {
	Workspace struct {
		RootPath string `yaml:"root_path"`
	} `yaml:"workspace"`
	Variables map[string]struct {
		Default any `yaml:"default"`
	} `yaml:"variables"`
	Targets map[string]struct {
		Workspace struct {
			RootPath string `yaml:"root_path"`
		} `yaml:"workspace"`
	} `yaml:"targets"`
}

func readBundleConfig(t *testing.T) bundleConfig {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "databricks", "databricks.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var b bundleConfig
	if err := yaml.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeployCommandFitsTheStack: the printed command reads the objects
// where this stack puts them and Databricks can read them: the forwarder's
// volume in volume mode (source and table_dir from its path template), the
// prefix through the external location only when the stack made the Unity
// Catalog role for it; otherwise it prints what is missing instead. It
// sets every variable the bundle requires and only variables it declares.
func TestDeployCommandFitsTheStack(t *testing.T) {
	bundle := readBundleConfig(t)
	volume := testProps(t)
	deep := testProps(t)
	deep.DatabricksVolumePath = "/Volumes/main/cdc/landing/ddb/table={table}/dt={date}/hour={hour}/{name}"
	none := testProps(t)
	none.DeliveryMode, none.DatabricksSecretName, none.DatabricksVolumePath = DeliveryNone, "", ""
	noneUC := none
	noneUC.DatabricksExternalID = "0d26daa6-5e44-4c97-a497-ef015f91254a"
	job := testProps(t)
	job.DeliveryMode, job.DatabricksVolumePath, job.DatabricksJobID = "job", "", "123"
	jobUC := job
	jobUC.DatabricksExternalID = noneUC.DatabricksExternalID
	volumeUC := volume
	volumeUC.DatabricksExternalID = noneUC.DatabricksExternalID
	whole := testProps(t)
	whole.DatabricksVolumePath = "/Volumes/main/cdc/landing/{key}"
	dynamo := volume
	dynamo.ImageFormat = "dynamodb"
	cases := map[string]struct {
		p                  Props
		source, dir, image string // empty source: nothing to deploy
	}{
		"volume":                    {volume, "/Volumes/main/cdc/landing", "{table}", "plain"},
		"volume, folders before":    {deep, "/Volumes/main/cdc/landing/ddb", "table={table}", "plain"},
		"volume, with the role too": {volumeUC, "/Volumes/main/cdc/landing", "{table}", "plain"},
		"volume, the whole key":     {whole, "/Volumes/main/cdc/landing/cdc", "table={table}", "plain"},
		"volume, dynamodb images":   {dynamo, "/Volumes/main/cdc/landing", "{table}", "dynamodb"},
		"none, no role":             {none, "", "", ""},
		"none, external location":   {noneUC, "s3://my-bucket/cdc", "table={table}", "plain"},
		"job, no role":              {job, "", "", ""},
		"job, external location":    {jobUC, "s3://my-bucket/cdc", "table={table}", "plain"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if err := c.p.Validate(); err != nil {
				t.Fatal(err)
			}
			cmd := deployCommand(&c.p, "DdbStreamPipeline", "Orders", "my-bucket")
			if c.source == "" {
				if strings.Contains(cmd, "bundle deploy") || !strings.HasPrefix(cmd, "not printed: ") || !strings.Contains(cmd, "databricksExternalId") {
					t.Errorf("printed %q, want what is missing (the external location's role)", cmd)
				}
				return
			}
			vars, _ := bundleEnv(t, cmd)
			for k, want := range map[string]string{"source": c.source, "table_dir": c.dir, "tables": "Orders:pk:sk", "image_format": c.image} {
				if vars[k] != want {
					t.Errorf("%s = %q, want %q in %s", k, vars[k], want, cmd)
				}
			}
			for name, v := range bundle.Variables {
				if _, ok := vars[name]; v.Default == nil && !ok {
					t.Errorf("the command does not set %s, which has no default", name)
				}
			}
			for name := range vars {
				if _, ok := bundle.Variables[name]; !ok {
					t.Errorf("the command sets %s, which the bundle does not declare", name)
				}
			}
			if strings.Contains(cmd, "--var") {
				t.Errorf("a --var value is split at commas: %s", cmd)
			}
		})
	}
}

// TestVolumeTemplatesTheBundleCannotRead: synthesis stops, naming the
// context key, for a forwarder volume path the bundle cannot read as one
// folder per table; the ones it can read pass.
func TestVolumeTemplatesTheBundleCannotRead(t *testing.T) {
	for template, ok := range map[string]bool{
		"/Volumes/main/cdc/landing/{table}/{name}":                             true,
		"/Volumes/main/cdc/landing/table={table}/dt={date}/hour={hour}/{name}": true,
		"/Volumes/main/cdc/landing/x/{table}/{key}":                            true,
		"/Volumes/main/cdc/landing/{table}/{first}-{last}.jsonl.gz":            true,
		"/Volumes/main/cdc/landing/{key}":                                      true, // <prefix>/table=<table>/...
		"/Volumes/main/cdc/landing/{dir}/{name}":                               true,
		"/Volumes/main/cdc/landing/{table}/{date}/{hour}/{stream}-{name}":      true,
		"/Volumes/main/cdc/landing/{name}":                                     false, // no table folder
		"/Volumes/main/cdc/landing/{date}/{table}/{name}":                      false, // a varying folder before
		"/Volumes/main/cdc/landing/{table}-{date}/{name}":                      false, // one table, many folders
		"/Volumes/main/cdc/landing/{table}":                                    false, // the table is the file
		"/Volumes/main/cdc/landing/{table}/{first}-{last}":                     false, // not .jsonl.gz
		"/Volumes/main/cdc/landing/dt={date}/{name}":                           false,
	} {
		p := testProps(t)
		p.DatabricksVolumePath = template
		err := p.Validate()
		if ok && err != nil {
			t.Errorf("%s refused: %v", template, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "context databricksVolumePath: the Databricks bundle cannot read it")) {
			t.Errorf("%s: got %v, want a refusal naming databricksVolumePath", template, err)
		}
	}
}

// TestTwoStacksTwoDeployments: each stack's command names its own
// deployment and its own local state folder, and the bundle puts the
// deployment in every target's workspace root_path (where the CLI keeps
// the deployment's state), so a second stack's deploy makes its own
// pipeline rather than replacing the first's tables.
func TestTwoStacksTwoDeployments(t *testing.T) {
	bundle := readBundleConfig(t)
	p := testProps(t)
	one, tmpOne := bundleEnv(t, deployCommand(&p, "OrdersPipeline", "Orders", "b1"))
	two, tmpTwo := bundleEnv(t, deployCommand(&p, "Customers-Pipeline", "Customers", "b2"))
	if one["deployment"] != "orderspipeline" || two["deployment"] != "customers_pipeline" {
		t.Errorf("deployments %q and %q", one["deployment"], two["deployment"])
	}
	if tmpOne == tmpTwo || tmpOne != ".databricks/deployments/"+one["deployment"] {
		t.Errorf("local state folders %q and %q: want one per deployment", tmpOne, tmpTwo)
	}
	for name, target := range bundle.Targets {
		root := target.Workspace.RootPath
		if root == "" {
			root = bundle.Workspace.RootPath
		}
		a := strings.ReplaceAll(root, "${var.deployment}", one["deployment"])
		b := strings.ReplaceAll(root, "${var.deployment}", two["deployment"])
		if a == b {
			t.Errorf("target %s: root_path %q is the same for both stacks", name, root)
		}
	}
}

// TestKeysDifferingOnlyInCase: Delta column names are case-insensitive,
// so synthesis refuses key names the bundle could not make two columns of.
func TestKeysDifferingOnlyInCase(t *testing.T) {
	p := testProps(t)
	p.PartitionKey, p.SortKey = "id", "ID"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "context sortKey=\"ID\"") || !strings.Contains(err.Error(), "case") {
		t.Errorf("got %v", err)
	}
	p.SortKey = "Id2"
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

// TestGrantsNameTheReadPrincipal: the printed SQL grants READ VOLUME or
// READ FILES to the principal databricksReadPrincipal names, and to nobody
// (never `account users`) without it.
func TestGrantsNameTheReadPrincipal(t *testing.T) {
	bundle := readBundleConfig(t)
	if bundle.Variables["catalog"].Default != bundleCatalog || bundle.Variables["schema"].Default != bundleSchema {
		t.Errorf("the printed SQL creates %s.%s, the bundle's defaults are %v.%v", bundleCatalog, bundleSchema, bundle.Variables["catalog"].Default, bundle.Variables["schema"].Default)
	}
	get := func(key string) any {
		return map[string]any{
			"databricksSecretName": "s", "databricksVolumePath": "/Volumes/main/cdc/landing/{table}/{name}",
			"databricksReadPrincipal": "data engineers",
		}[key]
	}
	p, err := PropsFromContext(get, repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schemaAndGrants(&p), "CREATE SCHEMA IF NOT EXISTS main.ddbstream; GRANT READ VOLUME ON VOLUME `main`.`cdc`.`landing` TO `data engineers`"; got != want {
		t.Errorf("volume mode: %q, want %q", got, want)
	}
	p.DeliveryMode, p.DatabricksSecretName, p.DatabricksVolumePath = DeliveryNone, "", ""
	p.DatabricksExternalID = "0d26daa6-5e44-4c97-a497-ef015f91254a"
	if got, want := schemaAndGrants(&p), "CREATE SCHEMA IF NOT EXISTS main.ddbstream; GRANT READ FILES ON EXTERNAL LOCATION `ddb_stream_pipeline_location` TO `data engineers`"; got != want {
		t.Errorf("external location: %q, want %q", got, want)
	}
	p.DatabricksReadPrincipal = ""
	if got := schemaAndGrants(&p); strings.Contains(got, "GRANT") {
		t.Errorf("no principal, yet %q", got)
	}
	p.DatabricksReadPrincipal = "bad`name"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "databricksReadPrincipal") {
		t.Errorf("a principal with a backquote: %v", err)
	}
}

// TestExternalLocationHasNoFileEvents: the printed commands decode
// strictly into the Databricks API's create requests (databricks-sdk-go
// v0.80.0), read-only, and the external location has file events off, so
// Databricks never writes the notification configuration of the bucket,
// which CloudFormation owns and which feeds EventBridge.
func TestExternalLocationHasNoFileEvents(t *testing.T) {
	p := testProps(t)
	p.DatabricksExternalID = "0d26daa6-5e44-4c97-a497-ef015f91254a"
	credential, location := ucCommands(&p, "my-bucket", "arn:aws:iam::123456789012:role/uc")
	jsonOf := func(cmd string) []byte {
		m := regexp.MustCompile(`--json '([^']*)'`).FindStringSubmatch(cmd)
		if m == nil {
			t.Fatalf("no --json in %s", cmd)
		}
		return []byte(m[1])
	}
	strict := func(raw []byte, v any) {
		t.Helper()
		var fields map[string]any
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatal(err)
		}
		known := map[string]bool{}
		typ := reflect.TypeOf(v).Elem()
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			known[name] = true
		}
		for k := range fields {
			if !known[k] {
				t.Errorf("%s has no field %q", typ, k)
			}
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatal(err)
		}
	}
	var sc catalog.CreateStorageCredential
	strict(jsonOf(credential), &sc)
	if !sc.ReadOnly || sc.AwsIamRole == nil || sc.AwsIamRole.RoleArn != "arn:aws:iam::123456789012:role/uc" {
		t.Errorf("storage credential %+v", sc)
	}
	var el catalog.CreateExternalLocation
	strict(jsonOf(location), &el)
	if !el.ReadOnly || el.EnableFileEvents || el.Url != "s3://my-bucket/cdc" || el.CredentialName != sc.Name || el.Name != "ddb_stream_pipeline_location" {
		t.Errorf("external location %+v", el)
	}
	// The CLI sends what the request marshals to: enable_file_events must
	// be sent as false, not left out (the API's default is true).
	sent, err := json.Marshal(el)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(sent), `"enable_file_events":false`) {
		t.Errorf("the request sent would leave file events on: %s", sent)
	}
}

// TestDatabricksOutputs: the synthesized stacks print the command that
// fits them: the volume in the default (volume) mode, what is missing in
// mode none without the role, and with the role the S3 prefix and a grant
// to the configured principal only.
func TestDatabricksOutputs(t *testing.T) {
	defer failOnPanic(t)
	volume := toJSON(defaultSynth(t).json["Outputs"])
	if !strings.Contains(volume, "BUNDLE_VAR_source='/Volumes/main/cdc/landing'") || strings.Contains(volume, "BUNDLE_VAR_source='s3://") {
		t.Errorf("volume mode outputs: %s", volume)
	}
	p := testProps(t)
	p.DeliveryMode, p.DatabricksSecretName, p.DatabricksVolumePath = DeliveryNone, "", ""
	p.DatabricksExternalID, p.DatabricksReadPrincipal = "0d26daa6-5e44-4c97-a497-ef015f91254a", "data-engineers"
	uc := toJSON(synth(t, p, false, "").json["Outputs"])
	for _, want := range []string{"BUNDLE_VAR_source='s3://", "enable_file_events", "GRANT READ FILES ON EXTERNAL LOCATION `ddb_stream_pipeline_location` TO `data-engineers`", "DatabricksStep4DeployBundle"} {
		if !strings.Contains(uc, want) {
			t.Errorf("mode none with the role: no %s in %s", want, uc)
		}
	}
	for _, out := range []string{volume, uc} {
		if strings.Contains(out, "account users") {
			t.Errorf("outputs grant to all account users: %s", out)
		}
	}
}
