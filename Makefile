# SPDX-License-Identifier: BSD-3-Clause
# The two commands of a new user: `make demo` and `make check`.
# Both install what is missing on Debian 12 (apt-get, as root), build, run.
BUILD ?= build

.PHONY: all deps build check demo bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: deps
	scripts/check.sh

demo: build
	python3 tests/e2e/demo.py --vio-blk=$(BUILD)/daemons/vio-blk

clean:
	rm -rf $(BUILD) build-check-*
