#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz_gemm, fuzz_formats) with AddressSanitizer and UBSan over the C kernels, with
# the clang of the Swift toolchain (which ships libFuzzer), and runs each.
#   Tests/Fuzz/run.sh runs N      N inputs per target from seed 1, starting from an empty corpus (make test; the
#                                 inputs can still vary a little, as the pool's threads add to the coverage)
#   Tests/Fuzz/run.sh seconds S   S seconds per target, growing the corpora in .build-fuzz/corpus (make fuzz)
# A failing input is written to .build-fuzz/crash-*; `.build-fuzz/fuzz_gemm FILE` replays it.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-runs} amount=${2:-20000}
CLANG=${CLANG:-$(dirname "$(realpath "$(command -v swiftc)")")/clang}
OUT=.build-fuzz
FLAGS=(-O1 -g -std=c17 -fsanitize=address,undefined -fno-sanitize-recover=undefined -ICKernels/include)

# The kernels (two at a time), then each target against them.
rm -rf "$OUT/obj"
find CKernels -type d -exec mkdir -p "$OUT/obj/{}" \;
find CKernels -name '*.c' | xargs -P 2 -I{} "$CLANG" "${FLAGS[@]}" -fsanitize=fuzzer-no-link -c {} -o "$OUT/obj/{}.o"
objects=$(find "$OUT/obj" -name '*.o')
for target in fuzz_gemm fuzz_formats; do
    "$CLANG" "${FLAGS[@]}" -fsanitize=fuzzer -fuse-ld=lld "Tests/Fuzz/$target.c" $objects -lm -o "$OUT/$target"
done

for target in fuzz_gemm fuzz_formats; do
    echo "== $target: $amount $mode"
    if [ "$mode" = runs ]; then
        corpus=$(mktemp -d)
        options=(-seed=1 -runs="$amount" "$corpus")
    else
        corpus=$OUT/corpus/$target
        mkdir -p "$corpus"
        options=(-max_total_time="$amount" "$corpus")
    fi
    status=0
    "$OUT/$target" -max_len=64 -len_control=0 -artifact_prefix="$OUT/" "${options[@]}" >"$OUT/$target.log" 2>&1 || status=$?
    grep -E '^Done|^MoEKit fuzz|^SUMMARY' "$OUT/$target.log" || true
    [ "$mode" = runs ] && rm -rf "$corpus"
    [ "$status" -eq 0 ] || { echo "$target failed (status $status): see $OUT/$target.log; the input is in $OUT/"; exit 1; }
done
