import Crypto
import CryptoExtras
import Foundation
import Testing
@testable import QuickPayCore

/// The bank's signed list of blind-signing keys, and a voucher message blinded by our client
/// code, signed by swift-crypto's blind signer under a listed key, finalized and checked against
/// the list (the path the unlinkable-voucher work will take).
struct BlindKeyListTests {
    static let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
    static let day: Int64 = 86_400
    /// Two real RSA-2048 keys (made once: key generation is slow).
    static let signers: [_RSA.BlindSigning.PrivateKey<SHA384>] = (0..<2).map { _ in
        try! _RSA.BlindSigning.PrivateKey<SHA384>(keySize: .bits2048, parameters: .RSABSSA_SHA384_PSS_Deterministic)
    }
    static func publicKey(_ signer: _RSA.BlindSigning.PrivateKey<SHA384>) -> BlindRSA.PublicKey {
        let primitives = try! signer.publicKey.getKeyPrimitives()
        return BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent))
    }
    static func key(_ signer: Int, _ d: Denomination = .rs1, days: ClosedRange<Int64> = 0...30) -> BlindKey {
        BlindKey(
            denomination: d, length: try! ChainLength(1000), validFrom: t0.adding(seconds: days.lowerBound * day),
            validUntil: t0.adding(seconds: days.upperBound * day),
            expiry: t0.adding(seconds: (days.upperBound + 30) * day), publicKey: publicKey(signers[signer]))
    }
    let bank = SigningPrivateKey(seed: Bytes32.sha256(of: Array("bank".utf8)))

    @Test func aSignedListVerifiesAndATamperedOneDoesNot() throws {
        let list = try BlindKeyList.sign([Self.key(0), Self.key(1, .rs5)], issuedAt: Self.t0, with: bank)
        let received = try BlindKeyList.verified(keys: list.keys.reversed(), issuedAt: list.issuedAt, signature: list.signature, bankKey: bank.publicKey)
        #expect(received == list)
        // Another denomination for the same key: the signature no longer holds.
        let tampered = [Self.key(0, .rs10), Self.key(1, .rs5)]
        #expect(throws: QuickPayError.self) {
            _ = try BlindKeyList.verified(keys: tampered, issuedAt: list.issuedAt, signature: list.signature, bankKey: bank.publicKey)
        }
        let stranger = SigningPrivateKey(seed: Bytes32.sha256(of: Array("not the bank".utf8)))
        #expect(throws: QuickPayError.self) {
            _ = try BlindKeyList.verified(keys: list.keys, issuedAt: list.issuedAt, signature: list.signature, bankKey: stranger.publicKey)
        }
    }

    @Test func oneKeyPerValueAtAnyMoment() throws {
        #expect(throws: QuickPayError.self) { _ = try BlindKeyList.sign([Self.key(0), Self.key(1, days: 20...50)], issuedAt: Self.t0, with: bank) }
        // One RSA key under two entries (here two epochs; worse, two values) is refused.
        #expect(throws: QuickPayError.self) { _ = try BlindKeyList.sign([Self.key(0), Self.key(0, .rs5, days: 30...60)], issuedAt: Self.t0, with: bank) }
        // Back to back epochs of one value are fine; the lookup takes the one of the moment.
        let list = try BlindKeyList.sign([Self.key(0), Self.key(1, days: 30...60)], issuedAt: Self.t0, with: bank)
        let one = try ChainLength(1000)
        #expect(list.key(for: .rs1, length: one, at: Self.t0.adding(seconds: 29 * Self.day))?.publicKey == Self.key(0).publicKey)
        #expect(list.key(for: .rs1, length: one, at: Self.t0.adding(seconds: 30 * Self.day))?.publicKey == Self.key(1).publicKey)
        #expect(list.key(for: .rs1, length: one, at: Self.t0.adding(seconds: 61 * Self.day)) == nil)
        #expect(list.key(for: .rs5, length: one, at: Self.t0) == nil)
    }

    @Test func aShortKeyIsRefused() {
        let short = BlindKey(
            denomination: .rs1, length: try! ChainLength(10), validFrom: Self.t0, validUntil: Self.t0.adding(seconds: 10),
            expiry: Self.t0.adding(seconds: 10), publicKey: BlindRSA.PublicKey(modulus: [0xC0] + [UInt8](repeating: 1, count: 127), exponent: [1, 0, 1]))
        #expect(throws: QuickPayError.self) { _ = try BlindKeyList.sign([short], issuedAt: Self.t0, with: bank) }
    }

    @Test func aVoucherMessageIsBlindedSignedFinalizedAndCheckedAgainstTheList() throws {
        let list = try BlindKeyList.sign([Self.key(0), Self.key(1, .rs5)], issuedAt: Self.t0, with: bank)
        let key = try #require(list.key(for: .rs5, length: try ChainLength(1000), at: Self.t0))
        let owner = SigningPrivateKey(seed: Bytes32.sha256(of: Array("owner".utf8)))
        let message = BlindVoucherMessage.bytes(keyID: key.keyID, receiver: try ReceiverID("chai-stall"), root: .sha256(of: [1]), ownerKey: owner.publicKey)
        #expect(message.count == BlindVoucherMessage.byteCount)
        #expect(BlindVoucherMessage.bytes(keyID: key.keyID, receiver: try ReceiverID("a-much-longer-receiver-name"), root: .sha256(of: [2]), ownerKey: owner.publicKey).count == message.count)
        var generator = SystemRandomNumberGenerator()
        let r = (0..<key.publicKey.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let salt = (0..<48).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let (blinded, inverse) = try BlindRSA.blind(message, key: key.publicKey, variant: .pss, salt: salt, r: r)
        // The bank signs with the private key of the listed key (swift-crypto's blind signer).
        let answer = try Self.signers[1].blindSignature(for: Data(blinded))
        let signature = try BlindRSA.finalize(Array(answer.rawRepresentation), prepared: message, key: key.publicKey, variant: .pss, inverse: inverse)
        // A merchant finds the key by the id in the message and checks the signature.
        let named = try #require(list.key(id: KeyID(message[1...8])!))
        #expect(BlindRSA.verify(signature, prepared: message, key: named.publicKey, variant: .pss))
        // The same signature under the other listed key does not verify.
        #expect(!BlindRSA.verify(signature, prepared: message, key: Self.key(0).publicKey, variant: .pss))
    }
}
