// Proves the ISA dispatch contract: the active ISA is min(detected, cap) for every cap (avx512 for a cap of
// avx512vbmi on a CPU detected as avx512bf16, which lacks AVX512_VBMI), the cap reads back, availableISAs is exactly
// the levels <= detectedISA (scalar always; avx512vbmi not on such a CPU), ISA names round-trip through ISA(name:)
// and unknown names are rejected, the C runtime agrees with the Swift view, and on Linux the detected level is what
// /proc/cpuinfo's feature flags imply, and so are the levels it can run.
import CKernels
import Foundation
import MoEKit
import TestSupport
import Testing

@Suite("ISA dispatch")
struct DispatchTests {
    @Test("active = min(detected, cap) for every cap")
    func activeIsMinimum() {
        let detected = Runtime.detectedISA
        for cap in ISA.allCases {
            withISA(cap) {
                let least = min(detected, cap), want = least == .avx512vbmi && detected == .avx512bf16 ? .avx512 : least
                #expect(Runtime.maxISA == cap)
                #expect(Runtime.activeISA == want, "cap \(cap)")
                #expect(ck_active_isa().rawValue == UInt32(want.rawValue))
            }
        }
        #expect(Runtime.detectedISA == detected)
    }

    @Test("available ISAs are exactly the levels up to the detected one")
    func available() {
        let detected = Runtime.detectedISA
        #expect(Runtime.availableISAs == ISA.allCases.filter {
            $0 <= detected && !($0 == .avx512vbmi && detected == .avx512bf16)
        })
        #expect(Runtime.availableISAs.first == .scalar)
        #expect(Runtime.availableISAs.last == detected)
        #expect(ck_detected_isa().rawValue == UInt32(detected.rawValue))
    }

    /// Linux lists a feature in /proc/cpuinfo only when the CPU has it and the kernel enables its register
    /// state, which is the rule the cpuid + XCR0 detection implements; this reads it independently. Skipped where
    /// the file's model name is not the one cpuid gives: then it describes another CPU (qemu's user-mode emulation,
    /// which `make test-cpus` uses, passes the host's file through).
    @Test("the detected ISA is the one /proc/cpuinfo's flags imply", .enabled(if: kernelCPUInfo != nil))
    func detectedMatchesTheKernelsView() throws {
        let info = try #require(kernelCPUInfo)
        let line = try #require(info.first { $0.hasPrefix("flags") })
        let flags = Set(line.split(separator: " ").map(String.init))
        let has = { (names: [String]) in names.allSatisfy(flags.contains) }
        var available: [ISA] = [.scalar] // the levels the flags imply, lowest first: the last is the detected one
        if has(["avx2", "fma", "f16c"]) {
            available.append(.avx2)
            if has(["avx512f", "avx512bw", "avx512dq", "avx512vl"]) {
                let bf16 = has(["avx512_bf16"]), vbmi = has(["avx512vbmi"])
                available.append(.avx512)
                if vbmi { available.append(.avx512vbmi) }
                if bf16 { available.append(.avx512bf16) }
                if bf16 && vbmi { available.append(.avx512bf16vbmi) }
            }
        }
        #expect(Runtime.detectedISA == available.last, "flags imply \(available)")
        #expect(Runtime.availableISAs == available, "flags imply \(available)")
    }

    @Test("names round-trip; others are rejected")
    func names() {
        #expect(ISA.allCases.map(\.description) ==
                    ["scalar", "avx2", "avx512", "avx512vbmi", "avx512bf16", "avx512bf16vbmi"])
        for isa in ISA.allCases { #expect(ISA(name: isa.description) == isa) }
        for bad in ["", "AVX2", "Scalar", "avx", "avx512f", "avx512bf16 ", "avx512vbmibf16", " scalar", "sse4", "neon",
                    "avx512_bf16"] {
            #expect(ISA(name: bad) == nil, "'\(bad)'")
        }
    }

    @Test("runtime descriptions")
    func descriptions() {
        #expect(["pthreads", "openmp"].contains(Runtime.executor))
        #expect(!Runtime.cpuName.isEmpty)
        #expect((1...1024).contains(Runtime.threadCount))
        withRuntimeSettings { // under the lock: other tests set the threshold to 0 while they hold it
            #expect(Runtime.streamThreshold > 0) // the L3 cache's size (or 32 MiB)
        }
    }
}

/// The lines of /proc/cpuinfo when it describes the CPU this process runs on (its first model name is cpuid's
/// brand string), else nil.
private let kernelCPUInfo: [Substring]? = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
    let lines = text.split(separator: "\n")
    guard let model = lines.first(where: { $0.hasPrefix("model name") })?.split(separator: ":", maxSplits: 1).last
    else { return nil }
    return model.trimmingCharacters(in: .whitespaces) == Runtime.cpuName.trimmingCharacters(in: .whitespaces) ? lines : nil
}()
