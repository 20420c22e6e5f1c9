import Foundation
import Prometheus
import QuickPayActors
import QuickPayCore
import QuickPayProtocol
import QuickPayStore

/// An actor's live metrics (`--metrics HOST:PORT`, Prometheus text format at `/metrics`):
/// requests by type and outcome, latency from receipt to answer, group-commit sizes and commit
/// latency, queue depths, peer retries, refused handshakes, the reply cache's size, the SQLite
/// file and WAL sizes, resident memory. The serving thread only bumps counters and records
/// into histograms (swift-prometheus: atomics and short locks); everything that reads a file or
/// a table is done by the metrics thread when it is scraped, never by the serving thread.
final class ActorMetrics: @unchecked Sendable {
    let registry = PrometheusCollectorRegistry()
    let dataDir: String?
    /// Requests received and not yet answered. This and the two caches below belong to the
    /// serving thread alone; the registry is thread-safe.
    private(set) var open = OpenRequests()
    private var requests: [String: [String: Counter]] = [:]
    private var latencies: [String: DurationHistogram] = [:]
    let groupSizes: ValueHistogram
    let commitLatency: DurationHistogram
    let queueDepth: (open: Gauge, inFlight: Gauge, jobs: Gauge)
    let retries: Counter
    var retriesSeen = 0
    let refusedHandshakes: Counter
    var refusedSeen = 0
    let replyCache: Gauge
    let database: Gauge
    let wal: Gauge
    let memory: Gauge

    static let latencyBuckets: [Duration] = [
        .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2.5), .seconds(5),
    ]

    init(dataDir: String?) {
        self.dataDir = dataDir
        func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "quickpay", metricName: name, unitName: unit, helpText: help)
        }
        groupSizes = registry.makeValueHistogram(
            descriptor: descriptor("group_commit", "inputs", "Inputs (requests, peer answers, results) handled in one group commit"),
            buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
        commitLatency = registry.makeDurationHistogram(
            descriptor: descriptor("group_commit_duration", "seconds", "Time to make one group durable (the commit and its sync), after its steps were staged"),
            buckets: Self.latencyBuckets)
        let depth = descriptor("queue", "depth", "Work waiting: requests open (with a peer), requests of ours in flight to peers, jobs for the worker pool")
        queueDepth = (
            registry.makeGauge(descriptor: depth, labels: [("queue", "open_requests")]),
            registry.makeGauge(descriptor: depth, labels: [("queue", "peer_requests_in_flight")]),
            registry.makeGauge(descriptor: depth, labels: [("queue", "worker_jobs")])
        )
        retries = registry.makeCounter(descriptor: descriptor("peer_retries", "total", "Requests to peers sent again under the same id (no answer yet)"))
        refusedHandshakes = registry.makeCounter(descriptor: descriptor("refused_handshakes", "total", "CURVE handshakes refused (unknown or unadmitted keys)"))
        replyCache = registry.makeGauge(descriptor: descriptor("reply_cache", "entries", "Answers kept in full for retries (rows of the answers table after the prune watermark)"))
        let bytes = descriptor("sqlite", "bytes", "Size of the actor's SQLite database and its write-ahead log")
        database = registry.makeGauge(descriptor: bytes, labels: [("file", "database")])
        wal = registry.makeGauge(descriptor: bytes, labels: [("file", "wal")])
        memory = registry.makeGauge(descriptor: descriptor("resident_memory", "bytes", "Resident set size of the process"))
    }

    // MARK: Serving thread

    func received(_ frame: [UInt8], from client: [UInt8], at nanoseconds: UInt64) {
        open.received(frame, from: client, at: nanoseconds)
    }

    /// An answer left for a client: counts each request it closes by type and outcome, and its
    /// latency.
    func answered(_ frame: [UInt8], to client: [UInt8], at nanoseconds: UInt64) {
        for request in open.answered(frame, to: client, at: nanoseconds) { count(request) }
    }

    private func count(_ request: OpenRequests.Closed) {
        let outcome = request.outcome
        let counter = requests[request.type]?[outcome] ?? {
            let made = registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "quickpay", metricName: "requests", unitName: "total", helpText: "Requests answered, by type and outcome (OK or the error code)"),
                labels: [("type", request.type), ("outcome", outcome)])
            requests[request.type, default: [:]][outcome] = made
            return made
        }()
        counter.increment()
        let histogram = latencies[request.type] ?? {
            let made = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(namespace: "quickpay", metricName: "request_duration", unitName: "seconds", helpText: "From receipt of a request to its answer leaving, by type"),
                labels: [("type", request.type)], buckets: Self.latencyBuckets)
            latencies[request.type] = made
            return made
        }()
        histogram.recordNanoseconds(Int64(request.nanoseconds))
    }

    func group(inputs: Int) { groupSizes.record(Double(inputs)) }

    func depths(open: Int, inFlight: Int, jobs: Int, retriesSent: Int, refused: Int) {
        queueDepth.open.set(Double(open))
        queueDepth.inFlight.set(Double(inFlight))
        queueDepth.jobs.set(Double(jobs))
        if retriesSent > retriesSeen { retries.increment(by: Int64(retriesSent - retriesSeen)) }
        retriesSeen = max(retriesSeen, retriesSent)
        if refused > refusedSeen { refusedHandshakes.increment(by: Int64(refused - refusedSeen)) }
        refusedSeen = max(refusedSeen, refused)
    }

    // MARK: Metrics thread

    /// The text a scrape gets: file sizes, the reply cache and memory are read now.
    func scrape() -> [UInt8] {
        if let dataDir {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: dataDir)) ?? []
            func size(_ suffix: String) -> Double {
                files.filter { $0.hasSuffix(suffix) }.reduce(0) { total, file in
                    total + Double((try? FileManager.default.attributesOfItem(atPath: "\(dataDir)/\(file)")[.size] as? Int) ?? 0)
                }
            }
            database.set(size(".sqlite"))
            wal.set(size(".sqlite-wal"))
            if let database = files.first(where: { $0.hasSuffix(".sqlite") }), let rows = SQLiteCount.answersKept(in: "\(dataDir)/\(database)") {
                replyCache.set(Double(rows))
            }
        }
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = Double(line.split(separator: " ").dropFirst().first ?? "")
        {
            memory.set(kib * 1024)
        }
        return registry.emitToBuffer()
    }

}

