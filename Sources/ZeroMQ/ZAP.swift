/// A ZAP handler (ZeroMQ RFC 27): the authentication callback of a context's CURVE servers.
///
/// Without one, a CURVE server accepts any client key pair. Bind one per context, register
/// ``socket`` in the poll loop that owns it, and call ``answerPending(_:)`` when it is readable;
/// the decision sees the client's public key and the server's ZAP domain.
public final class ZAPHandler {
    /// One authentication request from libzmq.
    public struct Request: Sendable {
        public let domain: String
        public let address: String
        public let mechanism: String
        /// The client's CURVE public key (nil for other mechanisms).
        public let clientKey: CurveKey?
    }

    public static let endpoint = "inproc://zeromq.zap.01"
    public let socket: Socket

    public init(context: Context) throws(ZMQError) {
        socket = try context.socket(.reply)
        try socket.bind(ZAPHandler.endpoint)
    }

    /// Answers every waiting request with `decide`'s verdict; returns the requests and verdicts.
    @discardableResult
    public func answerPending(_ decide: (Request) -> Bool) throws(ZMQError) -> [(Request, Bool)] {
        var answered: [(Request, Bool)] = []
        while let frames = try socket.receive(flags: .dontWait, maximumFrames: 8) {
            // version, request id, domain, address, identity, mechanism, credentials...
            guard frames.count >= 6 else {
                try socket.send(multipart: [Array("1.0".utf8), [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []])
                continue
            }
            let text = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self) }
            let mechanism = text(frames[5])
            let request = Request(
                domain: text(frames[2]), address: text(frames[3]), mechanism: mechanism,
                clientKey: mechanism == "CURVE" && frames.count >= 7 ? CurveKey(bytes: frames[6]) : nil)
            let allowed = decide(request)
            try socket.send(multipart: [
                Array("1.0".utf8), frames[1], Array((allowed ? "200" : "400").utf8),
                Array((allowed ? "OK" : "client key not allowed").utf8), allowed ? Array((request.clientKey?.z85 ?? "").utf8) : [], [],
            ])
            answered.append((request, allowed))
        }
        return answered
    }
}
