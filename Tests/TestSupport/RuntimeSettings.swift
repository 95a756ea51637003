// Serialises the process-global kernel settings (ISA cap, thread count, streaming threshold) across Swift
// Testing's parallel tests: every change happens under one process-wide lock and is undone before the lock
// is released.
import Glibc
import MoEKit
import Synchronization

private let settingsLock = Mutex<Void>(())
/// The thread holding `settingsLock` (0: none), to turn an accidental nested use into a clear failure.
private let settingsOwner = Atomic<UInt>(0)

/// Runs `body` with the ISA cap, thread count and/or streaming threshold set, holding the settings lock, then
/// restores them. Not re-entrant: nest the settings in one call instead.
public func withRuntimeSettings<R, E: Error>(isa: ISA? = nil, threads: Int? = nil, streamThreshold: Int? = nil,
                                             _ body: () throws(E) -> R) throws(E) -> R {
    let me = UInt(pthread_self())
    precondition(settingsOwner.load(ordering: .relaxed) != me, "withRuntimeSettings/withISA/withThreads/forEachISA must not be nested")
    return try settingsLock.withLock { _ throws(E) -> R in
        settingsOwner.store(me, ordering: .relaxed)
        let savedISA = Runtime.maxISA, savedThreads = Runtime.threadCount, savedStream = Runtime.streamThreshold
        defer {
            Runtime.setMaxISA(savedISA)
            try! Runtime.setThreadCount(savedThreads)
            try! Runtime.setStreamThreshold(savedStream)
            settingsOwner.store(0, ordering: .relaxed)
        }
        if let isa { Runtime.setMaxISA(isa) }
        if let threads { try! Runtime.setThreadCount(threads) }
        if let streamThreshold { try! Runtime.setStreamThreshold(streamThreshold) }
        return try body()
    }
}

/// Runs `body` with `Runtime.setMaxISA(isa)` in force.
public func withISA<R, E: Error>(_ isa: ISA, _ body: () throws(E) -> R) throws(E) -> R {
    try withRuntimeSettings(isa: isa, body)
}

/// Runs `body` with `Runtime.setThreadCount(threads)` in force.
public func withThreads<R, E: Error>(_ threads: Int, _ body: () throws(E) -> R) throws(E) -> R {
    try withRuntimeSettings(threads: threads, body)
}

/// Runs `body` once per ISA this machine can run (lowest first, so `.scalar` comes first), holding the lock
/// for the whole sweep; returns the results in that order.
public func forEachISA<R, E: Error>(threads: Int? = nil, streamThreshold: Int? = nil,
                                    _ body: (ISA) throws(E) -> R) throws(E) -> [(ISA, R)] {
    try withRuntimeSettings(threads: threads, streamThreshold: streamThreshold) { () throws(E) -> [(ISA, R)] in
        var results: [(ISA, R)] = []
        for isa in Runtime.availableISAs {
            Runtime.setMaxISA(isa)
            results.append((isa, try body(isa)))
        }
        return results
    }
}
