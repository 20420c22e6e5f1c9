import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import Testing

/// The bank with blind vouchers on a real SQLite file: what a voucher's first sight must not
/// allow (found by review; each failed on the code before its fix).
struct BlindBankTests {
    typealias Bank = LinkabilityTests.Bank

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
}
