import CZeroMQ

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed libzmq call: the errno it left and libzmq's text for it.
public struct ZMQError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The errno value libzmq reported (`zmq_errno()`).
    public let errno: Int32
    /// `zmq_strerror(errno)`, so a log line says what went wrong without a lookup.
    public let text: String
    /// The binding call that failed, such as `"zmq_bind(tcp://127.0.0.1:*)"`.
    public let operation: String

    public init(errno: Int32, operation: String) {
        self.errno = errno
        self.text = String(cString: zmq_strerror(errno))
        self.operation = operation
    }

    /// The error libzmq left for the calling thread.
    static func last(_ operation: String) -> ZMQError {
        ZMQError(errno: zmq_errno(), operation: operation)
    }

    /// A non-blocking call had nothing to do, or a receive or send timeout expired.
    public var isWouldBlock: Bool { errno == EAGAIN }
    /// A signal interrupted a blocking call; the caller decides whether to retry or stop.
    public var isInterrupted: Bool { errno == EINTR }
    /// The context was terminated while the call was blocked.
    public var isTerminated: Bool { errno == ETERM }

    public var description: String { "\(operation): \(text) (errno \(errno))" }
}
