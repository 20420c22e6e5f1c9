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

/// What one network-provider step changes, staged in one piece.
public struct NetworkProviderBatch: Sendable {
    /// SMS to keep until a device attaches for their phone.
    public var enqueue: [SmsDelivery] = []
    /// SMS handed to a device: out of the queue, marked delivered in the report.
    public var delivered: [Bytes16] = []
    public var records: [SmsRecord] = []
    public init() {}

    public var isEmpty: Bool { enqueue.isEmpty && delivered.isEmpty && records.isEmpty }
}

/// The network provider's storage: the queue of undelivered SMS and the report. (Which device
/// holds which phone is a live connection, so it is not stored: a device attaches again after
/// a restart, and its queued SMS follow.)
public protocol NetworkProviderStore: Journal where Batch == NetworkProviderBatch {
    func queued(for phone: PhoneNumber) throws -> [SmsDelivery]
    /// The most recent `limit` records, oldest first.
    func report(limit: Int) throws -> [SmsRecord]
}

public final class MemoryNetworkProviderStore: NetworkProviderStore, MemoryJournal {
    public struct State: MemoryState {
        public var queue: [SmsDelivery] = []
        public var records: [SmsRecord] = []
        public var answers = MemoryAnswers()
    }

    public var state = Durable(State())
    public init() {}

    public func queued(for phone: PhoneNumber) throws -> [SmsDelivery] { state.working.queue.filter { $0.phone == phone } }
    public func report(limit: Int) throws -> [SmsRecord] { Array(state.working.records.suffix(limit)) }


    public func stage(_ batch: NetworkProviderBatch) throws {
        var next = state.working
        next.queue += batch.enqueue
        let done = Set(batch.delivered)
        next.queue.removeAll { done.contains($0.smsID) }
        next.records += batch.records
        for index in next.records.indices where done.contains(next.records[index].smsID) { next.records[index].delivered = true }
        state.working = next
    }

}
