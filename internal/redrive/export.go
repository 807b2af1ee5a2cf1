package redrive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ddbstream/pipeline/internal/export"
)

// converterAnswer is the part of the converter's answer (its Result) a
// redrive reports; plannerAnswer the planner's (its Response). They are
// read off the wire rather than imported, so that this package does not
// take on the functions' own AWS calls; a test holds them to the
// functions' types.
type converterAnswer struct {
	Key              string `json:"key"`
	ErrorsKey        string `json:"errorsKey"`
	Outcome          string `json:"outcome"`
	Rows             int64  `json:"rows"`
	ConversionErrors int64  `json:"conversionErrors"`
}

type plannerAnswer struct {
	Exports []struct {
		Key       string `json:"key"`
		ExportArn string `json:"exportArn"`
		Status    string `json:"status"`
		DataFiles int    `json:"dataFiles"`
		Invoked   int    `json:"invoked"`
		Skipped   string `json:"skipped"`
	} `json:"exports"`
}

// The converter's outcomes (converter.Outcome*): alreadyWritten when
// every object of the file was there already.
const alreadyWritten = "already written"

var converterOutcomes = []string{"written", alreadyWritten, "empty"}

// FunctionInvoker runs a deployed function: the export functions are
// redriven in AWS, with their own roles, rather than in this process.
type FunctionInvoker interface {
	Invoke(ctx context.Context, params *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// exportQueues are the export functions' failure queues, each with the
// function its messages go back to.
func (c Config) exportQueues() []exportQueue {
	var qs []exportQueue
	if c.ConverterQueueURL != "" {
		qs = append(qs, exportQueue{url: c.ConverterQueueURL, converter: true})
	}
	for _, u := range c.PlannerQueueURLs {
		qs = append(qs, exportQueue{url: u})
	}
	return qs
}

type exportQueue struct {
	url       string
	converter bool
}

// exportFunctions checks that the functions to invoke are known.
func (r *run) exportFunctions() error {
	if r.clients.Lambda == nil {
		return &Error{Msg: "no Lambda client to invoke the export functions"}
	}
	if r.cfg.ConverterQueueURL != "" && r.cfg.ConverterFunction == "" {
		return &Error{Msg: "the export converter function is unknown", Remedy: "give --stack, whose ExportConverterFunctionName output names it, or --converter-function"}
	}
	if len(r.cfg.PlannerQueueURLs) > 0 && r.cfg.PlannerFunction == "" {
		return &Error{Msg: "the export planner function is unknown", Remedy: "give --stack, whose ExportPlannerFunctionName output names it, or --planner-function"}
	}
	return nil
}

// converterMessage converts again the data file of one job the converter
// gave up on, by invoking the deployed converter with the original job
// and waiting for its answer. The converter's object names depend only
// on the export and the data file, and its writes are conditional, so a
// file converted meanwhile answers "already written" and nothing is
// duplicated. The message may go once the converter answers without an
// error.
func (r *run) converterMessage(ctx context.Context, m sqstypes.Message) (MessageReport, bool) {
	var rep MessageReport
	payload, rec, ok := asyncEvent(m, &rep)
	if !ok {
		return rep, false
	}
	if rec == nil {
		rep.Outcome, rep.Error = OutcomeNotUnderstood, "the message is an event, not the converter's invocation record"
		return rep, false
	}
	job, err := export.ParseJob(payload)
	if err == nil {
		err = job.Validate()
	}
	if err != nil {
		rep.Outcome, rep.Error = OutcomeNotUnderstood, fmt.Sprintf("the requestPayload is not a converter job: %v", err)
		return rep, false
	}
	rep.Subject = "s3://" + job.Bucket + "/" + job.DataFileKey
	if r.cfg.DryRun {
		rep.Outcome, rep.Detail = OutcomeWouldRedrive, "would convert with "+r.cfg.ConverterFunction
		return rep, true
	}
	answer, err := r.invoke(ctx, r.cfg.ConverterFunction, payload)
	if err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		return rep, false
	}
	var res converterAnswer
	if err := json.Unmarshal(answer, &res); err != nil || !slices.Contains(converterOutcomes, res.Outcome) {
		// Another function's answer: nothing says the file was converted.
		rep.Outcome, rep.Error = OutcomeFailed, fmt.Sprintf("the answer of %s, %.200q, is not the converter's result (is it the export converter?)", r.cfg.ConverterFunction, answer)
		return rep, false
	}
	for _, k := range []string{res.Key, res.ErrorsKey} {
		if k != "" {
			rep.Keys = append(rep.Keys, k)
		}
	}
	if res.Outcome == alreadyWritten {
		rep.Existing = rep.Keys
	}
	rep.Detail = fmt.Sprintf("%s: %d rows", res.Outcome, res.Rows)
	if res.ConversionErrors > 0 {
		rep.Detail += fmt.Sprintf(", %d lines under _errors/ (ddbstream errors lists them)", res.ConversionErrors)
	}
	rep.Outcome = OutcomeRedriven
	return rep, true
}

// plannerMessage plans again an export whose summary the planner gave up
// on (its on-failure queue's invocation records), or whose event
// EventBridge could not hand to it (the trigger's dead-letter queue), by
// invoking the deployed planner with the original event and waiting for
// its answer. The planner starts the converter once per data file, and
// converters of files already converted answer "already written": planning
// twice duplicates nothing. The message may go once the planner answers
// without an error; the conversions it started go on in AWS, and
// ddbstream backfill follows them.
func (r *run) plannerMessage(ctx context.Context, m sqstypes.Message) (MessageReport, bool) {
	var rep MessageReport
	payload, ev, ok := objectEvent(m, &rep, "the planner")
	if !ok {
		return rep, false
	}
	if len(ev.Objects) == 0 {
		rep.Outcome, rep.Error = OutcomeNotUnderstood, "the event names no object the planner reads"
		return rep, false
	}
	subjects := make([]string, len(ev.Objects))
	for i, o := range ev.Objects {
		subjects[i] = "s3://" + o.Bucket + "/" + o.Key
	}
	rep.Subject = strings.Join(subjects, ", ")
	if r.cfg.DryRun {
		rep.Outcome, rep.Detail = OutcomeWouldRedrive, "would plan with "+r.cfg.PlannerFunction
		return rep, true
	}
	answer, err := r.invoke(ctx, r.cfg.PlannerFunction, payload)
	if err != nil {
		rep.Outcome, rep.Error = OutcomeFailed, err.Error()
		return rep, false
	}
	var resp plannerAnswer
	if err := json.Unmarshal(answer, &resp); err != nil || len(resp.Exports) != len(ev.Objects) {
		// Another function's answer: nothing says the export was planned.
		rep.Outcome, rep.Error = OutcomeFailed, fmt.Sprintf("the answer of %s, %.200q, is not the planner's response for %d summaries (is it the export planner?)", r.cfg.PlannerFunction, answer, len(ev.Objects))
		return rep, false
	}
	var details []string
	for _, e := range resp.Exports {
		switch {
		case e.Skipped != "":
			details = append(details, fmt.Sprintf("%s skipped: %s", e.Key, e.Skipped))
		case e.Status != "" && e.Status != "COMPLETED":
			details = append(details, fmt.Sprintf("export %s is %s: nothing to convert", e.ExportArn, e.Status))
		default:
			details = append(details, fmt.Sprintf("export %s: %d converters started for %d data files (ddbstream backfill follows them)", e.ExportArn, e.Invoked, e.DataFiles))
		}
	}
	rep.Detail = strings.Join(details, "; ")
	rep.Outcome = OutcomeRedriven
	return rep, true
}

// invoke runs a function synchronously and returns its answer; a
// function error (its handler failed) is an error naming it.
func (r *run) invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	out, err := r.clients.Lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(function),
		InvocationType: lambdatypes.InvocationTypeRequestResponse, Payload: payload})
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", function, err)
	}
	if out.FunctionError != nil {
		msg := errorMessage(out.Payload)
		if msg == "" {
			msg = fmt.Sprintf("%.300s", out.Payload)
		}
		return nil, fmt.Errorf("%s failed (%s): %s", function, aws.ToString(out.FunctionError), msg)
	}
	return out.Payload, nil
}
