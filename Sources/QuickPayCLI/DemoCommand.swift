import ArgumentParser
import Foundation
import QuickPayCore
import QuickPayProtocol
import ZeroMQ

/// `quickpay demo`: the protocol core end to end over a real ZeroMQ connection, in one process.
/// (The five actors as separate processes come with the actors work; this shows the core they
/// stand on.) Exits non-zero if any expectation fails.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Issue vouchers, pay coins over ZeroMQ with receipts, try attacks, and check the money.",
        discussion: "Example:\n  quickpay demo"
    )

    func run() throws {
        var demo = try CoreDemo()
        let failures = try demo.run()
        if failures > 0 { throw ExitCode(1) }
    }
}

/// The demo's bookkeeping: every expectation is checked and counted, none is only printed.
struct CoreDemo {
    let codec = WireCodec()
    let context: Context
    let merchantSocket: Socket
    let walletSocket: Socket
    var generator = SystemRandomNumberGenerator()
    var failures = 0
    let now = Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970))

    init() throws {
        context = try Context()
        merchantSocket = try context.socket(.router)
        try merchantSocket.bind("tcp://127.0.0.1:*")
        walletSocket = try context.socket(.dealer)
        try walletSocket.connect(merchantSocket.lastEndpoint())
        try walletSocket.setReceiveTimeout(milliseconds: 2000)
    }

    mutating func expect(_ condition: Bool, _ what: String) {
        print("  \(condition ? "ok  " : "FAIL") \(what)")
        if !condition { failures += 1 }
    }

    mutating func run() throws -> Int {
        let bank = BankSigner(privateKey: .random(using: &generator))
        let keyring = BankKeyring([bank.privateKey.publicKey])
        let merchantID = try ReceiverID("chai-stall")
        var merchant = DemoMerchant(id: merchantID, keyring: keyring, key: .random(using: &generator))

        print("1. The wallet makes two chains; the bank signs them as vouchers for \(merchantID).")
        var wallet: [(voucher: SignedVoucher, chain: HashChain, spent: Int)] = []
        for (denomination, count) in [(Denomination.rs5, 10), (.rs1, 20)] {
            let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(count))
            let owner = SigningPrivateKey.random(using: &generator)
            let voucher = bank.sign(
                VoucherCommitment(
                    voucherID: .random(using: &generator), receiverID: merchantID, denomination: denomination,
                    length: chain.length, root: chain.root, expiry: now.adding(seconds: 86_400),
                    ownerKey: owner.publicKey, keyID: bank.keyID))
            wallet.append((voucher, chain, 0))
            print("   voucher \(voucher.id.description.prefix(8))… \(denomination) x \(count) = \(voucher.commitment.faceValue)")
        }
        let loaded = try Amount.sum(wallet.map(\.voucher.commitment.faceValue))

        print("2. Eight payments over ZeroMQ (tcp loopback), some with coins of both vouchers.")
        var receiptRoots: [VoucherID: SignedReceiptCommitment] = [:]
        var paid = Amount.zero
        for (fives, ones) in [(1, 0), (0, 3), (2, 1), (1, 2), (0, 1), (3, 0), (1, 4), (0, 2)] {
            var coins: [Coin] = []
            var vouchers: [SignedVoucher] = []
            for (slot, steps) in [(0, fives), (1, ones)] where steps > 0 {
                let entry = wallet[slot]
                if entry.spent == 0 { vouchers.append(entry.voucher) }
                let index = entry.spent + steps
                coins.append(Coin(voucherID: entry.voucher.id, index: index, value: entry.chain.element(at: index)))
            }
            let reply = try exchange(.payment(try Payment(coins: coins, vouchers: vouchers, order: "tea")), merchant: &merchant)
            guard case .paymentReply(let answer) = reply else {
                expect(false, "payment answered with \(reply.typeName)")
                continue
            }
            for root in answer.receiptRoots {
                try root.verify()
                receiptRoots[root.commitment.voucherID] = root
            }
            var receiptsHold = answer.receipts.count == coins.count
            for receipt in answer.receipts {
                guard let root = receiptRoots[receipt.voucherID] else { receiptsHold = false; continue }
                receiptsHold = receiptsHold && (try? ChainVerifier.verify(receipt.position, after: .root(root.commitment.root), length: root.commitment.length)) != nil
            }
            for slot in wallet.indices {
                if let coin = coins.first(where: { $0.voucherID == wallet[slot].voucher.id }) { wallet[slot].spent = coin.index }
            }
            paid = try paid.adding(answer.amount)
            let price = try Denomination.rs5.value(ofCoins: fives).adding(Denomination.rs1.value(ofCoins: ones))
            expect(receiptsHold && answer.amount == price,
                "paid \(answer.amount) (\(fives) x Rs 5, \(ones) x Re 1), receipts verify against the signed receipt root")
        }

        print("3. Attacks: each must be refused with its typed error, and change nothing.")
        let five = wallet[0]
        let before = merchant.last
        try attack("replay the last Rs 5 coin", .replayedCoin, merchant: &merchant,
            coin: Coin(voucherID: five.voucher.id, index: five.spent, value: five.chain.element(at: five.spent)))
        try attack("random 32 bytes as the next coin", .badChain, merchant: &merchant,
            coin: Coin(voucherID: five.voucher.id, index: five.spent + 1, value: .random(using: &generator)))
        try attack("an index past N", .indexOutOfRange, merchant: &merchant,
            coin: Coin(voucherID: five.voucher.id, index: five.chain.length.value + 1, value: .random(using: &generator)))
        let tampered = SignedVoucher(
            commitment: VoucherCommitment(
                voucherID: .random(using: &generator), receiverID: merchantID, denomination: .rs50,
                length: five.chain.length, root: five.chain.root, expiry: five.voucher.commitment.expiry,
                ownerKey: five.voucher.commitment.ownerKey, keyID: bank.keyID),
            proof: five.voucher.proof)
        try attack("a voucher with its denomination raised to Rs 50", .badSignature, merchant: &merchant,
            coin: Coin(voucherID: tampered.id, index: 1, value: five.chain.element(at: 1)), voucher: tampered)
        let garbage = try exchangeRaw(Array("not a quickpay frame".utf8), merchant: &merchant)
        var garbageRefused = false
        if case .error(let error) = garbage { garbageRefused = error.code == .malformed }
        expect(garbageRefused, "garbage bytes get MALFORMED")
        expect(merchant.last == before, "merchant state unchanged by the attacks")

        print("4. The merchant redeems its last coin per voucher; the bank's check gives its credit.")
        var credited = Amount.zero
        for entry in wallet {
            guard let last = merchant.last[entry.voucher.id] else { continue }
            let steps = try ChainVerifier.verify(last, after: .root(entry.voucher.commitment.root), length: entry.voucher.commitment.length)
            credited = try credited.adding(entry.voucher.commitment.denomination.value(ofCoins: steps))
        }
        let unspent = try Amount.sum(wallet.map { try $0.voucher.commitment.denomination.value(ofCoins: $0.chain.length.value - $0.spent) })
        print("   loaded \(loaded); paid \(paid); redeemed \(credited); unspent (to unload) \(unspent)")
        expect(credited == paid, "the redemption credits exactly what was paid")
        expect(try credited.adding(unspent) == loaded, "conservation: redeemed + unspent = loaded, to the paisa")
        print(failures == 0 ? "demo: all expectations hold" : "demo: \(failures) expectation(s) FAILED")
        return failures
    }

    mutating func attack(
        _ what: String, _ code: ErrorCode, merchant: inout DemoMerchant, coin: Coin, voucher: SignedVoucher? = nil
    ) throws {
        let payment = try Payment(coins: [coin], vouchers: voucher.map { [$0] } ?? [])
        let reply = try exchange(.payment(payment), merchant: &merchant)
        if case .error(let error) = reply {
            expect(error.code == code, "\(what): \(error.code.name)")
        } else {
            expect(false, "\(what): accepted!")
        }
    }

    /// Wallet -> merchant -> wallet over the real sockets.
    mutating func exchange(_ body: Body, merchant: inout DemoMerchant) throws -> Body {
        try exchangeRaw(codec.encode(Envelope(requestID: .random(using: &generator), body: body)), merchant: &merchant)
    }

    mutating func exchangeRaw(_ frame: [UInt8], merchant: inout DemoMerchant) throws -> Body {
        try walletSocket.send(frame)
        guard let request = try merchantSocket.receive(), request.count == 2 else { throw ExitCode(2) }
        let answer: Envelope
        do {
            let envelope = try codec.decode(request[1])
            answer = Envelope(requestID: envelope.requestID, body: merchant.handle(envelope.body, now: now))
        } catch {
            answer = Envelope(requestID: codec.requestID(of: request[1]) ?? RequestID(Bytes16(high: 0, low: 0)), body: .error(error))
        }
        try merchantSocket.send(multipart: [request[0], codec.encode(answer)])
        guard let reply = try walletSocket.receive(), reply.count == 1 else { throw ExitCode(2) }
        return try codec.decode(reply[0]).body
    }
}

