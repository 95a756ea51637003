# MoEKit: the two commands a newcomer needs on a fresh Debian machine (as root, or with sudo).
#   make bench   build in release and run the default benchmark suite (ARGS="--quick" etc. are passed on)
#   make test    the whole test suite in release, then the OpenMP, sanitizer, fuzzing, emulated-CPU,
#                versioned-dependency and DocC checks

SWIFT ?= swift
SYSTEM_PACKAGES := libopenblas-dev liblapacke-dev libomp-dev
TEST_PACKAGES := qemu-user
ARGS ?=

.PHONY: all deps test-deps bench test test-main test-openmp test-sanitizers test-fuzz test-cpus test-dependency \
	test-docs fuzz test-suite-emulated clean

all: test

# Installs the packages $(1) that are missing (dpkg tells which), with apt-get install options $(2).
define install_missing
	@missing=""; \
	for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $(2) $$missing; \
	fi
endef

deps:
	$(call install_missing,$(SYSTEM_PACKAGES))

# What only the tests need: qemu's user-mode emulator for test-cpus (without its recommended qemu-user-binfmt, which
# would register emulators for other architectures with the kernel).
test-deps: deps
	$(call install_missing,$(TEST_PACKAGES),--no-install-recommends)

bench: deps
	$(SWIFT) build -c release --product benchmarks
	$(SWIFT) run -c release benchmarks $(ARGS)

test: test-deps test-main test-openmp test-sanitizers test-fuzz test-cpus test-dependency test-docs

# The whole suite, in release (debug C is ~30x slower and hides FP-contraction differences).
test-main:
	$(SWIFT) test -c release

# The executor, determinism and thread-count tests again with the OpenMP trait (libomp's runtime instead of
# the pool).
test-openmp:
	$(SWIFT) test -c release --traits OpenMP --scratch-path .build-openmp --filter "Threads|Determinism|threadCounts"

# AddressSanitizer (with LeakSanitizer), UndefinedBehaviorSanitizer and ThreadSanitizer, each over the whole suite
# (TSan takes about 10 minutes on 2 cores). The suite is Swift Testing only: --disable-xctest skips the empty XCTest
# pass, whose runner leaks a few objects of its own at exit.
# SwiftPM accepts --sanitize=undefined, but Swift 6.3's swiftc rejects it for Linux ("unsupported option
# '-sanitize=undefined' for target 'x86_64-unknown-linux-gnu'"), so UBSan instruments the C kernels through clang,
# linking the toolchain's own runtime, and stops at the first report.
UBSAN_RT = $(firstword $(wildcard $(dir $(realpath $(shell command -v swiftc)))../lib/clang/*/lib/linux/libclang_rt.ubsan_standalone-x86_64.a))
test-sanitizers:
	$(SWIFT) test -c release --disable-xctest --sanitize=address --scratch-path .build-asan
	@test -n "$(UBSAN_RT)" || { echo "no UBSan runtime in the Swift toolchain"; exit 1; }
	$(SWIFT) test -c release --disable-xctest --scratch-path .build-ubsan -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined -Xlinker $(UBSAN_RT)
	$(SWIFT) test -c release --disable-xctest --sanitize=thread --scratch-path .build-tsan

# The C API fuzzed (Tests/Fuzz): random shapes, strides, types and bad arguments at every ISA, under ASan and UBSan;
# each call must give the scalar path's bytes, or be rejected with nothing written. `make fuzz` runs longer
# (FUZZ_SECONDS per target) and keeps its corpora in .build-fuzz/corpus.
FUZZ_RUNS ?= 8000
FUZZ_SECONDS ?= 600
test-fuzz:
	Tests/Fuzz/run.sh runs $(FUZZ_RUNS)

fuzz:
	Tests/Fuzz/run.sh seconds $(FUZZ_SECONDS)

# The fuzz targets again on CPUs this machine is not, emulated by qemu: without AVX, AVX2, FMA, F16C or XSAVE (each
# must be detected as scalar) and a Haswell (AVX2); qemu raises SIGILL for every instruction the model lacks, so no
# ISA cap may run one. CPU_RUNS inputs per target and CPU.
CPU_RUNS ?= 1000
test-cpus:
	Tests/Fuzz/run.sh cpus $(CPU_RUNS)

# The whole Swift suite on one emulated CPU (QEMU_CPU, a qemu -cpu model): what a machine without AVX-512 runs.
# Not part of `make test`: a Haswell takes about 16 minutes.
QEMU_CPU ?= Haswell
test-suite-emulated: test-deps
	$(SWIFT) build -c release --build-tests
	qemu-x86_64 -cpu $(QEMU_CPU) $$($(SWIFT) build -c release --show-bin-path)/MoEKitPackageTests.xctest \
		--testing-library swift-testing

# A throw-away package that depends on a tagged clone of this repository with `.package(url:, from:)`.
test-dependency:
	Tests/check-versioned-dependency.sh

# The DocC catalog builds without a warning (every symbol link resolves, every parameter is documented), with
# the toolchain's docc over the library's symbol graph.
DOCC ?= $(firstword $(wildcard $(dir $(realpath $(shell command -v swiftc)))docc) docc)
test-docs:
	mkdir -p .build-docs/symbol-graphs
	$(SWIFT) build --target MoEKit --scratch-path .build-docs -Xswiftc -emit-symbol-graph \
		-Xswiftc -emit-symbol-graph-dir -Xswiftc $(CURDIR)/.build-docs/symbol-graphs
	$(DOCC) convert Sources/MoEKit/MoEKit.docc --additional-symbol-graph-dir .build-docs/symbol-graphs \
		--output-path .build-docs/MoEKit.doccarchive --fallback-display-name MoEKit \
		--fallback-bundle-identifier MoEKit --warnings-as-errors

clean:
	rm -rf .build .build-openmp .build-asan .build-ubsan .build-tsan .build-docs .build-fuzz
