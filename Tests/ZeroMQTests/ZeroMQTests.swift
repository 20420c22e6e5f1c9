import Testing
@testable import ZeroMQ

/// Real libzmq sockets: inproc and TCP loopback only.
@Suite struct ZeroMQTests {
    let context: Context

    init() throws { context = try Context() }

    func boundTCP(_ type: SocketType) throws -> (Socket, String) {
        let socket = try context.socket(type)
        try socket.bind("tcp://127.0.0.1:*")
        return (socket, try socket.lastEndpoint())
    }

    @Test func libzmqHasCurve() {
        #expect(Context.version.major == 4)
        #expect(Context.has("curve"))
    }

    @Test func inprocRequestReplyRoundTrip() throws {
        let server = try context.socket(.reply)
        try server.bind("inproc://round-trip")
        let client = try context.socket(.request)
        try client.connect("inproc://round-trip")
        try client.setReceiveTimeout(milliseconds: 2000)
        try server.setReceiveTimeout(milliseconds: 2000)
        for round in 0..<10 {
            try client.send([UInt8(round), 1, 2, 3])
            let request = try #require(try server.receive())
            #expect(request == [[UInt8(round), 1, 2, 3]])
            try server.send(request[0].reversed())
            #expect(try client.receive() == [[3, 2, 1, UInt8(round)]])
        }
    }

    @Test func tcpRoundTripWithMultipartAndEmptyFrames() throws {
        let (server, endpoint) = try boundTCP(.router)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*"))
        let client = try context.socket(.dealer)
        try client.connect(endpoint)
        try client.setReceiveTimeout(milliseconds: 2000)
        try server.setReceiveTimeout(milliseconds: 2000)
        let big = [UInt8](repeating: 0xab, count: 100_000)
        try client.send(multipart: [[1], [], big])
        let received = try #require(try server.receive())
        #expect(received.count == 4)  // routing id + 3 frames
        #expect(Array(received.dropFirst()) == [[1], [], big])
        try server.send(multipart: [received[0], [42]])
        #expect(try client.receive() == [[42]])
    }

    @Test func routerDealerWithManyRequestsInFlight() throws {
        let (server, endpoint) = try boundTCP(.router)
        // A ROUTER drops what it cannot queue past its high-water mark (1000 by default), so
        // room for every reply is part of keeping this many requests in flight.
        try server.setSendHighWaterMark(10_000)
        try server.setReceiveHighWaterMark(10_000)
        try server.setRouterMandatory(true)
        let client = try context.socket(.dealer)
        try client.setSendHighWaterMark(10_000)
        try client.setReceiveHighWaterMark(10_000)
        try client.connect(endpoint)
        try client.setReceiveTimeout(milliseconds: 5000)
        try server.setReceiveTimeout(milliseconds: 5000)
        let inFlight = 2000
        for number in 0..<inFlight {
            try client.send([UInt8(number & 0xff), UInt8(number >> 8)])
        }
        // The server answers in reverse order of arrival; every reply must match its request.
        var pending: [[[UInt8]]] = []
        for _ in 0..<inFlight { pending.append(try #require(try server.receive())) }
        for request in pending.reversed() {
            try server.send(multipart: [request[0], request[1] + [0xee]])
        }
        var seen = Set<Int>()
        for _ in 0..<inFlight {
            let reply = try #require(try client.receive(), "after \(seen.count) replies")
            #expect(reply[0].count == 3 && reply[0][2] == 0xee)
            seen.insert(Int(reply[0][0]) | Int(reply[0][1]) << 8)
        }
        #expect(seen == Set(0..<inFlight))
    }

    @Test func nonBlockingReceiveAndPollerTimeout() throws {
        let (server, endpoint) = try boundTCP(.router)
        #expect(try server.receive(flags: .dontWait) == nil)
        var poller = Poller()
        poller.register(server)
        #expect(try poller.poll(timeoutMilliseconds: 50) == [[]])
        let client = try context.socket(.dealer)
        try client.connect(endpoint)
        try client.send([9])
        #expect(try poller.poll(timeoutMilliseconds: 2000) == [.readable])
        #expect(try server.receive(flags: .dontWait)?.last == [9])
    }

    @Test func curveRoundTrip() throws {
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let server = try context.socket(.router)
        try server.makeCurveServer(serverKeys)
        try server.bind("tcp://127.0.0.1:*")
        let client = try context.socket(.dealer)
        try client.makeCurveClient(clientKeys, serverKey: serverKeys.publicKey)
        try client.connect(try server.lastEndpoint())
        try client.setReceiveTimeout(milliseconds: 3000)
        try server.setReceiveTimeout(milliseconds: 3000)
        try client.send(Array("secret coin".utf8))
        let request = try #require(try server.receive())
        #expect(request.last == Array("secret coin".utf8))
        try server.send(multipart: [request[0], Array("receipt".utf8)])
        #expect(try client.receive() == [Array("receipt".utf8)])
    }

    @Test func clientWithTheWrongServerKeyGetsNothingThrough() throws {
        let serverKeys = try CurveKeyPair.generate()
        let impostorKeys = try CurveKeyPair.generate()
        let server = try context.socket(.router)
        try server.makeCurveServer(serverKeys)
        try server.bind("tcp://127.0.0.1:*")
        try server.setReceiveTimeout(milliseconds: 700)
        let client = try context.socket(.dealer)
        try client.makeCurveClient(try CurveKeyPair.generate(), serverKey: impostorKeys.publicKey)
        try client.setHandshakeInterval(milliseconds: 500)
        try client.connect(try server.lastEndpoint())
        try client.send(Array("coin".utf8), flags: .dontWait)
        #expect(try server.receive() == nil)
        // A plaintext client gets nothing through either.
        let plain = try context.socket(.dealer)
        try plain.connect(try server.lastEndpoint())
        try plain.send(Array("coin".utf8), flags: .dontWait)
        #expect(try server.receive() == nil)
    }

    @Test func curveKeysRoundTripThroughZ85() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.utf8.count == 40)
        #expect(CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(try CurveKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
        #expect(CurveKey(z85: "too short") == nil)
        #expect(!pair.description.contains(pair.secretKey.z85))
    }

