#!/usr/bin/env bash
# Proves MoEKit is consumable by version: clones this repository's HEAD into a temporary folder, tags it,
# and builds and runs a throw-away package that depends on it with `.package(url:, from:)` and calls MoEKit;
# run again with MOEKIT_MAX_ISA and MOEKIT_NUM_THREADS set, it must report the capped ISA and thread count, and
# with values it cannot use, it must say on stderr that it ignores them.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git clone -q "$repo" "$work/MoEKit"
git -C "$work/MoEKit" -c user.name=check -c user.email=check@localhost tag -a 0.1.0 -m "versioned-dependency check"

mkdir -p "$work/Client/Sources/Client"
cat > "$work/Client/Package.swift" <<SWIFT
// swift-tools-version: 6.2
import PackageDescription
let package = Package(
    name: "Client",
    dependencies: [.package(url: "file://$work/MoEKit", from: "0.1.0")],
    targets: [.executableTarget(name: "Client", dependencies: [.product(name: "MoEKit", package: "MoEKit")])]
)
SWIFT
cat > "$work/Client/Sources/Client/main.swift" <<'SWIFT'
import MoEKit

func quantizeOneRow() throws -> [Float] {
    let x: [Float] = (0..<256).map { Float($0) - 100 }
    var codes = [UInt8](repeating: 0, count: 256)
    var scales = [Float](repeating: 0, count: 2)
    var codesView = codes.mutableSpan
    var scalesView = scales.mutableSpan
    try Quantization.quantizePerToken(x.span, rows: 1, columns: 256, codes: &codesView, scales: &scalesView)
    _ = consume codesView
    _ = consume scalesView
    return scales
}

let scales = try quantizeOneRow()
precondition(scales[0] == 100 / 448 && scales[1] == 155 / 448, "unexpected scales \(scales)")
print("MoEKit from a versioned dependency: isa \(Runtime.activeISA), threads \(Runtime.threadCount), scales \(scales)")
SWIFT

cd "$work/Client"
swift build 2>&1 | tail -n 20
swift run Client
out=$(MOEKIT_MAX_ISA=scalar MOEKIT_NUM_THREADS=3 .build/debug/Client)
echo "with MOEKIT_MAX_ISA=scalar MOEKIT_NUM_THREADS=3: $out"
grep -q "isa scalar, threads 3," <<<"$out" || { echo "the environment variables were not honoured"; exit 1; }
warnings=$(MOEKIT_MAX_ISA=avx1024 MOEKIT_NUM_THREADS=0 .build/debug/Client 2>&1 >/dev/null)
echo "with MOEKIT_MAX_ISA=avx1024 MOEKIT_NUM_THREADS=0, stderr: $warnings"
grep -q "ignoring MOEKIT_MAX_ISA=avx1024" <<<"$warnings" && grep -q "ignoring MOEKIT_NUM_THREADS=0" <<<"$warnings" ||
    { echo "unusable environment variables were not reported"; exit 1; }
echo "versioned dependency: OK"
