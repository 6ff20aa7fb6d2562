# Troupe — the two commands first: `make up` and `make test`. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SWIFT      ?= swift
SWIFTFLAGS ?= -Xswiftc -warnings-as-errors
# libcurl4-openssl-dev: the static Swift runtime's URLSession links against libcurl (notification's webhook).
# libpq-dev, postgresql: the PostgreSQL store (docs/postgres.md) and the server its tests start.
APT_PACKAGES := nats-server libnats-dev pkg-config valgrind openssl libcurl4-openssl-dev libpq-dev postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# make up TLS=1: NATS with TLS only, from a local CA under .troupe/secrets/tls/
TLS ?= 0
# make up POSTGRES=1: each service's store in PostgreSQL (as make cluster-up's) instead of SQLite
POSTGRES ?= 0
# Release builds link the Swift runtime statically: what `make dist` ships is what `make up` runs
# (and it is faster: no calls into the runtime through the PLT, docs/deployment.md).
RELEASE := -c release --static-swift-stdlib

.PHONY: help deps build test lint format up cluster-up down status logs clean bench bench-max bench-nats dist

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install nats-server, libnats-dev (nats.c), libpq-dev, PostgreSQL, pkg-config, valgrind, openssl from Debian when missing
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps ## Build everything (debug), warnings are errors
	$(SWIFT) build $(SWIFTFLAGS)

test: deps ## Unit, contract, integration (real nats-server) and end-to-end tests
	$(SWIFT) build --build-tests $(SWIFTFLAGS)
	deploy/dist/make-dist.sh payment  # the release archive that DeploymentTests unpack and run
	$(SWIFT) test --skip-build --skip EndToEndTests
	@# One end-to-end suite at a time: each runs six processes, and several at once on two cores
	@# starve one another into timeouts that say nothing about the suite (docs/pipeline.md, "Open").
	$(SWIFT) test --skip-build --filter EndToEndTests --no-parallel

lint: ## Check formatting (.swift-format)
	$(SWIFT) format lint --strict --recursive --parallel Package.swift Contracts Shared Services Tests Tools

format: ## Reformat the sources in place
	$(SWIFT) format format --in-place --recursive --parallel Package.swift Contracts Shared Services Tests Tools

SERVICES := order inventory payment shipping notification

up: deps ## Build (release) and start NATS and the five services in the background, seed demo data (TLS=1: NATS over TLS; POSTGRES=1: stores in PostgreSQL)
	@for p in $(SERVICES:%=%-service) troupe; do $(SWIFT) build $(RELEASE) --product $$p || exit 1; done
	TROUPE_TLS=$(TLS) TROUPE_POSTGRES=$(POSTGRES) deploy/local/troupe.sh up

cluster-up: deps ## The same suite scaled: three NATS servers (replicas 3), PostgreSQL, two instances of every service
	@for p in $(SERVICES:%=%-service) troupe; do $(SWIFT) build $(RELEASE) --product $$p || exit 1; done
	TROUPE_TLS=$(TLS) deploy/local/troupe.sh cluster-up

down: ## Stop everything `make up` started (SIGTERM, in-flight work finishes); keeps the data
	deploy/local/troupe.sh down

status: ## Which processes run, ready or not
	deploy/local/troupe.sh status

logs: ## Follow the logs (SERVICE=payment for one)
	SERVICE=$(SERVICE) deploy/local/troupe.sh logs

run-%: deps ## One service in the foreground against the local NATS (make run-order)
	$(SWIFT) build $(RELEASE) --product $*-service
	TROUPE_TLS=$(TLS) deploy/local/troupe.sh run $*

# The broker's ceiling for a saga of the suite's shape, in plain nats.c: every bench report carries it.
CEILING_C := .build/nats-ceiling-c

bench: up $(CEILING_C) ## The load benchmark against the running suite (BENCH="--rate 100 --duration 60"); results in bench/results/
	.build/release/troupe bench --ceiling-binary $(CEILING_C) $(BENCH)

bench-max: up $(CEILING_C) ## The highest rate the running suite sustains, stepping up (BENCH="--start-rate 50 --growth 1.25")
	.build/release/troupe bench --find-max --ceiling-binary $(CEILING_C) $(BENCH)

$(CEILING_C): Tools/nats-ceiling-c/ceiling.c
	@mkdir -p $(@D)
	cc -O2 -o $@ $< $$(pkg-config --cflags --libs libnats)

dist: deps ## Release archives under dist/: binary, systemd unit, environment file (SERVICE=payment for one)
	deploy/dist/make-dist.sh $(SERVICE)

clean: ## Stop what runs and remove the runtime state (.troupe/)
	-deploy/local/troupe.sh down
	rm -rf .troupe

bench-nats: deps $(CEILING_C) ## The JetStream layer against plain nats.c: publish and consume+ack msg/s (release build)
	$(SWIFT) build $(RELEASE) --product nats-ceiling
	.build/release/nats-ceiling --c-binary $(CEILING_C) $(BENCH)