    @Test func errorsCarryErrnoAndItsText() throws {
        let socket = try context.socket(.router)
        do {
            try socket.bind("nonsense://nowhere")
            Issue.record("bind to a bad endpoint succeeded")
        } catch {
            #expect(error.errno != 0)
            #expect(!error.text.isEmpty)
            #expect(error.description.contains("zmq_bind(nonsense://nowhere)"))
        }
        socket.close()
        #expect(throws: ZMQError.self) { try socket.send([1]) }
    }

    @Test func overLongMessagesAreRefusedWhole() throws {
        let (server, endpoint) = try boundTCP(.router)
        let client = try context.socket(.dealer)
        try client.connect(endpoint)
        try server.setReceiveTimeout(milliseconds: 2000)
        try client.send(multipart: (0..<10).map { [UInt8($0)] })
        try client.send([99])
        #expect(throws: ZMQError.self) { _ = try server.receive(maximumFrames: 4) }
        // The next message is intact: the refused one was drained completely.
        #expect(try server.receive()?.last == [99])
    }

    @Test func maximumMessageSizeDisconnectsOversizedSenders() throws {
        let server = try context.socket(.router)
        try server.setMaximumMessageSize(bytes: 1024)
        try server.bind("tcp://127.0.0.1:*")
        try server.setReceiveTimeout(milliseconds: 500)
        let client = try context.socket(.dealer)
        try client.connect(try server.lastEndpoint())
        try client.send([UInt8](repeating: 1, count: 4096))
        #expect(try server.receive() == nil)
    }

    @Test func socketKeepsItsContextAlive() throws {
        func makeSocket() throws -> Socket {
            let ownContext = try Context()
            let socket = try ownContext.socket(.pair)
            return socket
        }
        // The context went out of scope; the socket still works, and both close at the end.
        let socket = try makeSocket()
        try socket.bind("inproc://alive")
        let peer = try socket.context.socket(.pair)
        try peer.connect("inproc://alive")
        try peer.send([5])
        try socket.setReceiveTimeout(milliseconds: 1000)
        #expect(try socket.receive() == [[5]])
    }

    @Test func publishSubscribeAndPushPull() throws {
        let push = try context.socket(.push)
        try push.bind("inproc://pipeline")
        let pull = try context.socket(.pull)
        try pull.connect("inproc://pipeline")
        try pull.setReceiveTimeout(milliseconds: 1000)
        try push.send([1, 2])
        #expect(try pull.receive() == [[1, 2]])

        let publisher = try context.socket(.publisher)
        try publisher.bind("inproc://news")
        let subscriber = try context.socket(.subscriber)
        try subscriber.subscribe(Array("qp.".utf8))
        try subscriber.connect("inproc://news")
        try subscriber.setReceiveTimeout(milliseconds: 100)
        // A subscription takes a moment to reach the publisher: publish until one arrives.
        var received: [[UInt8]]? = nil
        for _ in 0..<50 where received == nil {
            try publisher.send(Array("other".utf8))
            try publisher.send(Array("qp.tick".utf8))
            received = try subscriber.receive()
        }
        #expect(received == [Array("qp.tick".utf8)])
    }
}

