# The entry points people type. `make help` lists them.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Every Go module of the workspace (go.work); `go test ./...` does not cross
# module boundaries, so commands take this list.
MODULE_DIRS := api api/openapigen pkg services/user services/task services/gateway bench deploy
PKGS = $(foreach m,$(MODULE_DIRS),./$(m)/...)
# make test runs these; deploy/backup's point-in-time restore has its own
# target (make test-pitr), which make test then runs.
PITR_PKG := ./deploy/backup
TEST_PKGS = $(filter-out github.com/todo-platform/todo/deploy/backup,$(shell go list $(PKGS)))

# Build tools are pinned in tools/go.mod (not part of go.work) and built into
# .local/tools, which is put first on PATH for the targets that use them.
TOOLS_DIR := $(CURDIR)/.local/tools
TOOLS := github.com/bufbuild/buf/cmd/buf \
	google.golang.org/protobuf/cmd/protoc-gen-go \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
	github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2 \
	honnef.co/go/tools/cmd/staticcheck
BUF := PATH="$(TOOLS_DIR):$$PATH" $(TOOLS_DIR)/buf

# Third-party protos, copied from pinned Go modules (never edited here).
GOOGLEAPIS_MOD := istio.io/api@v1.32.0
PROTOVALIDATE_MOD := github.com/bufbuild/protovalidate@v1.2.2
GATEWAY_MOD := github.com/grpc-ecosystem/grpc-gateway/v2@v2.33.0
THIRD_PARTY := third_party/proto

# npm packages pinned in tools/npm (package.json + package-lock.json),
# installed apart from the source tree; make generate vendors what it needs.
NPM_DIR := tmp/npm
# npm install, not npm ci: squawk-cli lists one optional package per platform
# and the lock can only hold those the registry serves here (linux-x64), which
# npm ci refuses as out of sync. install still takes every version and
# integrity hash the lock has, and adds only the running platform's binary.
NPM_INSTALL := npm install --ignore-scripts --no-audit --no-fund --loglevel=error
DOCS_VENDOR := services/gateway/internal/gateway/docs/swagger-ui

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: tools
tools: ## Build the pinned code generators and buf into .local/tools.
	@mkdir -p $(TOOLS_DIR)
	GOWORK=off go -C tools build -o $(TOOLS_DIR)/ $(TOOLS)

