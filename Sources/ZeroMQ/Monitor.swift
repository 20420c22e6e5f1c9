import CZeroMQ

/// A socket's connection events, read from libzmq's monitor (`zmq_socket_monitor`): the way to
/// see handshakes that failed before any message arrived (a plaintext client at a CURVE
/// server, a client that has the wrong server key, a key the ZAP handler refused).
public struct MonitorEvent: Sendable, CustomStringConvertible {
    public struct Kind: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let accepted = Kind(rawValue: ZMQ_EVENT_ACCEPTED)
        public static let disconnected = Kind(rawValue: ZMQ_EVENT_DISCONNECTED)
        public static let handshakeSucceeded = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        public static let handshakeFailedNoDetail = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        /// The peer broke the protocol: a mechanism mismatch, or a box that did not open.
        public static let handshakeFailedProtocol = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        /// The ZAP handler refused the peer.
        public static let handshakeFailedAuth = Kind(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        public static let handshakeFailures: Kind = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]
    }

    public let kind: Kind
    /// The event's value: for a protocol failure the `ZMQ_PROTOCOL_ERROR_*` code, for an
    /// authentication failure the ZAP status code.
    public let value: UInt32
    /// The local endpoint the event happened on.
    public let endpoint: String

    public var name: String {
        switch kind {
        case .accepted: "accepted"
        case .disconnected: "disconnected"
        case .handshakeSucceeded: "handshake succeeded"
        case .handshakeFailedNoDetail: "handshake failed"  // libzmq gives no reason: the peer broke off
        case .handshakeFailedProtocol: "handshake failed: protocol error"
        case .handshakeFailedAuth: "handshake failed: authentication refused"
        default: "event \(kind.rawValue)"
        }
    }

    /// What a protocol error code means, for the log.
    public var detail: String {
        guard kind == .handshakeFailedProtocol else { return kind == .handshakeFailedAuth ? "ZAP status \(value)" : "" }
        switch Int32(bitPattern: value) {
        case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: return "mechanism mismatch (a plaintext peer at a CURVE socket, or the reverse)"
        case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: return "cryptographic error (the peer does not have this server's key)"
        case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE: return "key exchange failed"
        default: return "protocol error 0x\(String(value, radix: 16))"
        }
    }

    public var description: String { detail.isEmpty ? "\(name) on \(endpoint)" : "\(name) on \(endpoint): \(detail)" }
}

/// Reads one socket's monitor events through an inproc PAIR socket. Register ``socket`` in a
/// poll loop and call ``drain()`` when it is readable.
public final class SocketMonitor {
    public let socket: Socket

    /// Starts monitoring `target` for `events` at the given unique inproc endpoint.
    public init(_ target: Socket, endpoint: String, events: MonitorEvent.Kind) throws(ZMQError) {
        let handle = try target.liveHandle("zmq_socket_monitor")
        guard zmq_socket_monitor(handle, endpoint, events.rawValue) == 0 else { throw ZMQError.last("zmq_socket_monitor(\(endpoint))") }
        socket = try target.context.socket(.pair)
        try socket.connect(endpoint)
    }

    /// The events waiting now.
    public func drain() throws(ZMQError) -> [MonitorEvent] {
        var events: [MonitorEvent] = []
        while let frames = try socket.receive(flags: .dontWait, maximumFrames: 2) {
            guard frames.count == 2, frames[0].count >= 6 else { continue }
            let head = frames[0]
            let kind = Int32(head[0]) | Int32(head[1]) << 8
            let value = UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
            events.append(MonitorEvent(kind: MonitorEvent.Kind(rawValue: kind), value: value, endpoint: String(decoding: frames[1], as: UTF8.self)))
        }
        return events
    }
}
