import CZeroMQ

/// One libzmq socket.
///
/// A socket is not thread-safe: keep each on the thread that uses it (it is deliberately not
/// `Sendable`). It holds its ``Context`` strongly and closes itself on deinit with the linger
/// set by ``setLinger(milliseconds:)``, so nothing hangs at exit.
public final class Socket {
    /// Receive and send flags.
    public struct Flags: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        /// Fail with EAGAIN instead of blocking.
        public static let dontWait = Flags(rawValue: ZMQ_DONTWAIT)
        /// More frames of the same message follow.
        public static let sendMore = Flags(rawValue: ZMQ_SNDMORE)
    }

    public let context: Context
    public let type: SocketType
    var handle: UnsafeMutableRawPointer?
    /// Kept at a stable heap address for every receive: libzmq requires it.
    private let message: UnsafeMutablePointer<zmq_msg_t>

    init(context: Context, type: SocketType) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.last("zmq_socket")
        }
        self.context = context
        self.type = type
        self.handle = handle
        self.message = .allocate(capacity: 1)
        // A bounded linger by default: an unsent message never holds the process at exit.
        var linger: Int32 = 0
        zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
    }

    deinit {
        close()
        message.deallocate()
    }

    /// Closes the socket now; later calls fail with ENOTSOCK. Idempotent.
    public func close() {
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    func liveHandle(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(errno: ENOTSOCK, operation: operation()) }
        return handle
    }

    // MARK: Endpoints

    /// Binds to an endpoint such as `tcp://127.0.0.1:*`, `ipc:///tmp/x` or `inproc://name`.
    public func bind(_ endpoint: String) throws(ZMQError) {
        let handle = try liveHandle("zmq_bind(\(endpoint))")
        guard zmq_bind(handle, endpoint) == 0 else { throw ZMQError.last("zmq_bind(\(endpoint))") }
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        let handle = try liveHandle("zmq_connect(\(endpoint))")
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("zmq_connect(\(endpoint))") }
    }

    public func unbind(_ endpoint: String) throws(ZMQError) {
        let handle = try liveHandle("zmq_unbind(\(endpoint))")
        guard zmq_unbind(handle, endpoint) == 0 else { throw ZMQError.last("zmq_unbind(\(endpoint))") }
    }

    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let handle = try liveHandle("zmq_disconnect(\(endpoint))")
        guard zmq_disconnect(handle, endpoint) == 0 else {
            throw ZMQError.last("zmq_disconnect(\(endpoint))")
        }
    }

    /// The endpoint of the last bind, with a wildcard port resolved (`tcp://127.0.0.1:41234`).
    public func lastEndpoint() throws(ZMQError) -> String {
        try stringOption(ZMQ_LAST_ENDPOINT, name: "ZMQ_LAST_ENDPOINT")
    }

    // MARK: Sending

    /// Sends one frame. Returns false if `.dontWait` was given and the frame could not be queued.
    @discardableResult
    public func send(_ frame: [UInt8], flags: Flags = []) throws(ZMQError) -> Bool {
        let result = frame.withUnsafeBytes { buffer in
            Result { () throws(ZMQError) -> Bool in try send(buffer, flags: flags) }
        }
        return try result.get()
    }

    /// Sends one frame from raw memory (libzmq copies it before returning).
    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer, flags: Flags = []) throws(ZMQError) -> Bool {
        let handle = try liveHandle("zmq_send")
        while true {
            let rc = zmq_send(handle, frame.baseAddress, frame.count, flags.rawValue)
            if rc >= 0 { return true }
            let error = ZMQError.last("zmq_send")
            if error.isWouldBlock && flags.contains(.dontWait) { return false }
            if error.isInterrupted { continue }
            throw error
        }
    }

    /// Sends a multipart message: every frame but the last carries SNDMORE.
    /// Returns false if `.dontWait` was given and the first frame could not be queued; libzmq
    /// queues the remaining frames of a message atomically once the first is accepted.
    @discardableResult
    public func send(multipart frames: [[UInt8]], flags: Flags = []) throws(ZMQError) -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        for (position, frame) in frames.enumerated() {
            let more: Flags = position < frames.count - 1 ? .sendMore : []
            let sent = try send(frame, flags: flags.union(more))
            if !sent {
                precondition(position == 0, "libzmq refused a frame after accepting the first")
                return false
            }
        }
        return true
    }

    // MARK: Receiving

    /// Receives one frame; nil if `.dontWait` was given (or a receive timeout expired) and none
    /// was waiting. `more` tells whether further frames of the same message follow.
    public func receiveFrame(flags: Flags = []) throws(ZMQError) -> (bytes: [UInt8], more: Bool)? {
        try receiveFrame(flags: flags, userID: nil)
    }

    func receiveFrame(flags: Flags, userID userIDTarget: UnsafeMutablePointer<String?>?) throws(ZMQError) -> (bytes: [UInt8], more: Bool)? {
        let handle = try liveHandle("zmq_msg_recv")
        zmq_msg_init(message)
        defer { zmq_msg_close(message) }
        while zmq_msg_recv(message, handle, flags.rawValue) < 0 {
            let error = ZMQError.last("zmq_msg_recv")
            if error.isWouldBlock { return nil }
            if error.isInterrupted { continue }
            throw error
        }
        if let userIDTarget {
            userIDTarget.pointee = zmq_msg_gets(message, "User-Id").map { String(cString: $0) }
        }
        let size = zmq_msg_size(message)
        let bytes: [UInt8]
        if size == 0 {
            bytes = []
        } else {
            let data = zmq_msg_data(message)!.bindMemory(to: UInt8.self, capacity: size)
            bytes = Array(UnsafeBufferPointer(start: data, count: size))
        }
        return (bytes, zmq_msg_more(message) == 1)
    }

    /// Receives a whole multipart message; nil if none was waiting (with `.dontWait` or after
    /// a receive timeout). `maximumFrames` bounds what one peer can make us hold: the rest of an
    /// over-long message is read and dropped, and the call throws EMSGSIZE.
    public func receive(flags: Flags = [], maximumFrames: Int = 64) throws(ZMQError) -> [[UInt8]]? {
        try receiveAuthenticated(flags: flags, maximumFrames: maximumFrames)?.frames
    }

    /// Like ``receive(flags:maximumFrames:)``, with the message's `User-Id` property: what the
    /// ZAP handler named the authenticated peer (``ZAPHandler`` gives the client's CURVE public
    /// key in Z85); nil on a connection no ZAP handler saw.
    public func receiveAuthenticated(flags: Flags = [], maximumFrames: Int = 64) throws(ZMQError) -> (frames: [[UInt8]], userID: String?)? {
        var userID: String?
        guard let first = try receiveFrame(flags: flags, userID: &userID) else { return nil }
        var frames = [first.bytes]
        var more = first.more
        var overflow = false
        while more {
            // The remaining frames of a message are already here: receive them without waiting.
            // (A ROUTER makes the routing-id frame itself: only the frames off the wire carry
            // the connection's properties.)
            var frameUserID: String?
            guard let next = try receiveFrame(flags: [], userID: &frameUserID) else { break }
            if userID == nil { userID = frameUserID }
            if frames.count < maximumFrames { frames.append(next.bytes) } else { overflow = true }
            more = next.more
        }
        if overflow { throw ZMQError(errno: EMSGSIZE, operation: "receive(maximumFrames: \(maximumFrames))") }
        return (frames, userID)
    }
}
