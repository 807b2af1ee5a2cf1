package pipeline

import (
	"strings"
	"testing"
)

// converterAndOthers splits the template's functions into the export
// converter's properties and the others', by logical ID.
func converterAndOthers(t *testing.T, s synthesized) (converter map[string]any, others map[string]map[string]any) {
	t.Helper()
	others = map[string]map[string]any{}
	for id, r := range resources(s, "AWS::Lambda::Function") {
		props := r["Properties"].(map[string]any)
		if strings.HasPrefix(id, "PipelineBackfillConverter") {
			if converter != nil {
				t.Fatalf("two converters: %s", id)
			}
			converter = props
			continue
		}
		others[id] = props
	}
	if converter == nil {
		t.Fatal("no export converter function")
	}
	return converter, others
}

func output(t *testing.T, s synthesized, id string) any {
	t.Helper()
	outs, _ := s.json["Outputs"].(map[string]any)
	o, ok := outs[id].(map[string]any)
	if !ok {
		t.Fatalf("no output %s among %v", id, outs)
	}
	return o["Value"]
}

// TestConverterReservedConcurrency: the converter has its reserved
// concurrency (default 10), no other function has any, and the stack
// output gives it; 0 reserves nothing (Lambda's 0 would stop the
// function).
func TestConverterReservedConcurrency(t *testing.T) {
	defer failOnPanic(t)
	if DefaultProps().ExportConverterReservedConcurrency != 10 {
		t.Errorf("default reserved concurrency %d, the README says 10", DefaultProps().ExportConverterReservedConcurrency)
	}
	s := defaultSynth(t)
	converter, others := converterAndOthers(t, s)
	if got := converter["ReservedConcurrentExecutions"]; got != float64(10) {
		t.Errorf("converter ReservedConcurrentExecutions = %v, want 10", got)
	}
	for id, props := range others {
		if v, ok := props["ReservedConcurrentExecutions"]; ok {
			t.Errorf("%s reserves concurrency %v", id, v)
		}
	}
	if got := output(t, s, ConverterReservedConcurrencyOutput); got != "10" {
		t.Errorf("output %s = %v, want \"10\"", ConverterReservedConcurrencyOutput, got)
	}

	p := testProps(t)
	p.ExportConverterReservedConcurrency = 0
	s = synth(t, p, false, "")
	converter, _ = converterAndOthers(t, s)
	if v, ok := converter["ReservedConcurrentExecutions"]; ok {
		t.Errorf("with 0, the converter reserves %v; want no ReservedConcurrentExecutions", v)
	}
	if got := output(t, s, ConverterReservedConcurrencyOutput); got != "0" {
		t.Errorf("output %s = %v, want \"0\"", ConverterReservedConcurrencyOutput, got)
	}
}

// TestBackfillRolesWriteOnlyWhatTheyOwn: in the template, the converter
// may write only snapshot objects and their errors objects, nothing reads
// versions but the forwarder, and the planner may invoke only the
// converter.
func TestBackfillRolesWriteOnlyWhatTheyOwn(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	var writes []string
	for _, st := range statements(s, "exportconverter") {
		for _, a := range list(st["Action"]) {
			if a == "s3:PutObject" {
				for _, r := range list(st["Resource"]) {
					writes = append(writes, toJSON(r))
				}
			}
		}
	}
	if len(writes) != 2 || !strings.Contains(writes[0], `/cdc/table=*/dt=*/hour=*/snapshot-*"`) ||
		!strings.Contains(writes[1], `/cdc/_errors/table=*/dt=*/hour=*/snapshot-*"`) {
		t.Errorf("the converter writes %v; want the snapshot keys and their _errors/ twin only", writes)
	}
	for _, role := range []string{"streamer", "exportplanner", "exportconverter"} {
		if strings.Contains(toJSON(statements(s, role)), "s3:GetObjectVersion") {
			t.Errorf("%s may read versions; only the forwarder reads one", role)
		}
	}
	for _, st := range statements(s, "exportplanner") {
		if list(st["Action"])[0] == "lambda:InvokeFunction" {
			if got := toJSON(st["Resource"]); !strings.Contains(got, "PipelineBackfillConverter") || strings.Contains(got, "*") {
				t.Errorf("the planner invokes %s; want the converter only", got)
			}
		}
	}
}

// TestPlannerKnowsWhatItConverts: the planner's environment names the
// table, bucket and export prefix whose exports it converts, so that it
// skips any other export rather than failing on it into its queue.
func TestPlannerKnowsWhatItConverts(t *testing.T) {
	defer failOnPanic(t)
	s := defaultSynth(t)
	var env map[string]any
	for id, r := range resources(s, "AWS::Lambda::Function") {
		if strings.HasPrefix(id, "PipelineBackfillPlanner") {
			env = r["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
		}
	}
	if env == nil {
		t.Fatal("no export planner function")
	}
	if got := env["EXPORT_PREFIX"]; got != "cdc-exports" {
		t.Errorf("EXPORT_PREFIX = %v, want cdc-exports", got)
	}
	for _, name := range []string{"BUCKET_NAME", "TABLE_NAME"} {
		if v, ok := env[name]; !ok || v == "" {
			t.Errorf("%s is not set: %v", name, env)
		}
	}
}
