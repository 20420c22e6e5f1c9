import QuickPayProtocol

/// The requests an actor has received and not yet answered, for its request metrics: each one's
/// type and when it came, by client and request id. Pure: the serving thread feeds it frames
/// and counts what it gives back.
///
/// A `batch` is one request and its items are others. The batch is open until its batch reply
/// leaves, or until the last of its items has been answered alone: an answer that comes after a
/// peer's leaves alone, and a batch reply of one answer is that answer. A batch refused whole
/// (an error under its own id) closes its items too: none of them will be answered.
///
/// Requests never answered (a flood, a fault) must not grow it for ever: past `limit`, those
/// open over a minute (the host's own limit for open requests) are dropped, at most once a
/// second (a sweep that frees nothing must not run on every frame); if that is not enough, the
/// oldest go until `limit` are left (their answers will not count).
struct OpenRequests {
    struct Key: Hashable {
        let client: [UInt8]
        let high: UInt64
        let low: UInt64
    }
    struct Entry {
        let type: String
        let since: UInt64
        /// The batch it came in, if any.
        let batch: Key?
    }
    /// A request closed by an answer: its type, the answer's outcome (OK or the error code),
    /// and how long it was open.
    struct Closed: Equatable {
        let type: String
        let outcome: String
        let nanoseconds: UInt64
    }

    private(set) var open: [Key: Entry] = [:]
    /// For each open batch, its items still open (at most a batch's 256).
    private(set) var itemsOpen: [Key: Set<Key>] = [:]
    private var lastSweep: UInt64 = 0
    let limit: Int
    static let maximumAgeNanoseconds: UInt64 = 60_000_000_000

    init(limit: Int = 200_000) { self.limit = limit }

    var count: Int { open.count }

    mutating func received(_ frame: [UInt8], from client: [UInt8], at nanoseconds: UInt64) {
        let summary = FrameSummary(frame)
        // A frame whose request id cannot be read is answered under 16 zero bytes (the key 0, 0).
        let key = Key(client: client, high: summary.requestIDHigh, low: summary.requestIDLow)
        guard open[key] == nil else { return }
        open[key] = Entry(type: summary.type, since: nanoseconds, batch: nil)
        if summary.type == "batch" {
            var items: Set<Key> = []
            for item in FrameSummary.batchItems(frame) {
                let inner = FrameSummary(Array(item))
                let itemKey = Key(client: client, high: inner.requestIDHigh, low: inner.requestIDLow)
                guard itemKey != key, open[itemKey] == nil else { continue }
                open[itemKey] = Entry(type: inner.type, since: nanoseconds, batch: key)
                items.insert(itemKey)
            }
            if !items.isEmpty { itemsOpen[key] = items }
        }
        if open.count > limit, nanoseconds &- lastSweep >= 1_000_000_000 { sweep(at: nanoseconds) }
    }

    /// An answer left for `client`: the requests it closes (a batch reply closes its items, and
    /// the batch).
    mutating func answered(_ frame: [UInt8], to client: [UInt8], at nanoseconds: UInt64) -> [Closed] {
        let summary = FrameSummary(frame)
        var closed: [Closed] = []
        if summary.type == "batch_reply" {
            for item in FrameSummary.batchItems(frame) {
                let inner = FrameSummary(Array(item))
                close(Key(client: client, high: inner.requestIDHigh, low: inner.requestIDLow), inner.code ?? "OK", at: nanoseconds, into: &closed)
            }
        }
        let key = Key(client: client, high: summary.requestIDHigh, low: summary.requestIDLow)
        close(key, summary.code ?? "OK", at: nanoseconds, into: &closed)
        // Items a batch reply did not carry are answered alone later; a batch answered whole by
        // an error had none of its items handled: they will not be answered.
        if let items = itemsOpen.removeValue(forKey: key), summary.code != nil {
            for item in items { open.removeValue(forKey: item) }
        }
        return closed
    }

    private mutating func close(_ key: Key, _ outcome: String, at nanoseconds: UInt64, into closed: inout [Closed]) {
        guard let entry = open.removeValue(forKey: key) else { return }  // a push, not an answer
        closed.append(Closed(type: entry.type, outcome: outcome, nanoseconds: nanoseconds &- entry.since))
        guard let batch = entry.batch, itemsOpen[batch]?.remove(key) != nil, itemsOpen[batch]?.isEmpty == true else { return }
        itemsOpen.removeValue(forKey: batch)
        // Its last item answered: the batch is done, whether or not a batch reply went.
        if let whole = open.removeValue(forKey: batch) {
            closed.append(Closed(type: whole.type, outcome: "OK", nanoseconds: nanoseconds &- whole.since))
        }
    }

    private mutating func sweep(at nanoseconds: UInt64) {
        lastSweep = nanoseconds
        open = open.filter { nanoseconds &- $0.value.since < Self.maximumAgeNanoseconds }
        if open.count > limit {
            let oldest = open.sorted { $0.value.since < $1.value.since }.prefix(open.count - limit)
            for (key, _) in oldest { open.removeValue(forKey: key) }
        }
        itemsOpen = itemsOpen.filter { open[$0.key] != nil }
    }
}
