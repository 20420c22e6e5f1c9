import Crypto
import CryptoExtras
import Foundation
import QuickPayActors
import QuickPayAudit
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import QuickPayStore
import Testing

/// The unlinkability check on a real bank file: what the bank wrote at a load and at the
/// redemption of the same voucher share no value with blind vouchers, and do with Ed25519 ones
/// (the check can fail).
struct LinkabilityTests {
    final class Bank {
        let path: String
        var core: HostCore<BankActor>
        let list: BlindKeyList
        let key: BlindKey
        let chai = try! ReceiverID("chai-stall")
        let alice = try! AccountID("ACC-ALICE")
        var g = SplitMix64(seed: 5)
        let codec = WireCodec()
        let time = HostTime(milliseconds: 0, now: Timestamp(secondsSinceEpoch: 1_800_000_000))

        init() throws {
            path = NSTemporaryDirectory() + "quickpay-link-\(UUID().uuidString.prefix(8))/bank.sqlite"
            let store = try SQLiteBankStore(path: path)
            try store.seed(alice, deposit: Amount(paise: 100_000), receiver: nil)
            try store.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (chai, .offline))
            let signer = BankSigner(privateKey: .random(using: &g))
            // Keys: Rs 5 x 4 (the vouchers here), Re 1 x 1 and Rs 5 x 1 (a wallet refreshes only when
            // the keys can make any amount a voucher may leave, in 16 vouchers).
            let rsa = try (0..<3).map { _ in try _RSA.BlindSigning.PrivateKey<SHA384>(keySize: .bits2048) }
            let t0 = time.now
            let keys = try zip([(Denomination.rs5, 4), (.rs1, 1), (.rs5, 1)], rsa).map { value, signer in
                let primitives = try signer.publicKey.getKeyPrimitives()
                return BlindKey(
                    denomination: value.0, length: try ChainLength(value.1), validFrom: t0.adding(seconds: -60), validUntil: t0.adding(seconds: 86_400),
                    expiry: t0.adding(seconds: 30 * 86_400), publicKey: BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent)))
            }
            key = keys[0]
            list = try BlindKeyList.sign(keys, issuedAt: t0, with: signer.privateKey)
            try store.registerBlindKeys(list.keys)
            core = HostCore(
                actor: BankActor(store: store, signer: signer, blind: try BlindSigner(list: list, privateKeysPEM: rsa.map(\.pemRepresentation)), random: SplitMix64(seed: 6)),
                journal: store)
        }

        func ask(_ body: Body, from client: UInt8) throws -> Body {
            let drained = core.drain([.request(ClientID([client]), codec.encode(Envelope(requestID: .random(using: &g), body: body)))], at: time)
            for case .toClient(_, let frame) in drained.frames { return try codec.decode(frame).body }
            throw QuickPayError(.internal, "no answer")
        }

        func snapshot() throws -> [Linkability.Cell] { try Linkability.snapshot(path) }
    }

    /// Load (app server's key 1), then redeem two coins (the merchant's key 2): the two records.
    func records(blind: Bool) throws -> (load: [Linkability.Cell], redemption: [Linkability.Cell]) {
        let bank = try Bank()
        let chain = HashChain(seed: .random(using: &bank.g), length: bank.key.length)
        let owner = SigningPrivateKey.random(using: &bank.g)
        let s0 = try bank.snapshot()
        let voucher: SignedVoucher
        if blind {
            let request = try BlindVoucherRequest(key: bank.key, receiver: bank.chai, root: chain.root, ownerKey: owner.publicKey, secret: .random(using: &bank.g))
            guard case .loadReply(let reply) = try bank.ask(.bankLoad(LoadRequest(
                account: bank.alice, content: .blinded([BlindedChain(keyID: bank.key.keyID, blindedMessage: request.blindedMessage)]))), from: 1)
            else { throw QuickPayError(.internal, "load") }
            voucher = try request.finalize(reply.blindSignatures[0])
        } else {
            guard case .loadReply(let reply) = try bank.ask(.bankLoad(LoadRequest(account: bank.alice, receiverID: bank.chai, chains: [
                ChainRequest(denomination: .rs5, length: chain.length, root: chain.root, ownerKey: owner.publicKey)])), from: 1)
            else { throw QuickPayError(.internal, "load") }
            voucher = reply.vouchers[0]
        }
        let s1 = try bank.snapshot()
        let coin = Coin(voucherID: voucher.id, index: 2, value: chain.element(at: 2))
        guard case .redeemReply(let redeemed) = try bank.ask(
            .redeem(Redeem(receiverID: bank.chai, coins: [coin], mode: .offline, vouchers: blind ? [voucher] : [])), from: 2),
            redeemed.totalCredited == Amount(paise: 1000)
        else { throw QuickPayError(.internal, "redeem") }
        let s2 = try bank.snapshot()
        return (Linkability.added(before: s0, after: s1), Linkability.added(before: s1, after: s2))
    }

    @Test func aBlindVouchersLoadAndRedemptionShareNoValue() throws {
        let (load, redemption) = try records(blind: true)
        #expect(!load.isEmpty && !redemption.isEmpty)
        #expect(!load.contains { $0.table == "vouchers" }, "a blind load writes no voucher row")
        #expect(Linkability.links(load, redemption).isEmpty, "\(Linkability.links(load, redemption))")
    }

    @Test func anEd25519VouchersLoadAndRedemptionAreLinked() throws {
        let (load, redemption) = try records(blind: false)
        #expect(!Linkability.links(load, redemption).isEmpty)
    }

    @Test func framingAndFloatNamesAreNotLinksButAnIDIs() {
        let id = (0..<16).map { UInt8($0 * 13 + 7) }
        func blob(_ bytes: [UInt8]) -> Linkability.Cell { Linkability.Cell(table: "t", column: "c", bytes: bytes, isText: false) }
        func text(_ value: String) -> Linkability.Cell { Linkability.Cell(table: "t", column: "c", bytes: Array(value.utf8), isText: true) }
        let framing = [0x08, 0x01, 0x12, 0x10] + [UInt8](repeating: 0, count: 16)
        #expect(Linkability.links([blob(framing), text("float:key:00aa"), text("float:vouchers")], [blob(framing + [1]), text("float:key:00aa"), text("float:vouchers")]).isEmpty)
        #expect(Linkability.links([blob([9, 9] + id + [1])], [blob([3] + id)]).count == 1)
        #expect(Linkability.links([text("ACC-ALICE")], [blob(Array("xxACC-ALICEyy".utf8))]).count == 1)
    }
}