/// A minimal HTTP/1.1 server for `/metrics` on its own thread: one connection at a time, a
/// request line read, an answer written, the connection closed. Enough for Prometheus and curl.
final class MetricsServer: @unchecked Sendable {
    let descriptor: Int32
    public let endpoint: String

    /// Listens on `HOST:PORT` (IPv4; port 0 picks a free one).
    init(listen address: String, metrics: ActorMetrics) throws {
        let parts = address.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = UInt16(parts[1]) else { throw QuickPayError(.malformed, "--metrics is HOST:PORT, such as 127.0.0.1:9101") }
        // The endpoint has no authentication: an empty host is loopback, not every interface.
        let host = parts[0].isEmpty ? "127.0.0.1" : String(parts[0])
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        guard descriptor >= 0 else { throw QuickPayError(.unavailable, "metrics socket: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { throw QuickPayError(.malformed, "--metrics host \(host) is not an IPv4 address") }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(descriptor, 16) == 0 else { throw QuickPayError(.unavailable, "cannot listen for metrics on \(address): errno \(errno)") }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        endpoint = "\(host):\(UInt16(bigEndian: actual.sin_port))"
        let listening = descriptor
        let thread = Thread {
            while true {
                let client = accept(listening, nil, nil)
                guard client >= 0 else {
                    // Out of descriptors, say: wait rather than spin on a core the actor needs.
                    if errno != EINTR { usleep(100_000) }
                    continue
                }
                Self.serve(client, metrics)
                close(client)
            }
        }
        thread.name = "metrics"
        thread.start()
    }

    static func serve(_ client: Int32, _ metrics: ActorMetrics) {
        // A client that does not read cannot hold the metrics thread for more than 2 s.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while request.count < 8192, !request.ends(with: [13, 10, 13, 10]) {
            let count = chunk.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            request += chunk[0..<count]
            if request.count >= 4, request.ends(with: [10, 10]) { break }
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self).split(separator: " ")
        let status: String
        var body: [UInt8]
        var type = "text/plain; charset=utf-8"
        if line.count >= 2, line[0] == "GET", line[1] == "/metrics" || line[1].hasPrefix("/metrics?") {
            status = "200 OK"
            body = metrics.scrape()
            type = "text/plain; version=0.0.4; charset=utf-8"
        } else {
            status = "404 Not Found"
            body = Array("QuickPay serves Prometheus metrics at /metrics\n".utf8)
        }
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        body = Array(head.utf8) + body
        var sent = 0
        while sent < body.count {
            let count = body[sent...].withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            guard count > 0 else { return }
            sent += count
        }
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}

/// Times the commit of each group (after its steps were staged) for the metrics.
final class TimedJournal<Batch>: Journal {
    let inner: any Journal<Batch>
    let histogram: DurationHistogram

    init(_ inner: any Journal<Batch>, histogram: DurationHistogram) {
        self.inner = inner
        self.histogram = histogram
    }

    func inGroup(_ body: () throws -> Void) throws {
        var staged: UInt64 = 0
        try inner.inGroup {
            try body()
            staged = DispatchTime.now().uptimeNanoseconds
        }
        histogram.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds &- staged))
    }

    func stage(_ batch: Batch) throws { try inner.stage(batch) }
    func stageAnswer(_ record: AnswerRecord) throws { try inner.stageAnswer(record) }
    func answer(for key: AnswerKey) throws -> AnswerRecord? { try inner.answer(for: key) }
    func pruneAnswers(before: Timestamp, limit: Int) throws -> Int { try inner.pruneAnswers(before: before, limit: limit) }
}
