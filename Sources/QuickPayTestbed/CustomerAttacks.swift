import Crypto
import CryptoExtras
import Foundation
import QuickPayActors
import QuickPayClient
import QuickPayConfig
import QuickPayCore
import QuickPayProtocol
import ZeroMQ

/// The customer as an attacker, on a scenario's command. Each attack sends one crafted message
/// and returns the answer it got; none changes the wallet (the attacker keeps its coins honest
/// for the steps after).
extension CustomerClient {
    /// A voucher of the wallet at `receiver` (the one with the most coins left), or UNKNOWN_VOUCHER.
    func attackVoucher(at receiver: ReceiverID) throws -> WalletVoucher {
        guard let entry = wallet.vouchers.values.filter({ $0.voucher.commitment.receiverID == receiver && !$0.unloaded })
            .max(by: { $0.remaining < $1.remaining })
        else { throw QuickPayError(.unknownVoucher, "the wallet holds no voucher for \(receiver)") }
        return entry
    }

    /// Runs one attack and returns the answer: `["ok": true]` if the target accepted (the
    /// defence failed), or the refusal's code.
    public func attack(_ kind: String, at target: ReceiverID, options: JSONObject) throws -> JSONObject {
        let body: Body
        switch kind {
        case "replay":
            // The last payment's coins again, under a new request id.
            guard let payment = lastPayment else { throw QuickPayError(.malformed, "no payment to replay yet") }
            body = try merchant(target).request(.payment(payment))
        case "spend-unloaded":
            // Keep spending a voucher after unloading it: the next honest coin, voucher attached.
            let spent = (options["which"] as? String ?? "spent") == "spent"
            guard let entry = wallet.vouchers.values.first(where: {
                $0.voucher.commitment.receiverID == target && $0.unloaded && (spent ? $0.spent > 0 : $0.spent == 0)
                    && $0.spent < $0.voucher.commitment.length.value
            }) else { throw QuickPayError(.unknownVoucher, "no unloaded voucher with coins left at \(target)") }
            let index = entry.spent + 1
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: entry.id, index: index, value: entry.chain.element(at: index))], vouchers: [entry.voucher])))
        case "retry-last":
            // The last payment again under its own request id: the merchant answers from its
            // cache, and nothing is paid twice.
            guard let (envelope, receiver) = lastPaymentRequest else { throw QuickPayError(.malformed, "no payment to retry yet") }
            body = try merchant(receiver).request(envelope)
        case "forge", "forge-off-by-one":
            let entry = try attackVoucher(at: (try? ReceiverID(options["voucher_of"] as? String ?? "")) ?? target)
            let index = entry.spent + 1
            let value = kind == "forge" ? Bytes32.random(using: &generator) : entry.chain.element(at: entry.spent)
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: entry.id, index: index, value: value)], vouchers: entry.spent == 0 ? [entry.voucher] : [])))
        case "overspend":
            // One coin past N: the index is checked before any hashing.
            let entry = try attackVoucher(at: target)
            let n = entry.voucher.commitment.length.value
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: entry.id, index: n + 1, value: .random(using: &generator))], vouchers: entry.spent == 0 ? [entry.voucher] : [])))
        case "foreign":
            // Spend a voucher bound to another merchant (options.voucher_of) here.
            guard let owner = options["voucher_of"] as? String else { throw QuickPayError(.malformed, "foreign needs voucher_of") }
            let entry = try attackVoucher(at: try ReceiverID(owner))
            let index = entry.spent + 1
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: entry.id, index: index, value: entry.chain.element(at: index))], vouchers: [entry.voucher])))
        case "tamper":
            // An unspent voucher with one field changed and the bank's signature kept.
            guard let entry = wallet.vouchers.values.first(where: { $0.voucher.commitment.receiverID == target && $0.spent == 0 && !$0.unloaded }) else {
                throw QuickPayError(.unknownVoucher, "tamper needs a voucher the merchant has not seen yet")
            }
            let c = entry.voucher.commitment
            let field = options["field"] as? String ?? "denomination"
            let tampered = SignedVoucher(commitment: VoucherCommitment(
                scheme: c.scheme, voucherID: c.voucherID,
                receiverID: field == "receiver" ? try ReceiverID(options["receiver"] as? String ?? "someone-else") : c.receiverID,
                denomination: field == "denomination" ? (c.denomination == .rs50 ? .rs1 : .rs50) : c.denomination,
                length: field == "length" ? try ChainLength(c.length.value == ChainLength.maximum ? 1 : c.length.value + 1) : c.length,
                root: c.root, expiry: field == "expiry" ? c.expiry.adding(seconds: 365 * 86_400) : c.expiry,
                ownerKey: c.ownerKey, keyID: c.keyID), proof: entry.voucher.proof)
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: c.voucherID, index: 1, value: entry.chain.element(at: 1))], vouchers: [tampered])))
        case "blind-load":
            // A blind load naming a key it should not: `key: unknown` (no key of the list),
            // `ended` (this value's key of an epoch that is over), `future` (one not begun).
            guard let list = blindKeys else { throw QuickPayError(.unknownKey, "no blind key list") }
            let now = clock.now
            let which = options["key"] as? String ?? "unknown"
            switch which {
            case "unknown":
                let chain = BlindedChain(keyID: KeyID((0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) })!, blindedMessage: (0..<256).map { _ in UInt8.random(in: 0...255, using: &generator) })
                body = try askAppServer(.load(LoadRequest(session: SessionToken(try sessionBytes()), content: .blinded([chain]))))
            case "ended", "future":
                // The cheapest such key: within every limit, so only the epoch can refuse it.
                guard let found = list.keys.filter({ which == "ended" ? $0.validUntil <= now : now < $0.validFrom }).min(by: { $0.faceValue < $1.faceValue }) else {
                    throw QuickPayError(.unknownKey, "the list has no key whose epoch \(which == "ended" ? "ended" : "has not begun") at \(now)")
                }
                let key = found
                let chain = HashChain(seed: .random(using: &generator), length: key.length)
                let request = try BlindVoucherRequest(
                    key: key, receiver: target, root: chain.root, ownerKey: SigningPrivateKey.random(using: &generator).publicKey, secret: .random(using: &generator))
                body = try askAppServer(.load(LoadRequest(session: SessionToken(try sessionBytes()), content: .blinded([BlindedChain(keyID: key.keyID, blindedMessage: request.blindedMessage)]))))
            default:
                throw QuickPayError(.malformed, "blind-load key is unknown, ended or future")
            }
        case "refresh-replay":
            // The last refresh again under a new request id (same signed content): what the bank
            // held for it is gone, so nothing is signed twice.
            guard let last = lastRefreshRequest else { throw QuickPayError(.malformed, "no refresh to replay yet") }
            body = try askAppServer(last.body)
        case "reuse-signature":
            // The bank's signature on one of our blind vouchers, on another message: our own
            // chain (another root) under the same key and prefix.
            guard let entry = wallet.vouchers.values.first(where: { $0.voucher.commitment.receiverID == target && $0.spent == 0 && !$0.unloaded }),
                case .blindRSA(let prefix, let signature) = entry.voucher.proof, let key = blindKeys?.key(id: entry.voucher.commitment.keyID)
            else { throw QuickPayError(.unknownVoucher, "reuse-signature needs an unspent blind voucher for \(target)") }
            let chain = HashChain(seed: .random(using: &generator), length: key.length)
            let commitment = BlindVoucher.commitment(key: key, receiver: target, root: chain.root, ownerKey: entry.voucher.commitment.ownerKey, prefix: prefix)
            let reused = SignedVoucher(commitment: commitment, proof: .blindRSA(prefix: prefix, signature: signature))
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: reused.id, index: 1, value: chain.element(at: 1))], vouchers: [reused])))
        case "self-made" where scheme == .blindRSA:
            // A blind voucher for a chain of our own, signed by an RSA key the bank never had:
            // under a key id of its own, or naming a real key of the bank's list (borrow_key_id).
            let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(10))
            let rogue = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let primitives = try rogue.publicKey.getKeyPrimitives()
            let real = blindKeys?.key(for: .rs50, length: chain.length, at: clock.now) ?? blindKeys?.keys.first
            let own = BlindKey(
                denomination: .rs50, length: chain.length, validFrom: clock.now, validUntil: clock.now.adding(seconds: 86_400),
                expiry: clock.now.adding(seconds: 86_400), publicKey: BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent)))
            let key = options["borrow_key_id"] as? Bool == true ? (real ?? own) : own
            let prefix = Bytes32.random(using: &generator)
            let commitment = BlindVoucher.commitment(
                key: key, receiver: target, root: chain.root, ownerKey: SigningPrivateKey.random(using: &generator).publicKey, prefix: prefix)
            let signature = try rogue.signature(for: SHA384.hash(data: prefix.bytes + BlindVoucher.message(of: commitment)), padding: .PSS)
            let voucher = SignedVoucher(commitment: commitment, proof: .blindRSA(prefix: prefix, signature: Array(signature.rawRepresentation)))
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: voucher.id, index: 1, value: chain.element(at: 1))], vouchers: [voucher])))
        case "self-made":
            // A voucher for a chain of our own, signed by a key the bank never had.
            let rogue = SigningPrivateKey.random(using: &generator)
            let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(10))
            // Naming the real bank's key id (borrow_key_id) does not help: the signature is checked.
            let keyID = options["borrow_key_id"] as? Bool == true
                ? (wallet.vouchers.values.first?.voucher.commitment.keyID ?? rogue.publicKey.keyID) : rogue.publicKey.keyID
            let commitment = VoucherCommitment(
                voucherID: .random(using: &generator), receiverID: target, denomination: .rs50, length: chain.length, root: chain.root,
                expiry: Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970) + 86_400),
                ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: keyID)
            let voucher = SignedVoucher(commitment: commitment, signature: rogue.sign(commitment.signingBytes))
            body = try merchant(target).request(.payment(try Payment(coins: [Coin(voucherID: voucher.id, index: 1, value: chain.element(at: 1))], vouchers: [voucher])))
        default:
            throw QuickPayError(.malformed, "unknown attack \(kind)")
        }
        if case .error(let error) = body { return ["ok": false, "code": error.code.name, "message": error.message] }
        return ["ok": true, "accepted": body.typeName]
    }

    /// Floods an endpoint with `count` balance requests from a thread of its own, without
    /// waiting for answers, and returns at once: the scenario's next steps run during the flood.
    public func flood(endpoint: String, count: Int) throws -> JSONObject {
        let token = (currentSession ?? SessionToken(Bytes16(high: 0, low: 0))).raw
        let context = zmqContext
        let socket = try context.socket(.dealer)
        try clientSecurity.secure(socket, for: endpoint)
        nonisolated(unsafe) let flooder = socket
        let thread = Thread {
            let socket = flooder
            defer { socket.close() }
            try? socket.setSendHighWaterMark(Int32(max(count, 1000)))
            try? socket.connect(endpoint)
            let codec = WireCodec()
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<count {
                _ = try? socket.send(codec.encode(Envelope(requestID: .random(using: &generator), body: .balance(SessionRequest(session: SessionToken(token))))), flags: .dontWait)
            }
            // Drain answers for a while so the server's replies have somewhere to go.
            try? socket.setReceiveTimeout(milliseconds: 500)
            while (try? socket.receive()) ?? nil != nil {}
        }
        thread.start()
        return ["ok": true, "sending": count]
    }
}
