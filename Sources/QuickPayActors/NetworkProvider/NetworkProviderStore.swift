import QuickPayCore
import QuickPayProtocol

/// One SMS in the network provider's report: where it went and what a fault did to it.
public struct SmsRecord: Hashable, Sendable {
    public let smsID: Bytes16
    public let phone: PhoneNumber
    public var delivered: Bool
    public var fault: String?
    public init(smsID: Bytes16, phone: PhoneNumber, delivered: Bool, fault: String?) {
        self.smsID = smsID
        self.phone = phone
        self.delivered = delivered
        self.fault = fault
    }
}

/// An SMS waiting for its phone's device, as the provider keeps it: the text sealed to the
/// phone's SIM (`SimCard.seal`), so the database holds no readable code. Only the SIM secret,
/// which lives in the provider's key file and never in its database, opens it.
public struct QueuedSms: Hashable, Sendable {
    public let smsID: Bytes16
    public let phone: PhoneNumber
    public let sealed: [UInt8]
    public init(smsID: Bytes16, phone: PhoneNumber, sealed: [UInt8]) {
        self.smsID = smsID
        self.phone = phone
        self.sealed = sealed
    }
}

/// A SIM provisioned or replaced by the operator: what the report keeps of it (never the secret).
public struct SimEvent: Hashable, Sendable {
    public let phone: PhoneNumber
    /// `provisioned` (a phone's first SIM) or `swapped` (a new SIM; the old one stops working).
    public let kind: String
    public let at: Timestamp
    public init(phone: PhoneNumber, kind: String, at: Timestamp) {
        self.phone = phone
        self.kind = kind
        self.at = at
    }
}

/// What one network-provider step changes, staged in one piece.
public struct NetworkProviderBatch: Sendable {
    /// SMS to keep until a device attaches for their phone.
    public var enqueue: [QueuedSms] = []
    /// SMS handed to a device: out of the queue, marked delivered in the report.
    public var delivered: [Bytes16] = []
    public var records: [SmsRecord] = []
    /// SMS out of the queue without delivery: sealed to a SIM that was replaced.
    public var discarded: [Bytes16] = []
    public var simEvents: [SimEvent] = []
    public init() {}

    public var isEmpty: Bool { enqueue.isEmpty && delivered.isEmpty && records.isEmpty && discarded.isEmpty && simEvents.isEmpty }
}

/// The network provider's storage: the queue of undelivered SMS and the report. (Which device
/// holds which phone is a live connection, so it is not stored: a device attaches again after
/// a restart, and its queued SMS follow.)
public protocol NetworkProviderStore: Journal where Batch == NetworkProviderBatch {
    func queued(for phone: PhoneNumber) throws -> [QueuedSms]
    /// Every SIM provisioned or swapped, oldest first.
    func simEvents() throws -> [SimEvent]
    /// The most recent `limit` records, oldest first.
    func report(limit: Int) throws -> [SmsRecord]
}

public final class MemoryNetworkProviderStore: NetworkProviderStore, MemoryJournal {
    public struct State: MemoryState {
        public var queue: [QueuedSms] = []
        public var records: [SmsRecord] = []
        public var simEvents: [SimEvent] = []
        public var answers = MemoryAnswers()
    }

    public var state = Durable(State())
    public init() {}

    public func queued(for phone: PhoneNumber) throws -> [QueuedSms] { state.working.queue.filter { $0.phone == phone } }
    public func simEvents() throws -> [SimEvent] { state.working.simEvents }
    public func report(limit: Int) throws -> [SmsRecord] { Array(state.working.records.suffix(limit)) }


    public func stage(_ batch: NetworkProviderBatch) throws {
        var next = state.working
        next.queue += batch.enqueue
        let done = Set(batch.delivered)
        let gone = done.union(batch.discarded)
        next.queue.removeAll { gone.contains($0.smsID) }
        next.records += batch.records
        next.simEvents += batch.simEvents
        for index in next.records.indices where done.contains(next.records[index].smsID) { next.records[index].delivered = true }
        state.working = next
    }

}
