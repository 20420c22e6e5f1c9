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

/// What one network-provider step changes, committed at once.
public struct NetworkProviderBatch: Sendable {
    /// SMS to keep until a device attaches for their phone.
    public var enqueue: [SmsDelivery] = []
    /// SMS handed to a device: out of the queue, marked delivered in the report.
    public var delivered: [Bytes16] = []
    public var records: [SmsRecord] = []
    public init() {}
}

/// The network provider's storage: the queue of undelivered SMS and the report. (Which device
/// holds which phone is a live connection, so it is not stored: a device attaches again after
/// a restart, and its queued SMS follow.)
public protocol NetworkProviderStore: AnyObject {
    func queued(for phone: PhoneNumber) throws -> [SmsDelivery]
    func commit(_ batch: NetworkProviderBatch) throws
    /// The most recent `limit` records, oldest first.
    func report(limit: Int) throws -> [SmsRecord]
}

public final class MemoryNetworkProviderStore: NetworkProviderStore {
    var queue: [SmsDelivery] = []
    var records: [SmsRecord] = []
    public init() {}

    public func queued(for phone: PhoneNumber) throws -> [SmsDelivery] { queue.filter { $0.phone == phone } }
    public func commit(_ batch: NetworkProviderBatch) throws {
        queue += batch.enqueue
        let done = Set(batch.delivered)
        queue.removeAll { done.contains($0.smsID) }
        records += batch.records
        for index in records.indices where done.contains(records[index].smsID) { records[index].delivered = true }
    }
    public func report(limit: Int) throws -> [SmsRecord] { Array(records.suffix(limit)) }
}
