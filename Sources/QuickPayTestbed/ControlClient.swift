import Foundation
import QuickPayConfig
import ZeroMQ

/// Talks to an actor's control socket (REQ): one JSON request, one JSON answer, within a
/// timeout. A timed-out REQ socket cannot be reused, so it is replaced.
public final class ControlClient {
    let context: Context
    public let endpoint: String
    var socket: Socket
    /// How long a call waits for its answer (applied to the socket at once).
    public var timeoutMilliseconds: Int32 {
        didSet { try? socket.setReceiveTimeout(milliseconds: timeoutMilliseconds) }
    }

    /// The operator's CURVE key and the actor's server key (or plaintext).
    let security: ClientSecurity

    public init(context: Context, endpoint: String, security: ClientSecurity, timeoutMilliseconds: Int32 = 15_000) throws {
        self.context = context
        self.endpoint = endpoint
        self.security = security
        self.timeoutMilliseconds = timeoutMilliseconds
        socket = try Self.connect(context, endpoint, timeoutMilliseconds, security)
    }

    static func connect(_ context: Context, _ endpoint: String, _ timeout: Int32, _ security: ClientSecurity) throws -> Socket {
        let socket = try context.socket(.request)
        try socket.setReceiveTimeout(milliseconds: timeout)
        try security.secure(socket, for: endpoint)
        try socket.connect(endpoint)
        return socket
    }

    /// Sends `request`; nil if no answer came in time.
    public func call(_ request: JSONObject) throws -> JSONObject? {
        try socket.send(ControlJSON.encode(request))
        guard let frames = try socket.receive() else {
            try resetSocket()
            return nil
        }
        return ControlJSON.decode(frames[0])
    }

    /// Sends `request` and waits for its answer, calling `meanwhile` every 100 ms (a supervisor
    /// restarting a crashed actor, say). nil if no answer came within the timeout.
    ///
    /// `meanwhile` returns true when it restarted the actor this client talks to. A request that
    /// had reached the process before it died died with it, and a REQ socket never sends again
    /// by itself: a request that only reads (`resendsAfterRestart`) then goes again, on a fresh
    /// socket, with a fresh timeout. Any other is left to time out (it may have taken effect).
    public func call(_ request: JSONObject, resendsAfterRestart: Bool = false, meanwhile: () throws -> Bool) throws -> JSONObject? {
        try socket.send(ControlJSON.encode(request))
        var deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
        while monotonicMilliseconds() < deadline {
            var poller = Poller()
            poller.register(socket)
            if try poller.poll(timeoutMilliseconds: 100)[0].contains(.readable), let frames = try socket.receive(flags: .dontWait) {
                return ControlJSON.decode(frames[0])
            }
            do {
                if try meanwhile(), resendsAfterRestart {
                    try resetSocket()
                    try socket.send(ControlJSON.encode(request))
                    deadline = monotonicMilliseconds() + Int64(timeoutMilliseconds)
                }
            } catch {
                // The REQ socket still waits for its answer: replace it before giving up.
                try resetSocket()
                throw error
            }
        }
        try resetSocket()
        return nil
    }

    /// A REQ socket that sent and got no answer cannot send again: a fresh one takes its place.
    func resetSocket() throws {
        socket.close()
        socket = try Self.connect(context, endpoint, timeoutMilliseconds, security)
    }

    /// Sends `request` and returns the answer, or throws if there was none or it was refused.
    @discardableResult
    public func must(_ request: JSONObject) throws -> JSONObject {
        guard let answer = try call(request) else { throw ControlFailure(endpoint: endpoint, answer: ["message": "no answer"]) }
        guard answer["ok"] as? Bool == true else { throw ControlFailure(endpoint: endpoint, answer: answer) }
        return answer
    }
}

public struct ControlFailure: Error, CustomStringConvertible {
    public let endpoint: String
    public let code: String
    public let message: String

    public init(endpoint: String, answer: JSONObject) {
        self.endpoint = endpoint
        code = answer["code"] as? String ?? "NONE"
        message = answer["message"] as? String ?? ""
    }

    public var description: String { "\(endpoint) refused: \(code) \(message)" }
}
