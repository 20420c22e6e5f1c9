import CZeroMQ

/// A CurveZMQ key (32 bytes), shown in Z85 (40 printable characters) as libzmq expects it.
public struct CurveKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32 raw key bytes.
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Decodes a 40-character Z85 key; nil for anything else.
    public init?(z85: String) {
        let text = Array(z85.utf8)
        guard text.count == 40 else { return nil }
        var decoded = [UInt8](repeating: 0, count: 32)
        let ok = (text + [0]).withUnsafeBufferPointer { source in
            source.withMemoryRebound(to: CChar.self) { chars in
                zmq_z85_decode(&decoded, chars.baseAddress) != nil
            }
        }
        guard ok else { return nil }
        self.bytes = decoded
    }

    /// The Z85 text of the key.
    public var z85: String {
        var text = [CChar](repeating: 0, count: 41)
        _ = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, 32) }
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { z85 }
}

/// A CurveZMQ key pair. The secret half never appears in `description`.
public struct CurveKeyPair: Sendable, CustomStringConvertible {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    /// A fresh key pair from libzmq's CSPRNG (libsodium or tweetnacl underneath).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZMQError.last("zmq_curve_keypair")
        }
        func key(_ text: [CChar]) -> CurveKey {
            CurveKey(z85: String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))!
        }
        return CurveKeyPair(publicKey: key(publicText), secretKey: key(secretText))
    }

    /// Rebuilds the pair from its secret half (the public half is derived).
    public init(secretKey: CurveKey) throws(ZMQError) {
        var publicText = [CChar](repeating: 0, count: 41)
        let secretText = secretKey.z85
        guard zmq_curve_public(&publicText, secretText) == 0 else {
            throw ZMQError.last("zmq_curve_public")
        }
        self.publicKey = CurveKey(
            z85: String(decoding: publicText.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))!
        self.secretKey = secretKey
    }

    init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    public var description: String { "CurveKeyPair(public: \(publicKey.z85))" }
}

extension Socket {
    /// Makes this socket a CURVE server with the given long-term key pair. Set before bind.
    public func makeCurveServer(_ keys: CurveKeyPair) throws(ZMQError) {
        try setIntOption(ZMQ_CURVE_SERVER, 1, name: "ZMQ_CURVE_SERVER")
        try setBytesOption(ZMQ_CURVE_SECRETKEY, keys.secretKey.bytes, name: "ZMQ_CURVE_SECRETKEY")
    }

    /// Makes this socket a CURVE client of the server with `serverKey`. Set before connect.
    public func makeCurveClient(_ keys: CurveKeyPair, serverKey: CurveKey) throws(ZMQError) {
        try setBytesOption(ZMQ_CURVE_SERVERKEY, serverKey.bytes, name: "ZMQ_CURVE_SERVERKEY")
        try setBytesOption(ZMQ_CURVE_PUBLICKEY, keys.publicKey.bytes, name: "ZMQ_CURVE_PUBLICKEY")
        try setBytesOption(ZMQ_CURVE_SECRETKEY, keys.secretKey.bytes, name: "ZMQ_CURVE_SECRETKEY")
    }
}
