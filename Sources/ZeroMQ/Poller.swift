import CZeroMQ

/// Waits on several sockets at once (`zmq_poll`).
///
/// Register sockets once, then call ``poll(timeoutMilliseconds:)`` in the loop; it answers, by
/// registration order, which sockets are ready. The poller holds its sockets strongly.
public struct Poller {
    /// What a socket is ready for.
    public struct Events: OptionSet, Sendable {
        public let rawValue: Int16
        public init(rawValue: Int16) { self.rawValue = rawValue }
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
    }

    private var sockets: [Socket] = []
    private var items: [zmq_pollitem_t] = []

    public init() {}

    /// Registers a socket; returns its position in the answer of ``poll(timeoutMilliseconds:)``.
    @discardableResult
    public mutating func register(_ socket: Socket, for events: Events = .readable) -> Int {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0))
        return sockets.count - 1
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: not at all) for any registered socket
    /// to become ready. Returns the ready events by registration position; all empty on timeout.
    /// A signal ends the wait early with an empty answer, so a loop can check its stop flag.
    public mutating func poll(timeoutMilliseconds: Int) throws(ZMQError) -> [Events] {
        for index in items.indices { items[index].revents = 0 }
        let count = Int32(items.count)
        let rc = items.withUnsafeMutableBufferPointer { buffer in
            zmq_poll(buffer.baseAddress, count, timeoutMilliseconds)
        }
        if rc < 0 {
            let error = ZMQError.last("zmq_poll")
            if error.isInterrupted { return Array(repeating: [], count: items.count) }
            throw error
        }
        return items.map { Events(rawValue: $0.revents) }
    }
}
