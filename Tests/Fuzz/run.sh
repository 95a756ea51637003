#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz_gemm, fuzz_formats) over the C kernels with the clang of the Swift toolchain
# (which ships libFuzzer), and runs each.
#   Tests/Fuzz/run.sh runs N      N inputs per target from seed 1, starting from an empty corpus, under ASan and
#                                 UBSan (make test; the inputs can still vary a little, as the pool's threads add to
#                                 the coverage)
#   Tests/Fuzz/run.sh seconds S   S seconds per target, growing the corpora in .build-fuzz/corpus (make fuzz)
#   Tests/Fuzz/run.sh cpus N      N inputs per target on each CPU model of CPU_MODELS below, emulated by qemu-x86_64
#                                 (qemu-user; UBSan only, as ASan's shadow memory does not fit under it): the
#                                 kernels must detect the ISA the model supports, and no ISA cap may run an
#                                 instruction it lacks (qemu raises SIGILL for those, and for every AVX-512 one)
# A failing input is written to .build-fuzz/crash-*; `.build-fuzz/fuzz_gemm FILE` replays it (a cpus failure:
# `qemu-x86_64 -cpu MODEL .build-fuzz/cpus/fuzz_gemm FILE`, with MOEKIT_FUZZ_EXPECT_ISA as in CPU_MODELS).
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-runs} amount=${2:-20000}
CLANG=${CLANG:-$(dirname "$(realpath "$(command -v swiftc)")")/clang}
OUT=.build-fuzz
TARGETS=(fuzz_gemm fuzz_formats)
# qemu's CPU model (its features as -cpu writes them) and the ISA MoEKit must detect on it.
CPU_MODELS=(
    "Westmere scalar"       # no AVX
    "SandyBridge scalar"    # AVX, but no AVX2, FMA or F16C
    "Haswell,-fma scalar"   # AVX2 and F16C without FMA
    "Haswell,-f16c scalar"  # AVX2 and FMA without F16C
    "Haswell,-xsave scalar" # AVX2, FMA and F16C, but no XSAVE: the OS state (XCR0) cannot be read
    "Haswell avx2"          # AVX2, FMA and F16C (qemu emulates no AVX-512)
)

# build DIR FLAGS...: the kernels (two at a time) and each target against them, into DIR.
build() {
    local dir=$1
    shift
    local flags=(-O1 -g -std=c17 "$@" -ICKernels/include)
    rm -rf "$dir/obj"
    find CKernels -type d -exec mkdir -p "$dir/obj/{}" \;
    find CKernels -name '*.c' | xargs -P 2 -I{} "$CLANG" "${flags[@]}" -fsanitize=fuzzer-no-link -c {} -o "$dir/obj/{}.o"
    local objects
    objects=$(find "$dir/obj" -name '*.o')
    for target in "${TARGETS[@]}"; do
        "$CLANG" "${flags[@]}" -fsanitize=fuzzer -fuse-ld=lld "Tests/Fuzz/$target.c" $objects -lm -o "$dir/$target"
    done
}

# fuzz NAME LOG COMMAND...: runs one target's command, prints its summary lines, and stops the script if it failed.
fuzz() {
    local name=$1 log=$2
    shift 2
    local status=0
    "$@" -max_len=64 -len_control=0 -artifact_prefix="$OUT/" >"$log" 2>&1 || status=$?
    grep -E '^Done|^MoEKit fuzz|^SUMMARY|^qemu: uncaught' "$log" || true
    [ "$status" -eq 0 ] || { echo "$name failed (status $status): see $log; the input is in $OUT/"; exit 1; }
}

UBSAN=(-fsanitize=undefined -fno-sanitize-recover=undefined)
case "$mode" in
runs | seconds)
    build "$OUT" -fsanitize=address "${UBSAN[@]}"
    for target in "${TARGETS[@]}"; do
        echo "== $target: $amount $mode"
        if [ "$mode" = runs ]; then
            corpus=$(mktemp -d)
            fuzz "$target" "$OUT/$target.log" "$OUT/$target" -seed=1 -runs="$amount" "$corpus"
            rm -rf "$corpus"
        else
            mkdir -p "$OUT/corpus/$target"
            fuzz "$target" "$OUT/$target.log" "$OUT/$target" -max_total_time="$amount" "$OUT/corpus/$target"
        fi
    done
    ;;
cpus)
    command -v qemu-x86_64 >/dev/null || { echo "qemu-x86_64 not found: install qemu-user (make test does)"; exit 1; }
    build "$OUT/cpus" "${UBSAN[@]}"
    for entry in "${CPU_MODELS[@]}"; do
        read -r model isa <<<"$entry"
        for target in "${TARGETS[@]}"; do
            echo "== $target on $model (detected as $isa): $amount runs"
            corpus=$(mktemp -d)
            # SIGILL left to qemu, which names it ("uncaught target signal 4 (Illegal instruction)")
            fuzz "$target on $model" "$OUT/cpus/$target.log" env MOEKIT_FUZZ_EXPECT_ISA="$isa" UBSAN_OPTIONS=handle_sigill=0 \
                qemu-x86_64 -cpu "$model" "$OUT/cpus/$target" -handle_ill=0 -seed=1 -runs="$amount" "$corpus"
            rm -rf "$corpus"
        done
    done
    ;;
*)
    echo "usage: $0 runs N | seconds S | cpus N" >&2
    exit 2
    ;;
esac