/// CURVE with a ZAP allow-list: only listed client keys get through.
@Suite struct ZAPTests {
    @Test func onlyAllowListedClientKeysGetThrough() throws {
        let context = try Context()
        let zap = try ZAPHandler(context: context)
        let serverKeys = try CurveKeyPair.generate()
        let allowedKeys = try CurveKeyPair.generate()
        let server = try context.socket(.router)
        try server.makeCurveServer(serverKeys)
        try server.setZAPDomain("bank")
        try server.bind("tcp://127.0.0.1:*")
        let endpoint = try server.lastEndpoint()

        let allowed = try context.socket(.dealer)
        try allowed.makeCurveClient(allowedKeys, serverKey: serverKeys.publicKey)
        try allowed.connect(endpoint)
        let stranger = try context.socket(.dealer)
        try stranger.makeCurveClient(try CurveKeyPair.generate(), serverKey: serverKeys.publicKey)
        try stranger.setHandshakeInterval(milliseconds: 1000)
        try stranger.connect(endpoint)
        try allowed.send(Array("from the app server".utf8), flags: .dontWait)
        try stranger.send(Array("from a stranger".utf8), flags: .dontWait)

        var received: [[UInt8]] = []
        var decisions: [(ZAPHandler.Request, Bool)] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(1500)
        while clock.now < deadline {
            var poller = Poller()
            poller.register(zap.socket)
            poller.register(server)
            let events = try poller.poll(timeoutMilliseconds: 50)
            if events[0].contains(.readable) {
                decisions += try zap.answerPending { $0.domain == "bank" && $0.clientKey == allowedKeys.publicKey }
            }
            if events[1].contains(.readable), let frames = try server.receive(flags: .dontWait) { received.append(frames.last ?? []) }
        }
        #expect(received == [Array("from the app server".utf8)])
        #expect(decisions.contains { $0.0.clientKey == allowedKeys.publicKey && $0.1 })
        #expect(decisions.contains { $0.0.clientKey != allowedKeys.publicKey && !$0.1 })
        #expect(decisions.allSatisfy { $0.0.mechanism == "CURVE" && $0.0.domain == "bank" })
    }

    /// The message carries the ZAP handler's User-Id (the client's key); the monitor reports a
    /// plaintext client and a client holding the wrong server key, and nothing of theirs arrives.
    @Test func userIDAndFailedHandshakesAreVisible() throws {
        let context = try Context()
        let zap = try ZAPHandler(context: context)
        let serverKeys = try CurveKeyPair.generate()
        let clientKeys = try CurveKeyPair.generate()
        let server = try context.socket(.router)
        try server.makeCurveServer(serverKeys)
        let monitor = try SocketMonitor(server, endpoint: "inproc://monitor-test", events: MonitorEvent.Kind.handshakeFailures)
        try server.bind("tcp://127.0.0.1:*")
        let endpoint = try server.lastEndpoint()

        let good = try context.socket(.dealer)
        try good.makeCurveClient(clientKeys, serverKey: serverKeys.publicKey)
        try good.connect(endpoint)
        let plaintext = try context.socket(.dealer)
        try plaintext.connect(endpoint)
        let wrongServer = try context.socket(.dealer)
        try wrongServer.makeCurveClient(try CurveKeyPair.generate(), serverKey: try CurveKeyPair.generate().publicKey)
        try wrongServer.connect(endpoint)
        try good.send(Array("good".utf8), flags: .dontWait)
        try plaintext.send(Array("plain".utf8), flags: .dontWait)
        try wrongServer.send(Array("wrong".utf8), flags: .dontWait)

        var received: [(String, String?)] = []
        var failures: [MonitorEvent] = []
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(1500)
        while clock.now < deadline {
            var poller = Poller()
            poller.register(zap.socket)
            poller.register(server)
            poller.register(monitor.socket)
            let events = try poller.poll(timeoutMilliseconds: 50)
            if events[0].contains(.readable) { try zap.answerPending { _ in true } }
            if events[1].contains(.readable), let message = try server.receiveAuthenticated(flags: .dontWait) {
                received.append((String(decoding: message.frames.last ?? [], as: UTF8.self), message.userID))
            }
            if events[2].contains(.readable) { failures += try monitor.drain() }
        }
        #expect(received.count == 1)
        #expect(received.first?.0 == "good")
        #expect(received.first?.1 == clientKeys.publicKey.z85)
        #expect(failures.contains { $0.kind == .handshakeFailedProtocol && $0.detail.contains("mechanism mismatch") })
        #expect(failures.contains { $0.kind == .handshakeFailedProtocol && $0.detail.contains("cryptographic") })
    }
}
