import Foundation
import QuickPayActors
import QuickPayHostCore
import ZeroMQ

/// Threads that run the core's slow jobs (password hashes) off the poll loop. The queue is
/// bounded: a job that finds it full comes back at once with no result (the actor answers
/// OVERLOADED). A finished job wakes the poll loop through an inproc socket; the loop takes
/// the results and hands them to the core as inputs of its next group.
final class WorkerPool: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var results: [HostInput] = []
    private let capacity: Int
    /// Readable when results are waiting (the poll loop registers it).
    let wake: Socket

    init(context: Context, threads: Int, capacity: Int) throws {
        self.capacity = capacity
        let endpoint = "inproc://workers-\(UUID().uuidString)"
        wake = try context.socket(.pull)
        try wake.bind(endpoint)
        for index in 0..<max(1, threads) {
            let push = try context.socket(.push)
            try push.connect(endpoint)
            nonisolated(unsafe) let signal = push
            let thread = Thread { [self] in work(signal) }
            thread.name = "worker-\(index)"
            thread.start()
        }
    }

    /// Queues the jobs; those beyond the bound come back at once with no result.
    func submit(_ jobs: [Job]) -> [HostInput] {
        guard !jobs.isEmpty else { return [] }
        var refused: [HostInput] = []
        condition.lock()
        for job in jobs {
            if queue.count < capacity { queue.append(job) } else { refused.append(.computed(job.id, nil)) }
        }
        condition.broadcast()
        condition.unlock()
        return refused
    }

    /// Jobs queued and not yet taken by a thread (for metrics).
    var pending: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count
    }

    /// The results ready now.
    func take() -> [HostInput] {
        while (try? wake.receive(flags: .dontWait)) ?? nil != nil {}
        condition.lock()
        defer { condition.unlock() }
        let ready = results
        results.removeAll()
        return ready
    }

    private func work(_ signal: Socket) {
        while true {
            condition.lock()
            // The threads live as long as the process: an actor host runs until it exits.
            while queue.isEmpty { condition.wait() }
            let job = queue.removeFirst()
            condition.unlock()
            let result = job.computation.run()
            condition.lock()
            results.append(.computed(job.id, result))
            condition.unlock()
            _ = try? signal.send([1], flags: .dontWait)
        }
    }
}
