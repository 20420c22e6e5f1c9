import Foundation
import Logging
import QuickPayCore
import ZeroMQ

/// How a process's client sockets connect: CURVE to servers whose public keys it was given
/// (by endpoint), or plaintext when the deployment is `--insecure`.
public struct ClientSecurity: Sendable {
    /// No encryption, no authentication: only with an explicit `--insecure`.
    public static let plaintext = ClientSecurity(plaintext: true, ownKeys: nil, serverKeys: [:])

    public let isPlaintext: Bool
    /// This process's long-term key pair; nil: a fresh pair for every connection (customers,
    /// so that merchants learn nothing about who pays).
    public let ownKeys: CurveKeyPair?
    /// The server key to expect at each endpoint.
    public var serverKeys: [String: CurveKey]

    init(plaintext: Bool, ownKeys: CurveKeyPair?, serverKeys: [String: CurveKey]) {
        isPlaintext = plaintext
        self.ownKeys = ownKeys
        self.serverKeys = serverKeys
    }

    public static func curve(ownKeys: CurveKeyPair?, serverKeys: [String: CurveKey]) -> ClientSecurity {
        ClientSecurity(plaintext: false, ownKeys: ownKeys, serverKeys: serverKeys)
    }

    /// Sets a client socket up for `endpoint` (before connect).
    public func secure(_ socket: Socket, for endpoint: String) throws {
        guard !isPlaintext else { return }
        guard let serverKey = serverKeys[endpoint] else {
            throw KeyDirectory.Missing(description: "no CURVE server key configured for \(endpoint) (or run the whole deployment with --insecure)")
        }
        try socket.makeCurveClient(try ownKeys ?? CurveKeyPair.generate(), serverKey: serverKey)
    }
}

/// How a process's server sockets accept connections: its CURVE key pair, and who may connect.
public struct ServerSecurity {
    public let keys: CurveKeyPair
    /// The only key the control socket admits.
    public let operatorKey: CurveKey
    /// Which client keys the public socket admits (true for all: merchants, app server).
    public let admit: (CurveKey) -> Bool

    public init(keys: CurveKeyPair, operatorKey: CurveKey, admit: @escaping (CurveKey) -> Bool) {
        self.keys = keys
        self.operatorKey = operatorKey
        self.admit = admit
    }

    public static let publicDomain = "public"
    public static let controlDomain = "control"
}

/// The CURVE gate of one ZeroMQ context: a ZAP handler deciding by the socket's domain, and a
/// monitor on each server socket so that handshakes that fail before ZAP (a plaintext client,
/// a client holding the wrong server key) are logged too. Register `sockets` in the poll loop
/// and call `service(_:)` for the readable ones.
public final class CurveGate {
    let security: ServerSecurity
    let zap: ZAPHandler
    var monitors: [SocketMonitor] = []
    var logger: Logger
    /// Handshakes refused, for the control `health` answer.
    public private(set) var refused = 0

    public init(context: Context, security: ServerSecurity, logger: Logger) throws {
        self.security = security
        self.logger = logger
        zap = try ZAPHandler(context: context)
    }

    /// Makes `socket` a CURVE server in `domain` and watches its handshakes. Before bind.
    public func serve(_ socket: Socket, domain: String) throws {
        try socket.makeCurveServer(security.keys)
        try socket.setZAPDomain(domain)
        let monitor = try SocketMonitor(
            socket, endpoint: "inproc://quickpay-monitor-\(domain)-\(monitors.count)",
            events: MonitorEvent.Kind.handshakeFailures)
        monitors.append(monitor)
    }

    public var sockets: [Socket] { [zap.socket] + monitors.map(\.socket) }

    /// Answers waiting authentication requests and logs failed handshakes.
    public func service() throws {
        let decisions = try zap.answerPending { [security] request in
            guard request.mechanism == "CURVE", let key = request.clientKey else { return false }
            return request.domain == ServerSecurity.controlDomain ? key == security.operatorKey : security.admit(key)
        }
        for (request, allowed) in decisions where !allowed {
            refused += 1
            logger.warning(
                "refused a connection: client key not allowed",
                metadata: ["domain": "\(request.domain)", "address": "\(request.address)", "client_key": "\(request.clientKey?.z85 ?? "-")"])
        }
        for monitor in monitors {
            for event in try monitor.drain() where event.kind != .handshakeFailedAuth {
                refused += 1
                logger.warning("refused a connection: \(event.name)", metadata: ["endpoint": "\(event.endpoint)", "detail": "\(event.detail)"])
            }
        }
    }
}

extension Bytes32 {
    /// A CURVE public key as the actors see it.
    public init(_ key: CurveKey) { self = Bytes32(key.bytes)! }
}

/// What a CurveZMQ MESSAGE adds to a frame on the wire: the command name (8 bytes), the nonce
/// (8), the box's MAC (16) and the flags byte (1). libzmq's ZMQ_MAXMSGSIZE counts the wire
/// message, so a CURVE socket allows this much more for the same largest frame.
public let curveMessageOverheadBytes = 33

/// The ZMQ_MAXMSGSIZE that lets every frame of up to `frameBytes` through, plaintext or CURVE:
/// one limit on both transports (the codec refuses anything above `frameBytes` itself).
public func transportMessageLimit(frameBytes: Int, curve: Bool) -> Int64 {
    Int64(frameBytes + (curve ? curveMessageOverheadBytes : 0))
}
