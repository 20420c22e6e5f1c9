import CZeroMQ

/// Typed setters for the socket options QuickPay needs. Names carry their units.
extension Socket {
    func setIntOption(_ option: Int32, _ value: Int32, name: String) throws(ZMQError) {
        let handle = try liveHandle("zmq_setsockopt(\(name))")
        var value = value
        guard zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt(\(name))")
        }
    }

    func intOption(_ option: Int32, name: String) throws(ZMQError) -> Int32 {
        let handle = try liveHandle("zmq_getsockopt(\(name))")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard zmq_getsockopt(handle, option, &value, &size) == 0 else {
            throw ZMQError.last("zmq_getsockopt(\(name))")
        }
        return value
    }

    func setBytesOption(_ option: Int32, _ bytes: [UInt8], name: String) throws(ZMQError) {
        let handle = try liveHandle("zmq_setsockopt(\(name))")
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw ZMQError.last("zmq_setsockopt(\(name))") }
    }

    func stringOption(_ option: Int32, name: String) throws(ZMQError) -> String {
        let handle = try liveHandle("zmq_getsockopt(\(name))")
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(handle, option, &buffer, &size) == 0 else {
            throw ZMQError.last("zmq_getsockopt(\(name))")
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// How long unsent messages may hold `close` (0: drop them at once; -1: forever, avoid).
    public func setLinger(milliseconds: Int32) throws(ZMQError) {
        try setIntOption(ZMQ_LINGER, milliseconds, name: "ZMQ_LINGER")
    }

    /// Messages queued per peer before sends block or drop (a limit on everything).
    public func setSendHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setIntOption(ZMQ_SNDHWM, messages, name: "ZMQ_SNDHWM")
    }

    public func setReceiveHighWaterMark(_ messages: Int32) throws(ZMQError) {
        try setIntOption(ZMQ_RCVHWM, messages, name: "ZMQ_RCVHWM")
    }

    /// A blocking receive gives up after this long (-1: wait forever).
    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) {
        try setIntOption(ZMQ_RCVTIMEO, milliseconds, name: "ZMQ_RCVTIMEO")
    }

    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) {
        try setIntOption(ZMQ_SNDTIMEO, milliseconds, name: "ZMQ_SNDTIMEO")
    }

    /// Peers sending a larger message are disconnected by libzmq before it reaches us.
    public func setMaximumMessageSize(bytes: Int64) throws(ZMQError) {
        let handle = try liveHandle("zmq_setsockopt(ZMQ_MAXMSGSIZE)")
        var value = bytes
        guard zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size) == 0 else {
            throw ZMQError.last("zmq_setsockopt(ZMQ_MAXMSGSIZE)")
        }
    }

    /// ZMTP heartbeats: a PING every `interval`, the peer told to drop us after `timeToLive`,
    /// and the connection dropped if no traffic arrives within `timeout`.
    public func setHeartbeat(
        intervalMilliseconds: Int32, timeoutMilliseconds: Int32, timeToLiveMilliseconds: Int32
    ) throws(ZMQError) {
        try setIntOption(ZMQ_HEARTBEAT_IVL, intervalMilliseconds, name: "ZMQ_HEARTBEAT_IVL")
        try setIntOption(ZMQ_HEARTBEAT_TIMEOUT, timeoutMilliseconds, name: "ZMQ_HEARTBEAT_TIMEOUT")
        try setIntOption(ZMQ_HEARTBEAT_TTL, timeToLiveMilliseconds, name: "ZMQ_HEARTBEAT_TTL")
    }

    /// The identity a ROUTER peer sees for this socket (1 to 255 bytes, not starting with 0).
    public func setRoutingID(_ id: [UInt8]) throws(ZMQError) {
        try setBytesOption(ZMQ_ROUTING_ID, id, name: "ZMQ_ROUTING_ID")
    }

    /// ROUTER: fail with EHOSTUNREACH instead of silently dropping a message to an unknown peer.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try setIntOption(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, name: "ZMQ_ROUTER_MANDATORY")
    }

    /// Queue messages only to completed connections.
    public func setImmediate(_ on: Bool) throws(ZMQError) {
        try setIntOption(ZMQ_IMMEDIATE, on ? 1 : 0, name: "ZMQ_IMMEDIATE")
    }

    /// How long a connection may take to complete its ZMTP (and CURVE) handshake.
    public func setHandshakeInterval(milliseconds: Int32) throws(ZMQError) {
        try setIntOption(ZMQ_HANDSHAKE_IVL, milliseconds, name: "ZMQ_HANDSHAKE_IVL")
    }

    /// The ZAP domain a server passes to its authentication handler.
    public func setZAPDomain(_ domain: String) throws(ZMQError) {
        try setBytesOption(ZMQ_ZAP_DOMAIN, Array(domain.utf8), name: "ZMQ_ZAP_DOMAIN")
    }

    /// SUB: receive messages whose first frame starts with `prefix` (empty: everything).
    public func subscribe(_ prefix: [UInt8] = []) throws(ZMQError) {
        try setBytesOption(ZMQ_SUBSCRIBE, prefix, name: "ZMQ_SUBSCRIBE")
    }

    /// Whether more frames of the message being received follow.
    public var hasMoreFrames: Bool {
        get throws(ZMQError) { try intOption(ZMQ_RCVMORE, name: "ZMQ_RCVMORE") == 1 }
    }
}
