import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayProtocol
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import Testing
import ZeroMQ

/// CurveZMQ between real processes: strangers get nothing through and are logged; admitted
/// peers may do only their own work.
@Suite(.serialized) struct CurveTests {
    /// Sends `body` on `socket` and waits up to `milliseconds` for any answer.
    func probe(_ socket: Socket, _ body: Body, milliseconds: Int32 = 1500) throws -> Body? {
        try socket.setReceiveTimeout(milliseconds: milliseconds)
        var generator = SystemRandomNumberGenerator()
        try socket.send(WireCodec().encode(Envelope(requestID: .random(using: &generator), body: body)), flags: .dontWait)
        guard let frames = try socket.receive() else { return nil }
        return try WireCodec().decode(frames[0]).body
    }

    func log(_ deployment: ActorDeployment, _ actor: String) throws -> String {
        try String(contentsOfFile: "\(deployment.runFolder)/logs/\(actor).log", encoding: .utf8)
    }

    @Test func plaintextWrongServerKeyAndUnknownClientKeyGetNothingThroughAndAreLogged() throws {
        let deployment = try aliceAndShop("curve-strangers")
        defer { deployment.stopAll() }
        let before = try ledger(deployment)
        let context = try Context()
        let bank = deployment.endpoints["bank"]!
        let credit = Body.bankBalance(try AccountID("ACC-ALICE"))

        let plaintext = try context.socket(.dealer)
        try plaintext.connect(bank)
        #expect(try probe(plaintext, credit) == nil, "a plaintext client got an answer from the bank")

        let wrongServerKey = try context.socket(.dealer)
        try wrongServerKey.makeCurveClient(try CurveKeyPair.generate(), serverKey: try CurveKeyPair.generate().publicKey)
        try wrongServerKey.connect(bank)
        #expect(try probe(wrongServerKey, credit) == nil, "a client with the wrong server key got an answer")

        let unknownClient = try context.socket(.dealer)
        try unknownClient.makeCurveClient(try CurveKeyPair.generate(), serverKey: try deployment.keys!.publicKey("bank"))
        try unknownClient.connect(bank)
        #expect(try probe(unknownClient, credit) == nil, "an unknown client key got an answer from the bank")

        // The control socket admits the operator only.
        let control = try context.socket(.request)
        try control.setReceiveTimeout(milliseconds: 1500)
        // A refused handshake may leave no pipe to queue on: a blocking send would wait for ever.
        try control.setSendTimeout(milliseconds: 1500)
        try control.makeCurveClient(try deployment.keys!.keyPair("appserver"), serverKey: try deployment.keys!.publicKey("bank"))
        try control.connect(deployment.endpoints["bank-control"]!)
        _ = try? control.send(ControlJSON.encode(["action": "state"]))
        #expect(try control.receive() == nil, "the app server's key opened the bank's control socket")

        // The app server's own key is admitted: the same request is answered.
        let appServer = try context.socket(.dealer)
        try deployment.clientSecurity(to: "bank", as: "appserver").secure(appServer, for: bank)
        try appServer.connect(bank)
        #expect(try probe(appServer, credit, milliseconds: 5000) == .balanceReply(Balances(bank: Amount(paise: 100_000), quickPay: .zero)))

        #expect(try ledger(deployment) == before)
        let health = try deployment.control("bank").must(["action": "health"])
        #expect(health["transport"] as? String == "curve")
        #expect((health["refused_handshakes"] as? Int ?? 0) >= 4, "\(health)")
        let bankLog = try log(deployment, "bank")
        // libzmq reports a plaintext peer as a mechanism mismatch, or (when the greeting breaks
        // off first) as a handshake failure without detail: either is logged.
        #expect(
            bankLog.contains("mechanism mismatch") || bankLog.contains("\"msg\":\"refused a connection: handshake failed\""),
            "the plaintext client is not in the bank's log")
        #expect(bankLog.contains("cryptographic error"), "the wrong server key is not in the bank's log")
        #expect(bankLog.contains("client key not allowed"), "the unknown client key is not in the bank's log")
        #expect(bankLog.contains("\"domain\":\"control\""), "the refused control connection is not in the bank's log")
    }

    @Test func admittedPeersMayDoOnlyTheirOwnWork() throws {
        let deployment = try aliceAndShop("curve-roles")
        defer { deployment.stopAll() }
        let before = try ledger(deployment)
        let context = try Context()
        var generator = SystemRandomNumberGenerator()
        func socket(to actor: String, as peer: String?) throws -> Socket {
            let socket = try context.socket(.dealer)
            try deployment.clientSecurity(to: actor, as: peer).secure(socket, for: deployment.endpoints[actor]!)
            try socket.connect(deployment.endpoints[actor]!)
            return socket
        }
        func forbidden(_ answer: Body?) -> Bool {
            if case .error(let error)? = answer { return error.code == .forbidden }
            return false
        }
        let merchantAtBank = try socket(to: "bank", as: "merchant-chai-stall")
        // A merchant asking for a customer's balance: app-server work.
        #expect(forbidden(try probe(merchantAtBank, .bankBalance(try AccountID("ACC-ALICE")), milliseconds: 5000)))
        // A merchant redeeming as another receiver.
        let coin = Coin(voucherID: .random(using: &generator), index: 1, value: .random(using: &generator))
        #expect(forbidden(try probe(merchantAtBank, .redeem(Redeem(receiverID: try ReceiverID("other-shop"), coins: [coin])), milliseconds: 5000)))
        // A customer's fresh key submitting an SMS at the network provider.
        let customerAtNSP = try socket(to: "nsp", as: nil)
        #expect(forbidden(try probe(customerAtNSP, .smsSubmit(SmsSubmit(phone: try PhoneNumber("+919800000001"), text: "QuickPay code 123456")), milliseconds: 5000)))
        // Anyone but the bank sending Settle to a merchant.
        let customerAtMerchant = try socket(to: "merchant-chai-stall", as: nil)
        #expect(forbidden(try probe(customerAtMerchant, .settle(Settle(voucherID: .random(using: &generator))), milliseconds: 5000)))
        #expect(try ledger(deployment) == before)
    }
}