/// A minimal offline (PayWord) merchant for the demo: per voucher, the last accepted coin and a
/// receipt chain. The real merchant state machine is QuickPayActors' job.
struct DemoMerchant {
    let id: ReceiverID
    let keyring: BankKeyring
    let key: SigningPrivateKey
    var vouchers: [VoucherID: VoucherCommitment] = [:]
    var last: [VoucherID: ChainPosition] = [:]
    var receiptChains: [VoucherID: HashChain] = [:]

    init(id: ReceiverID, keyring: BankKeyring, key: SigningPrivateKey) {
        self.id = id
        self.keyring = keyring
        self.key = key
    }

    mutating func handle(_ body: Body, now: Timestamp) -> Body {
        guard case .payment(let payment) = body else { return .error(QuickPayError(.malformed, "merchant takes payments")) }
        do throws(QuickPayError) {
            var known = vouchers
            for voucher in payment.vouchers where known[voucher.id] == nil {
                try voucher.verify(keyring: keyring, receiver: id, now: now)
                known[voucher.id] = voucher.commitment
            }
            // Check every coin before changing anything: a rejected payment changes no state.
            var accepted: [(Coin, VoucherCommitment, Int)] = []
            for coin in payment.coins {
                guard let voucher = known[coin.voucherID] else { throw QuickPayError(.unknownVoucher, "voucher \(coin.voucherID) not seen") }
                let steps = try ChainVerifier.verify(coin.position, after: last[coin.voucherID] ?? .root(voucher.root), length: voucher.length)
                accepted.append((coin, voucher, steps))
            }
            var receipts: [Receipt] = []
            var roots: [SignedReceiptCommitment] = []
            var amount = Amount.zero
            for (coin, voucher, steps) in accepted {
                vouchers[coin.voucherID] = voucher
                last[coin.voucherID] = coin.position
                if receiptChains[coin.voucherID] == nil {
                    var generator = SystemRandomNumberGenerator()
                    let chain = HashChain(seed: .random(using: &generator), length: voucher.length)
                    receiptChains[coin.voucherID] = chain
                    roots.append(.sign(ReceiptCommitment(voucherID: coin.voucherID, receiverID: id, length: voucher.length, root: chain.root), with: key))
                }
                receipts.append(Receipt(voucherID: coin.voucherID, index: coin.index, value: receiptChains[coin.voucherID]!.element(at: coin.index)))
                amount = try amount.adding(voucher.denomination.value(ofCoins: steps))
            }
            return .paymentReply(PaymentReply(receipts: receipts, receiptRoots: roots, service: Array("one cup of tea".utf8), amount: amount))
        } catch {
            return .error(error)
        }
    }
}
