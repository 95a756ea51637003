// `swift run -c release benchmarks`: measures this machine's peaks, then every case of the default suite
// against its baselines (progress on stderr), then prints the table and optionally writes a JSON report.
import Glibc
import MoEKit

/// A progress line on stderr, after whatever the table has put out so far: with both streams sent to one file, the
/// table's buffered output would otherwise be cut by the line.
func log(_ s: String) {
    fflush(nil) // every output stream (naming stdout is not concurrency-safe in Swift 6)
    var line = s + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

// Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to its SSE3 "Prescott" kernels, which
// would make a weak baseline. Unless the user chose a core, run again with the one this CPU supports.
if getenv("OPENBLAS_CORETYPE") == nil, Runtime.detectedISA >= .avx2 {
    setenv("OPENBLAS_CORETYPE", Runtime.detectedISA >= .avx512 ? "SkylakeX" : "Haswell", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    log("warning: could not re-run with OPENBLAS_CORETYPE set; OpenBLAS keeps its own choice")
}

let options: Options
do {
    options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    if !error.message.isEmpty { log("error: \(error.message)") }
    log(Options.usage)
    exit(error.message.isEmpty ? 0 : 2)
}

Allocation.hugePages = !options.basePages
let llc = lastLevelCacheBytes()
let allCases = quantSuite(llcBytes: llc) + gemmSuite(llcBytes: llc)
let cases = allCases.filter { options.filter.map($0.id.contains) ?? true }
if options.list {
    for c in allCases { print("\(c.id)  \(c.dtype)  [\(c.impls.joined(separator: ", "))]  \(c.shapeText)") }
    exit(0)
}
if cases.isEmpty {
    log("no case matches --filter \(options.filter ?? "")")
    exit(2)
}
if let t = options.threads {
    do { try Runtime.setThreadCount(t) } catch { log("error: \(error)"); exit(2) }
}
if let isa = options.isa { Runtime.setMaxISA(isa) }

var machine = Machine.measure(quick: options.quick, log: log)
let timing = options.quick ? Timing.quick : Timing.standard
var results: [BenchResult] = []
var speedups: [Double?] = []
for (index, c) in cases.enumerated() {
    log("[\(index + 1)/\(cases.count)] \(c.id) \(c.dtype) (\(c.shapeText)) ...")
    if c.bound == .compute || c.bound == .computeBF16 { machine.reprobeCompute() }
    let runner = c.prepare()
    let rows = measure(c, runner: runner, timing: timing)
    for r in rows {
        speedups.append(r.impl == c.impls[0] && rows.count > 1 ? rows.dropFirst().map(\.seconds).min()! / r.seconds : nil)
    }
    results += rows
}
log("probing DRAM bandwidth again ...")
machine.reprobeMemory(quick: options.quick)
results = results.map { $0.judged(by: machine) }

print(Report.header(machine))
print("")
print(Report.tableHeader())
for (r, speedup) in zip(results, speedups) { print(Report.row(r, speedup: speedup.map { ($0, "baseline") })) }
print("""

    of peak: GB/s over the DRAM copy bandwidth for the formats (L2 cases exceed 100%), over the DRAM read
    bandwidth for decode GEMMs (T = 16, weight-streaming), GFLOP/s over the FP32 FMA peak (for BF16 and FP8
    operands the faster of it and the BF16 dot peak) for other GEMMs; peaks are the best probes of the whole
    run. speedup: the fastest baseline's time over MoEKit's in the same run, timed in alternation with MoEKit,
    call by call (OpenBLAS; for weight-only FP8 decode, moekit-bf16: MoEKit's BF16 decode of the same layout).
    repro: swift run -c release benchmarks --isa \(machine.isa) --threads \(machine.threads)\(options.filter.map { " --filter \($0)" } ?? "")
    """)

if let path = options.jsonPath {
    let text = Report.json(machine: machine, results: results)
    guard let f = fopen(path, "w") else { log("error: cannot write \(path)"); exit(1) }
    fputs(text, f)
    fclose(f)
    log("wrote \(path)")
}
