import Crypto
import CryptoExtras
import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import QuickPayStore
import Testing

/// The bank with blind vouchers on a real SQLite file: what a voucher's first sight must not
/// allow (found by review; each failed on the code before its fix).
struct BlindBankTests {
    typealias Bank = LinkabilityTests.Bank

    /// A list of Re 1 keys of these lengths (fresh RSA keys), valid for a day from `t0`.
    static func rupeeKeys(_ lengths: [Int], from t0: Timestamp, generator: inout SplitMix64) throws -> (BlindKeyList, [BlindKey]) {
        let keys = try lengths.map { length in
            let primitives = try _RSA.BlindSigning.PrivateKey<SHA384>(keySize: .bits2048).publicKey.getKeyPrimitives()
            return BlindKey(
                denomination: .rs1, length: try ChainLength(length), validFrom: t0, validUntil: t0.adding(seconds: 86_400), expiry: t0.adding(seconds: 86_400),
                publicKey: BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent)))
        }
        return (try BlindKeyList.sign(keys, issuedAt: t0, with: SigningPrivateKey.random(using: &generator)), keys)
    }

    func load(_ bank: Bank, root: Bytes32, receiver: ReceiverID, owner: SigningPrivateKey) throws -> SignedVoucher {
        let request = try BlindVoucherRequest(key: bank.key, receiver: receiver, root: root, ownerKey: owner.publicKey, secret: .random(using: &bank.g))
        guard case .loadReply(let reply) = try bank.ask(.bankLoad(LoadRequest(
            account: bank.alice, content: .blinded([BlindedChain(keyID: bank.key.keyID, blindedMessage: request.blindedMessage)]))), from: 1)
        else { throw QuickPayError(.internal, "load") }
        return try request.finalize(reply.blindSignatures[0])
    }

    /// Someone who learned a voucher's chain root (its merchant, at the first payment) loads a
    /// voucher of their own on that root and gets it seen first: the victim's voucher must still
    /// be redeemable (each blind voucher was paid for; coins name the voucher id).
    @Test func aSquattedRootStrandsNothing() throws {
        let bank = try Bank()
        let chain = HashChain(seed: .random(using: &bank.g), length: bank.key.length)
        let victim = try load(bank, root: chain.root, receiver: bank.chai, owner: .random(using: &bank.g))
        let squatter = try load(bank, root: chain.root, receiver: bank.chai, owner: .random(using: &bank.g))
        guard case .redeemReply(let first) = try bank.ask(.redeem(Redeem(
            receiverID: bank.chai, coins: [Coin(voucherID: squatter.id, index: 1, value: chain.element(at: 1))], mode: .offline, vouchers: [squatter])), from: 2)
        else { throw QuickPayError(.internal, "redeem") }
        #expect(first.totalCredited == Amount(paise: 500))
        guard case .redeemReply(let second) = try bank.ask(.redeem(Redeem(
            receiverID: bank.chai, coins: [Coin(voucherID: victim.id, index: 2, value: chain.element(at: 2))], mode: .offline, vouchers: [victim])), from: 2)
        else { throw QuickPayError(.internal, "redeem") }
        #expect(second.totalCredited == Amount(paise: 1000), "\(second.results)")
    }

    /// A blind voucher names its receiver only inside the blinded message: one for a receiver the
    /// bank does not know can reach no merchant, and its unload refunds it whole at once.
    @Test func aVoucherForAnUnknownReceiverIsRefundedWhole() throws {
        let bank = try Bank()
        let owner = SigningPrivateKey.random(using: &bank.g)
        let ghost = try ReceiverID("no-such-shop")
        let voucher = try load(bank, root: .random(using: &bank.g), receiver: ghost, owner: owner)
        let authorization = UnloadAuthorization.sign(
            unloadID: .random(using: &bank.g), voucherID: voucher.id, destination: .bankAccount, account: bank.alice, ownerKey: owner)
        let answer = try bank.ask(.bankUnload(UnloadRequest(account: bank.alice, authorization: authorization, voucher: voucher)), from: 1)
        guard case .unloadReply(let reply) = answer else { throw QuickPayError(.internal, "unload: \(answer)") }
        #expect(reply.refunded == bank.key.faceValue && reply.pendingUntil == nil)
    }

    /// An unload to REFRESH names no account on the wire to the bank (the refresh exists so the
    /// bank cannot tie the voucher to an account).
    @Test func anUnloadToRefreshCarriesNoAccount() throws {
        let bank = try Bank()
        let owner = SigningPrivateKey.random(using: &bank.g)
        let voucher = try load(bank, root: .random(using: &bank.g), receiver: try ReceiverID("no-such-shop"), owner: owner)
        let authorization = UnloadAuthorization.sign(unloadID: .random(using: &bank.g), voucherID: voucher.id, destination: .refresh, ownerKey: owner)
        let request = UnloadRequest(account: nil, authorization: authorization, voucher: voucher)
        let frame = WireCodec().encode(Envelope(requestID: .random(using: &bank.g), body: .bankUnload(request)))
        guard case .bankUnload(let decoded) = try WireCodec().decode(frame).body else { throw QuickPayError(.internal, "decode") }
        #expect(decoded.account == nil)
        guard case .unloadReply(let reply) = try bank.ask(.bankUnload(request), from: 1) else { throw QuickPayError(.internal, "unload") }
        #expect(reply.refunded == bank.key.faceValue)
    }

    /// A refresh whose planning fails (no key of the moment) after the bank already holds the
    /// refund: the wallet keeps the held amount, across a reopen of its file, and a later refresh
    /// takes it whole.
    @Test func aHeldRefundSurvivesAFailedPlanAndARestart() throws {
        let bank = try Bank()
        let owner = SigningPrivateKey.random(using: &bank.g)
        let seed = Bytes32.random(using: &bank.g)
        let chain = HashChain(seed: seed, length: bank.key.length)
        // For a receiver the bank does not know: the unload closes at once (no merchant to settle with).
        let voucher = try load(bank, root: chain.root, receiver: try ReceiverID("no-such-shop"), owner: owner)
        var wallet = Wallet(vouchers: [WalletVoucher(voucher: voucher, seed: seed, ownerSeed: owner.seed)])
        let unload = try wallet.beginRefreshUnload(voucher.id, blindKeys: bank.list, now: bank.time.now)
        let request = try wallet.unloadRequest(voucher.id, destination: .refresh, unloadID: unload.unloadID, session: SessionToken(.random(using: &bank.g)), account: nil)
        let answer = try bank.ask(.bankUnload(UnloadRequest(account: nil, authorization: request.authorization, voucher: request.voucher)), from: 1)
        guard case .done = wallet.finishUnload(voucher.id, answer) else { throw QuickPayError(.internal, "unload: \(answer)") }
        #expect(wallet.heldRefunds[voucher.id] == bank.key.faceValue)
        // Two days on, no key signs loads: planning fails, and nothing is forgotten.
        let later = bank.time.now.adding(seconds: 2 * 86_400)
        #expect(throws: QuickPayError.self) { _ = try wallet.beginRefresh(voucher.id, receiver: bank.chai, blindKeys: bank.list, now: later, using: &bank.g) }
        let path = NSTemporaryDirectory() + "quickpay-held-\(UUID().uuidString.prefix(8)).sqlite"
        try SQLiteWalletStore(path: path).save(wallet)
        var reopened = try SQLiteWalletStore(path: path).load()
        #expect(reopened.heldRefunds[voucher.id] == bank.key.faceValue)
        // With a key of the moment, the refresh takes what is held, whole.
        let refresh = try reopened.beginRefresh(voucher.id, receiver: bank.chai, blindKeys: bank.list, now: bank.time.now, using: &bank.g)
        let reply = try bank.ask(.bankRefresh(try reopened.refreshRequest(refresh, session: SessionToken(.random(using: &bank.g)))), from: 1)
        guard case .done(let made) = reopened.finishRefresh(reply, keyring: BankKeyring([], blindKeys: bank.list), now: bank.time.now) else {
            throw QuickPayError(.internal, "refresh: \(reply)")
        }
        #expect(try Amount.sum(made.map(\.commitment.faceValue)) == bank.key.faceValue)
        #expect(reopened.heldRefunds.isEmpty && reopened.pendingRefresh == nil)
    }

    /// A count no key's length matches is loaded as several vouchers of listed lengths (a
    /// deployment's keys cover a few lengths, a customer asks for any count).
    @Test func aCountIsMadeOfListedLengths() throws {
        let bank = try Bank()
        let t0 = bank.time.now
        let (list, _) = try Self.rupeeKeys([1, 2], from: t0, generator: &bank.g)
        let chains = try Wallet.prepareLoad(counts: [.rs1: 5], blindKeys: list, now: t0, using: &bank.g)
        #expect(chains.map(\.request.length.value) == [2, 2, 1])
        #expect(throws: QuickPayError.self) { _ = try Wallet.prepareLoad(counts: [.rs1: 40], blindKeys: list, now: t0, using: &bank.g) }
        #expect(throws: QuickPayError.self) { _ = try Wallet.prepareLoad(counts: [.rs5: 2], blindKeys: list, now: t0, using: &bank.g) }
    }

    /// A refresh of a voucher whose unload to an account is still pending (its answer lost)
    /// waits for that unload: reusing it would sign its unload id for REFRESH and, if the bank
    /// took that one, hold a refund the wallet never records.
    @Test func aRefreshWaitsForAPendingUnloadToAnAccount() throws {
        let bank = try Bank()
        let owner = SigningPrivateKey.random(using: &bank.g)
        let seed = Bytes32.random(using: &bank.g)
        let voucher = try load(bank, root: HashChain(seed: seed, length: bank.key.length).root, receiver: bank.chai, owner: owner)
        var wallet = Wallet(vouchers: [WalletVoucher(voucher: voucher, seed: seed, ownerSeed: owner.seed)])
        #expect(wallet.beginUnloads(destination: .bankAccount).count == 1)
        #expect(throws: QuickPayError.self) { _ = try wallet.beginRefreshUnload(voucher.id, blindKeys: bank.list, now: bank.time.now) }
        #expect(wallet.pendingUnloads[voucher.id]?.destination == .bankAccount)
    }

    /// Whether the keys can make every refund a voucher may leave: with Re 1 x 1 and Re 1 x 100,
    /// a Rs 100 voucher could leave Rs 99 (99 vouchers): refused before the unload to REFRESH.
    @Test func aRefreshIsRefusedWhenSomeRefundCouldNotBeMade() throws {
        let bank = try Bank()
        let t0 = bank.time.now
        let (list, keys) = try Self.rupeeKeys([1, 100], from: t0, generator: &bank.g)
        let owner = SigningPrivateKey.random(using: &bank.g)
        let seed = Bytes32.random(using: &bank.g)
        let request = try BlindVoucherRequest(
            key: keys[1], receiver: bank.chai, root: HashChain(seed: seed, length: keys[1].length).root, ownerKey: owner.publicKey, secret: .random(using: &bank.g))
        let commitment = request.commitment
        let voucher = SignedVoucher(commitment: commitment, proof: .blindRSA(prefix: request.prefix, signature: [UInt8](repeating: 1, count: 256)))
        var wallet = Wallet(vouchers: [WalletVoucher(voucher: voucher, seed: seed, ownerSeed: owner.seed)])
        #expect(throws: QuickPayError.self) { _ = try wallet.beginRefreshUnload(voucher.id, blindKeys: list, now: t0) }
        // Rs 6 from the values {1, 100} takes six vouchers; Rs 99 ninety-nine (over 16: refused).
        let fewest = Wallet.fewestChains(upTo: 100, blindKeys: list, now: t0)
        #expect(fewest[6] == 6 && fewest[99] == 99 && fewest[100] == 1)
    }
}
