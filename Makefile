# rkmem: `make run` boots the test VM with rkmem loaded; `make check` tests.
#
#   make            build rkmem.ko (installing the toolchain and building the
#                   cached kernel first if needed)
#   make setup      only the toolchain and the kernel (FLAVOUR=debug|perf)
#   make run        boot the VM with rkmem loaded: a shell on a terminal,
#                   else show rkmem's debugfs and exit
#   make check      userspace unit tests + kselftests in the VM
#   make unit       userspace unit tests only
#   make vm CMD='…' run CMD in the VM with rkmem loaded
#   make bench      rkmem against the host allocator, on the perf kernel
#                   (medians over BOOTS=3 VM boots)
#   make stress     everything at once for DURATION s (default 120; make
#                   check runs 60): clients, hotplug, knobs, hog, faults;
#                   FLAVOUR=kasan runs it on the KASAN kernel
#   make soak       the same (an older name)
#   make lint       rustfmt, checkpatch and clippy
#   make clean
#
# KDIR=/path/to/built/kernel uses another tree instead of the cached one.
# The VM's topology (run, check, vm, soak, bench): NODES (2), CPUS (2, at
# most 8) and MEM_PER_NODE (3G; or one size per node, 0 for a memoryless
# node: MEM_PER_NODE=3G,3G,0); see qemu/run. Empty means the default.

FLAVOUR ?= debug
# make bench: VM boots to take medians over (TCG ratios vary by boot)
BOOTS ?= 3
SETUP := $(CURDIR)/tools/setup.sh
export NODES CPUS MEM_PER_NODE
export RKMEM_CACHE ?= $(HOME)/.cache/rkmem

# Resolved after `setup` has run (the key needs the installed toolchain).
kdir = $(or $(KDIR),$$($(SETUP) kdir $(FLAVOUR)))
kmake = eval "$$($(SETUP) env)"; $(MAKE) -C "$(kdir)" M=$(CURDIR) LLVM=$$LLVM RUSTC=$$RUSTC BINDGEN=$$BINDGEN

.PHONY: all module setup run check unit vm bench stress soak lint clean

all: module

setup:
	@$(if $(KDIR),KDIR=$(KDIR)) $(SETUP) $(FLAVOUR)

# Kbuild cannot tell objects built against another kernel tree (its command
# lines are relative to the tree): remember the tree and clean on a switch.
module: setup
	@k="$(kdir)"; if [ "$$(cat .rkmem-kdir 2>/dev/null)" != "$$k" ]; then \
		$(kmake) clean >/dev/null; \
		$(kmake) M=$(CURDIR)/selftests/rkmem/client clean >/dev/null; \
		$(kmake) M=$(CURDIR)/selftests/rkmem/slab_client clean >/dev/null; \
		$(kmake) M=$(CURDIR)/selftests/rkmem/mempool_client clean >/dev/null; \
		echo "$$k" > .rkmem-kdir; \
	fi
	@$(kmake) modules
	@$(kmake) M=$(CURDIR)/selftests/rkmem/client KBUILD_EXTRA_SYMBOLS=$(CURDIR)/Module.symvers modules
	@$(kmake) M=$(CURDIR)/selftests/rkmem/slab_client KBUILD_EXTRA_SYMBOLS=$(CURDIR)/Module.symvers modules
	@$(kmake) M=$(CURDIR)/selftests/rkmem/mempool_client KBUILD_EXTRA_SYMBOLS=$(CURDIR)/Module.symvers modules

run: module
	@if [ -t 0 ] && [ -t 1 ]; then \
		KDIR="$(kdir)" qemu/run --shell; \
	else \
		KDIR="$(kdir)" qemu/run -- qemu/show-rkmem; \
	fi

unit:
	cd tools/rkmem-logic && cargo test

check: module
	@KDIR="$(kdir)" tools/check

vm: module
	@KDIR="$(kdir)" qemu/run -- sh -c '$(CMD)'

# make stress: the soak of selftests/rkmem/stress.sh for DURATION seconds
# (make check runs 60 s of it); debug kernel, lockdep on, or FLAVOUR=kasan.
DURATION ?= 120
stress: module
	@KDIR="$(kdir)" VM_TIMEOUT=$$(($(DURATION) + 1200)) qemu/run -- env STRESS_SECS=$(DURATION) \
		selftests/rkmem/run_kselftest.sh stress.sh

soak: stress

# Style as the kernel checks it: rustfmt with its .rustfmt.toml, checkpatch
# on the C files, clippy on the pure logic.
lint: setup
	@k="$(kdir)"; rustfmt --check --config-path "$$k/.rustfmt.toml" --edition 2021 \
		rust/rkmem_main.rs tools/rkmem-logic/src/lib.rs && \
	"$$k/scripts/checkpatch.pl" --no-tree --terse -f rust/*.c rust/*.h \
		selftests/rkmem/client/rkmem_client.c \
		selftests/rkmem/slab_client/rkmem_slab_client.c \
		selftests/rkmem/mempool_client/rkmem_mempool_client.c \
		selftests/rkmem/include/rkmem_stress.h tools/bench-module/rkmem_bench.c && \
	cd tools/rkmem-logic && cargo clippy --all-targets -- -D warnings

# Benchmarks run on the perf kernel (no debug options), or on KDIR. The bench
# module (tools/bench-module) is tiny: rebuilt from clean every time, so it
# always matches the tree. BENCH='rounds=9 scale=50 cases=single,remote'
# passes module parameters (see tools/bench).
bench: override FLAVOUR := perf
bench:
	@$(MAKE) --no-print-directory FLAVOUR=perf module
	@$(kmake) M=$(CURDIR)/tools/bench-module clean >/dev/null
	@$(kmake) M=$(CURDIR)/tools/bench-module KBUILD_EXTRA_SYMBOLS=$(CURDIR)/Module.symvers modules
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	for i in $$(seq $(BOOTS)); do \
		echo "== VM boot $$i of $(BOOTS)"; \
		{ FLAVOUR=perf KDIR="$(kdir)" qemu/run -- tools/bench $(BENCH); \
		  echo $$? > "$$out/status$$i"; } | tee "$$out/boot$$i"; \
		[ "$$(cat "$$out/status$$i")" = 0 ] || exit 1; \
	done && echo && tools/bench-summary "$$out"/boot*

clean:
	@if [ -d "$(kdir)" ]; then $(kmake) clean; $(kmake) M=$(CURDIR)/selftests/rkmem/client clean; \
		$(kmake) M=$(CURDIR)/selftests/rkmem/slab_client clean; \
		$(kmake) M=$(CURDIR)/selftests/rkmem/mempool_client clean; \
		$(kmake) M=$(CURDIR)/tools/bench-module clean; fi
	rm -rf tools/rkmem-logic/target
