# Build, test and run the DynamoDB Streams -> S3 -> Databricks pipeline.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

FUNCTIONS := $(notdir $(wildcard functions/*))
# The flags every Lambda binary is built with, here and in CDK bundling:
# static, no RPC shim, no paths, no VCS stamp, no build ID: same source,
# same bytes.
LAMBDA_GOENV   := CGO_ENABLED=0 GOOS=linux GOARCH=arm64
LAMBDA_GOFLAGS := -tags lambda.norpc -trimpath -buildvcs=false -ldflags='-s -w -buildid='
# The stamp of the npm tools' install (see its rule below).
NODE_MODULES := node_modules/.package-lock.json

.PHONY: help build ddbstream test lint vet staticcheck fmt-check unit reproducible bench fuzz clean tools local

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

build: $(FUNCTIONS:%=bin/%/bootstrap) ddbstream ## cross-compile each function as bin/<name>/bootstrap (linux/arm64), and the operator tool

ddbstream: ## build the operator tool for this machine as bin/ddbstream (backfill, reconcile; bin/ddbstream --help)
	@mkdir -p bin
	go build -trimpath -buildvcs=auto -o bin/ddbstream ./cmd/ddbstream

bin/%/bootstrap: FORCE
	@mkdir -p $(@D)
	$(LAMBDA_GOENV) go build $(LAMBDA_GOFLAGS) -o $@ ./functions/$*
FORCE:

test: tools fmt-check lint unit reproducible ## everything CI runs: gofmt, lint, go test -race (end-to-end, cfn-lint and cdk-nag included), reproducible builds

fmt-check: ## fail if gofmt would rewrite a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would rewrite:"; echo "$$out"; exit 1; fi

lint: vet staticcheck ## go vet and staticcheck (pinned, installed by make tools)

vet: ## go vet
	go vet ./...

STATICCHECK := .local/bin/staticcheck
staticcheck: tools ## staticcheck v0.6.1
	$(STATICCHECK) ./...

unit: ## go test -race, end-to-end tests included (they need make tools)
	INTEGRATION_REQUIRED=1 go test -race -count=1 -timeout 20m ./...

tools: $(NODE_MODULES) ## install DynamoDB Local, versitygw, staticcheck and Java into .local/, and the pinned npm tools into node_modules/ (idempotent)
	integration/scripts/install-tools.sh

STACK ?= DdbStreamPipeline
.PHONY: smoke
smoke: ## check a deployed stack: canary item -> S3 -> Databricks, recent errors (skipped without AWS credentials)
	go run ./cmd/smoke -stack $(STACK)

CHANGES ?= 10000
PRELOAD ?= 3000
local: tools ## run the whole pipeline locally: preload PRELOAD items, backfill them while CHANGES changes are written, check every change arrives exactly once and the lake equals the table
	go run ./cmd/local -changes $(CHANGES) -preload $(PRELOAD)

reproducible: ## build every function twice (other path, empty cache) and compare bytes
	scripts/check-reproducible.sh $(FUNCTIONS)

bench: ## benchmarks with their targets: streamer (one core), forwarder (1 GiB upload), export conversion (1 GiB, one core), fold (1M items)
	go run ./cmd/streambench -max-median-ms 40 -min-mb-per-s 150 -max-alloc-bytes 8388608 -max-rss-mb 48
	go run ./cmd/forwardbench -size 1073741824 -max-rss-mb 64 -min-mb-per-s 200
	go run ./cmd/foldbench -min-lines-per-s 200000 -max-rss-mb 128
	go run ./cmd/exportbench -size 1073741824 -max-rss-mb 64 -min-mb-per-s 200
	go test -run '^$$' -bench . -benchmem -cpu 1 ./internal/record ./internal/streamer

fuzz: ## fuzz the record converter for a minute
	go test -run '^$$' -fuzz FuzzConvertEvent -fuzztime 60s ./internal/record

clean: ## remove build outputs (bin/, cdk.out/)
	rm -rf bin cdk.out

CDK := JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 npx --no-install cdk
# node_modules/ holds the npm tools package-lock.json pins: the CDK CLI and
# the IAM policy simulator the iam tests run (@cloud-copilot/iam-simulate,
# AGPL-3.0: a test tool, never bundled or shipped). npm ci runs again only
# when node_modules is missing or package.json or the lock changed; npm
# writes node_modules/.package-lock.json on every install.
$(NODE_MODULES): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: synth deploy diff
# make synth without CONTEXT shows the template for example Databricks
# settings; deploy and diff take yours.
EXAMPLE_CONTEXT := -c databricksSecretName=databricks/pipeline -c 'databricksVolumePath=/Volumes/main/cdc/landing/{table}/{name}'
synth: $(NODE_MODULES) ## synthesize the CloudFormation template offline (cdk.out/); pass CONTEXT="-c key=value ..."
	$(CDK) synth -q $(or $(CONTEXT),$(EXAMPLE_CONTEXT))
	@echo "template: cdk.out/$$(ls cdk.out | grep -m1 '\.template\.json$$')"

deploy: $(NODE_MODULES) ## cdk deploy (needs AWS credentials); pass CONTEXT="-c key=value ..."
	$(CDK) deploy $(CONTEXT)

diff: $(NODE_MODULES) ## cdk diff against the deployed stack
	$(CDK) diff $(CONTEXT)