.PHONY: third-party-protos
third-party-protos: ## Copy googleapis, protovalidate and openapiv2 protos from their pinned Go modules.
	@rm -rf $(THIRD_PARTY)
	@mkdir -p $(THIRD_PARTY)/google/api $(THIRD_PARTY)/buf/validate $(THIRD_PARTY)/protoc-gen-openapiv2/options
	@dir() { GOWORK=off GOFLAGS=-mod=mod go -C tools mod download -json "$$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p'; }; \
	 g=$$(dir $(GOOGLEAPIS_MOD)); v=$$(dir $(PROTOVALIDATE_MOD)); o=$$(dir $(GATEWAY_MOD)); \
	 cp $$g/common-protos/google/api/{annotations,http,field_behavior}.proto $(THIRD_PARTY)/google/api/; \
	 cp $$v/proto/protovalidate/buf/validate/validate.proto $(THIRD_PARTY)/buf/validate/; \
	 cp $$o/protoc-gen-openapiv2/options/{annotations,openapiv2}.proto $(THIRD_PARTY)/protoc-gen-openapiv2/options/; \
	 chmod -R u+w $(THIRD_PARTY)
	@# No module on the proxy ships field_info.proto's source; genproto (pinned
	@# in tools/go.mod) has it compiled in, and printproto writes it back out.
	GOWORK=off go -C tools run ./cmd/printproto google/api/field_info.proto > $(THIRD_PARTY)/google/api/field_info.proto

.PHONY: generate
generate: tools third-party-protos ## Regenerate Go code, the OpenAPI document and the reflection descriptors from proto/.
	$(BUF) format -w proto
	rm -rf api/gen tmp/openapiv2 api/openapi/openapi.json api/apidesc/*.binpb
	$(BUF) generate
	@# Descriptors with comments and options: for server reflection (grpcurl
	@# describe) and for openapigen, which reads presence and field_behavior.
	$(BUF) build --path proto/todo -o api/apidesc/todo.binpb
	@# Swagger 2.0 from protoc-gen-openapiv2 → the served OpenAPI 3 document.
	go run ./api/openapigen -in tmp/openapiv2/todo.swagger.json -out api/openapi/openapi.json
	@# The /docs page's renderer, from the pinned swagger-ui-dist.
	@deploy/ensure-npm.sh
	rm -rf $(NPM_DIR) $(DOCS_VENDOR) && mkdir -p $(NPM_DIR) $(DOCS_VENDOR)
	cp tools/npm/package.json tools/npm/package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && $(NPM_INSTALL)
	cp $(NPM_DIR)/node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,LICENSE,NOTICE} $(DOCS_VENDOR)/

GENERATED := api/gen api/openapi api/apidesc proto $(DOCS_VENDOR)

.PHONY: check-generated
check-generated: generate ## Fail when committed generated code differs from a fresh `make generate`.
	@if [ -n "$$(git status --porcelain -- $(GENERATED))" ]; then \
		echo "generated code is stale; run 'make generate' and commit:"; \
		git status --porcelain -- $(GENERATED); git --no-pager diff --stat -- $(GENERATED); exit 1; fi

.PHONY: breaking
breaking: tools ## buf breaking: each commit of main since api/BREAKING_BASELINE against its parent, and the working tree against HEAD.
	tools/check-breaking.sh $(TOOLS_DIR)/buf api/BREAKING_BASELINE

.PHONY: lint
lint: tools third-party-protos ## gofmt, go vet, staticcheck, buf lint and buf format over everything; squawk over the migrations.
	@out=$$(gofmt -l $(MODULE_DIRS)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet $(PKGS)
	$(TOOLS_DIR)/staticcheck $(PKGS)
	$(BUF) lint
	$(BUF) format -d --exit-code proto
	@$(MAKE) --no-print-directory lint-migrations

# Every SQL migration of both sets, the ones added later included.
MIGRATIONS = $(wildcard pkg/schema/*/migrations/*.sql)
SQUAWK := $(NPM_DIR)/node_modules/.bin/squawk

.PHONY: lint-migrations
lint-migrations: ## squawk (pinned in tools/npm) over every migration; rules disabled only per statement, with a reason (part of lint).
	@deploy/ensure-npm.sh
	@if ! cmp -s tools/npm/package-lock.json $(NPM_DIR)/package-lock.json || [ ! -x $(SQUAWK) ]; then \
		rm -rf $(NPM_DIR) && mkdir -p $(NPM_DIR) && cp tools/npm/package.json tools/npm/package-lock.json $(NPM_DIR)/ && \
		(cd $(NPM_DIR) && $(NPM_INSTALL)); fi
	tools/lint-migrations.sh $(SQUAWK) $(MIGRATIONS)

.PHONY: check-modules
check-modules: ## Build and vet each module on its own (GOWORK=off): its go.mod must require all it uses.
	@for m in $(MODULE_DIRS); do \
		echo "== $$m"; \
		(cd $$m && GOWORK=off go build ./... && GOWORK=off go vet ./...) || exit 1; \
	done

.PHONY: build
build: ## Build bin/user-service, bin/task-service and bin/gateway.
	@mkdir -p bin
	go build -o bin/user-service ./services/user
	go build -o bin/task-service ./services/task
	go build -o bin/gateway ./services/gateway

.PHONY: postgres
postgres: ## Make sure PostgreSQL server binaries are installed (apt on Debian as root).
	@deploy/ensure-postgres.sh

.PHONY: pgbouncer
pgbouncer: ## Make sure pgbouncer is installed, for the tests through a transaction-mode pooler (apt on Debian as root).
	@deploy/ensure-pgbouncer.sh

.PHONY: chromium
chromium: ## Make sure headless Chromium is installed, for the /docs test (apt on Debian as root).
	@deploy/ensure-chromium.sh

.PHONY: test
test: postgres pgbouncer chromium ## Run every test of every module against a throwaway PostgreSQL, then each fuzz target briefly.
	go run ./pkg/pgtest/cmd/withpg -- go test -count=1 -timeout 20m $(TEST_PKGS)
	@$(MAKE) --no-print-directory test-pitr
	@$(MAKE) --no-print-directory fuzz-smoke

.PHONY: test-pitr
test-pitr: postgres ## Point-in-time restore with deploy/backup's scripts: base backup, WAL archive, restore into a new cluster at a recorded time (part of test).
	go test -count=1 -timeout 10m $(PITR_PKG)

# Fuzz targets as package:Target:smoke, where smoke is how many executions
# fuzz-smoke runs (go test takes one -fuzz target at a time). The budgets
# are counts, not durations: with a duration, Go 1.26's fuzzing coordinator
# can fail a target with a bare "context deadline exceeded" when a loaded
# machine keeps a worker busy past the deadline (golang/go#75804, fixed in
# Go 1.27); a count has no deadline to race. The gateway's target starts
# the whole stack in every fuzz process before it fuzzes. Their seed
# corpora also run as ordinary tests in `make test`.
FUZZ_TARGETS := \
	./pkg/pagetoken:FuzzDecode:10000x \
	./services/task/internal/taskapi:FuzzListTasks_PageToken:300x \
	./services/task/internal/taskapi:FuzzUpdateTask_Mask:300x \
	./services/user/internal/userapi:FuzzLogin:1000x \
	./services/user/internal/userapi:FuzzListUsers_PageToken:300x \
	./services/user/internal/userapi:FuzzUpdateUser_Mask:500x \
	./services/gateway/e2e:FuzzGateway_TaskBodies:300x
FUZZTIME ?= 1m

# fuzz_each runs every fuzz target in one throwaway PostgreSQL for $(1)
# (empty: each target's smoke time), one fuzz worker at a time.
define fuzz_each
go run ./pkg/pgtest/cmd/withpg -- bash -eu -o pipefail -c 'for t in $(FUZZ_TARGETS); do \
	IFS=: read -r pkg name smoke <<< "$$t"; time="$(1)"; time="$${time:-$$smoke}"; \
	echo "== fuzz $$name ($$time)"; \
	go test -run="^$$" -fuzz="^$$name\$$" -fuzztime="$$time" -parallel=1 "$$pkg"; done'
endef

.PHONY: fuzz-smoke
fuzz-smoke: postgres ## Run each fuzz target briefly (part of test).
	$(call fuzz_each,)

.PHONY: fuzz
fuzz: postgres ## Run each fuzz target for FUZZTIME (default 1m); new failures land in the packages' testdata/fuzz.
	$(call fuzz_each,$(FUZZTIME))

.PHONY: migrate
migrate: build ## Apply all migrations (user, then task) to DATABASE_URL.
	@test -n "$${DATABASE_URL:-}" || { echo "DATABASE_URL is not set"; exit 1; }
	bin/user-service migrate up
	bin/task-service migrate up

.PHONY: run
run: build postgres ## Start PostgreSQL (or use DATABASE_URL) and all services; Ctrl-C stops them.
	@deploy/run.sh

# make bench: release binaries (no symbol tables unless BENCH_PROFILE is set,
# as perf needs them for function names) and the load driver, built apart
# from bin/.
BENCH_BIN := $(CURDIR)/.local/bench/bin
BENCH_LDFLAGS := $(if $(BENCH_PROFILE),,-s -w)

.PHONY: bench
bench: postgres ## Measure every API call over gRPC and REST vs pgbench on 10k and 1M tasks; writes docs/benchmarks.md (BENCH_* knobs there).
	@mkdir -p $(BENCH_BIN)
	go build -trimpath -ldflags='$(BENCH_LDFLAGS)' -o $(BENCH_BIN)/user-service ./services/user
	go build -trimpath -ldflags='$(BENCH_LDFLAGS)' -o $(BENCH_BIN)/task-service ./services/task
	go build -trimpath -ldflags='$(BENCH_LDFLAGS)' -o $(BENCH_BIN)/gateway ./services/gateway
	go build -trimpath -ldflags='$(BENCH_LDFLAGS)' -o $(BENCH_BIN)/bench ./bench
	BENCH_BIN=$(BENCH_BIN) $(BENCH_BIN)/bench

.PHONY: clean
clean: ## Remove build output (keeps the local database in .local/pg).
	rm -rf bin $(TOOLS_DIR) $(THIRD_PARTY)
