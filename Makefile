# SPDX-License-Identifier: BSD-3-Clause
# The two commands of a new user: `make demo` and `make check`.
# Both install what is missing on Debian 12 (apt-get, as root), build, run.
BUILD ?= build
# `make bench` builds optimised, apart from the debug build.
BENCH_BUILD ?= build-bench

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

# vio-blk against qemu-storage-daemon, alternated rounds: a table and a chart (bench/blk/).
bench: deps
	@test -f $(BENCH_BUILD)/build.ninja || meson setup $(BENCH_BUILD) -Dbuildtype=release
	ninja -C $(BENCH_BUILD)
	python3 bench/blk/bench.py --vio=$(BENCH_BUILD)/tools/vio \
		--vio-blk=$(BENCH_BUILD)/daemons/vio-blk --outdir=$(BENCH_BUILD)/bench/blk

# Our virtqueue against the machine's limits, per host placement: a table and a chart (bench/ring/).
RING_BUILD ?= build-ring
.PHONY: bench-ring
bench-ring: deps
	@test -f $(RING_BUILD)/build.ninja || meson setup $(RING_BUILD) -Dbuildtype=release
	ninja -C $(RING_BUILD) bench/ring/vio-bench-ring
	$(RING_BUILD)/bench/ring/vio-bench-ring --outdir=$(RING_BUILD)/bench/ring

clean:
	rm -rf $(BUILD) build-check-*
