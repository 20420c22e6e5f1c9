# QuickPay. Two commands do everything on a fresh Debian machine:
#   make run    the main job: the scenario suite (flows, every attack, faults) against the five
#               actors as real processes, on the embedded SQLite default
#   make test   unit and process tests, the simulator on 100 fixed seeds, the whole suite over
#               CURVE with its HTML report (checked in headless Chromium), the multi-host test
#               (as root), the docker-compose check, that every mutation still applies; JUnit in runs/junit.xml (scenarios) and
#               runs/unit-junit-swift-testing.xml (unit tests)
# Every scenario run leaves runs/<time>/report.html (runs/latest points at the newest).
# Both install what they need (libzmq3-dev, libsqlite3-dev, pkg-config; docker-compose and chromium for the checks) with
# apt-get when it is missing.

SWIFT ?= swift
APT_PACKAGES := libzmq3-dev pkg-config libsqlite3-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run happy-path demo test deps build release bench perf proto format clean multihost compose-check simulate mutations mutations-apply

run: release
	.build/release/quickpay run scenarios --junit runs/junit.xml --json runs/results.json

happy-path: release
	.build/release/quickpay happy-path --mode offline --mode online

demo: release
	.build/release/quickpay demo

test: deps
	$(SWIFT) build --build-tests
	@mkdir -p runs
	$(SWIFT) test --skip-build --xunit-output runs/unit-junit.xml
	python3 scripts/check-blind-vector.py
	$(MAKE) --no-print-directory mutations-apply
	.build/debug/quickpay simulate --seeds 100
	.build/debug/quickpay simulate --seeds 10 --scheme blind-rsa
	.build/debug/quickpay run scenarios --junit runs/junit.xml --json runs/results.json
	BIN=.build/debug bash scripts/report-check.sh
	.build/debug/quickpay happy-path --mode offline --mode online
	BIN=.build/debug bash multihost/run.sh
	$(MAKE) --no-print-directory compose-check

# A long simulation campaign (release build): SEEDS seeds from FIRST, with a progress line.
SEEDS ?= 5000
FIRST ?= 1
simulate: release
	.build/release/quickpay simulate --seeds $(SEEDS) --first $(FIRST)

# Every actor in its own network namespace, over CURVE, with a partition (needs root).
multihost: build
	BIN=.build/debug bash multihost/run.sh

# Every mutation (Tests/Mutations) must still apply to the code it breaks: scripts/mutations.sh
# puts them back one at a time, and one that no longer applies tests nothing.
mutations-apply:
	@for p in Tests/Mutations/*.patch; do git apply --check "$$p" || { echo "$$p no longer applies: regenerate it against the present code"; exit 1; }; done
	@echo "Tests/Mutations: every patch applies"

# Validates docker-compose.yml (there is no Docker engine here: config only).
compose-check:
	@command -v docker-compose >/dev/null || { echo "installing docker-compose (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq docker-compose; }
	docker-compose config -q && echo "docker-compose.yml: valid"

deps:
	@if ! pkg-config --exists libzmq sqlite3 2>/dev/null; then \
	  echo "installing $(APT_PACKAGES) (apt-get)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(APT_PACKAGES); \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

bench: release
	.build/release/quickpay bench core

# Every figure of docs/PERFORMANCE.md, each with its baseline measured in the same run, then issue
# 14's targets as target / measured / ratio (scripts/perf.sh; about 15 minutes; valgrind for the instruction count).
perf: release
	@command -v valgrind >/dev/null && command -v objcopy >/dev/null || { echo "installing valgrind binutils (apt-get)"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq valgrind binutils; }
	bash scripts/perf.sh

# Regenerates the committed protobuf Swift code (needs protobuf-compiler).
proto:
	@command -v protoc >/dev/null || $(SUDO) apt-get install -y -qq protobuf-compiler
	scripts/generate-protos.sh

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

clean:
	rm -rf .build
