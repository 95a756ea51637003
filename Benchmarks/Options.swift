import MoEKit

/// Command-line options of `swift run -c release benchmarks`.
struct Options {
    var filter: String?
    var threads: Int?
    var isa: ISA?
    var quick = false
    var jsonPath: String?
    var list = false
    var basePages = false

    static let usage = """
        usage: benchmarks [--filter TEXT] [--threads N] [--isa scalar|avx2|avx512|avx512vbmi|avx512bf16|avx512bf16vbmi]
                          [--quick] [--json PATH] [--list] [--base-pages]

          --filter TEXT  run only cases whose "suite/case" contains TEXT
          --threads N    threads for MoEKit and the probes (default: MOEKIT_NUM_THREADS or all CPUs)
          --isa NAME     cap MoEKit's instruction set (the machine probes use the same cap)
          --quick        fewer repetitions and smaller DRAM probes (a smoke run; numbers are noisier)
          --json PATH    also write the machine-readable report to PATH
          --list         list the cases and exit
          --base-pages   keep the buffers in 4 KiB pages (default: transparent huge pages for buffers of 2 MiB or more)
        """

    init(arguments: [String]) throws(OptionsError) {
        var rest = arguments[...]
        func value(_ flag: String) throws(OptionsError) -> String {
            guard let v = rest.popFirst() else { throw OptionsError(message: "\(flag) needs a value") }
            return v
        }
        while let arg = rest.popFirst() {
            switch arg {
            case "--filter": filter = try value(arg)
            case "--threads":
                let v = try value(arg)
                guard let n = Int(v), n >= 1 else { throw OptionsError(message: "--threads takes a positive integer, got \(v)") }
                threads = n
            case "--isa":
                let v = try value(arg)
                guard let i = ISA(name: v) else { throw OptionsError(message: "unknown ISA \(v)") }
                isa = i
            case "--quick": quick = true
            case "--json": jsonPath = try value(arg)
            case "--list": list = true
            case "--base-pages": basePages = true
            case "-h", "--help": throw OptionsError(message: "")
            default: throw OptionsError(message: "unknown argument \(arg)")
            }
        }
    }
}

struct OptionsError: Error {
    var message: String
}
