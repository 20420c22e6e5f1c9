import Crypto
import CryptoExtras
import Foundation
import Testing
@testable import QuickPayCore

/// RFC 9474's published test vectors (Appendix A; the same file swift-crypto's tests carry),
/// through our own Prepare, Blind and Finalize, bit for bit; the signer's side through both our
/// modular exponentiation and swift-crypto's `_RSA.BlindSigning`.
struct BlindRSATests {
    struct Vector: Decodable {
        var name, p, q, n, e, d, msg, msg_prefix, prepared_msg, salt, inv, blinded_msg, blind_sig, sig: String
    }

    static let vectors: [Vector] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/rfc9474.json")
        return try! JSONDecoder().decode([Vector].self, from: Data(contentsOf: url))
    }()

    static func hex(_ text: String) -> [UInt8] { HexCoding.decode(text)! }

    func variant(_ vector: Vector) -> BlindRSA.Variant { vector.salt.isEmpty ? .pssZero : .pss }

    @Test func theFileHoldsTheFourVariants() {
        #expect(Self.vectors.map(\.name) == [
            "RSABSSA-SHA384-PSS-Randomized", "RSABSSA-SHA384-PSSZERO-Randomized", "RSABSSA-SHA384-PSS-Deterministic", "RSABSSA-SHA384-PSSZERO-Deterministic",
        ])
    }

    @Test(arguments: vectors.indices)
    func ourClientSideMatchesTheVectorBitForBit(_ index: Int) throws {
        let v = Self.vectors[index]
        let key = BlindRSA.PublicKey(modulus: Self.hex(v.n), exponent: Self.hex(v.e))
        let prepared = try BlindRSA.prepare(Self.hex(v.msg), prefix: v.msg_prefix.isEmpty ? nil : Self.hex(v.msg_prefix))
        #expect(prepared == Self.hex(v.prepared_msg))
        // The vector gives inv; the blinding factor r is its inverse.
        let r = try #require(BlindRSA.inverse(of: Self.hex(v.inv), modulus: Self.hex(v.n)))
        let (blinded, inverse) = try BlindRSA.blind(prepared, key: key, variant: variant(v), salt: Self.hex(v.salt), r: r)
        #expect(blinded == Self.hex(v.blinded_msg))
        #expect(inverse == Self.hex(v.inv))
        #expect(BlindRSA.blindSignature(blinded, modulus: Self.hex(v.n), privateExponent: Self.hex(v.d)) == Self.hex(v.blind_sig))
        let signature = try BlindRSA.finalize(Self.hex(v.blind_sig), prepared: prepared, key: key, variant: variant(v), inverse: inverse)
        #expect(signature == Self.hex(v.sig))
    }

    @Test(arguments: vectors.indices)
    func swiftCryptosSignerAndVerifierAgreeWithUs(_ index: Int) throws {
        let v = Self.vectors[index]
        let parameters: _RSA.BlindSigning.Parameters<SHA384> = switch (v.salt.isEmpty, v.msg_prefix.isEmpty) {
        case (false, false): .RSABSSA_SHA384_PSS_Randomized
        case (true, false): .RSABSSA_SHA384_PSSZERO_Randomized
        case (false, true): .RSABSSA_SHA384_PSS_Deterministic
        case (true, true): .RSABSSA_SHA384_PSSZERO_Deterministic
        }
        let signer = try _RSA.BlindSigning.PrivateKey(
            n: Data(Self.hex(v.n)), e: Data(Self.hex(v.e)), d: Data(Self.hex(v.d)), p: Data(Self.hex(v.p)), q: Data(Self.hex(v.q)), parameters: parameters)
        let key = BlindRSA.PublicKey(modulus: Self.hex(v.n), exponent: Self.hex(v.e))
        let prepared = Self.hex(v.prepared_msg)
        // A fresh blinding of our own, signed by swift-crypto (the bank's side), finalized by us.
        var generator = SystemRandomNumberGenerator()
        let r = (0..<key.byteCount).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let salt = (0..<variant(v).saltLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let (blinded, inverse) = try BlindRSA.blind(prepared, key: key, variant: variant(v), salt: salt, r: r)
        let answer = try signer.blindSignature(for: Data(blinded))
        let signature = try BlindRSA.finalize(Array(answer.rawRepresentation), prepared: prepared, key: key, variant: variant(v), inverse: inverse)
        // swift-crypto verifies what we finalized: as a plain RSASSA-PSS signature (salt = 48
        // bytes, its PSS padding), and through the blind-signing key (Deterministic: the
        // prepared message is the message itself).
        let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: Data(signature))
        if variant(v) == .pss {
            let plain = try _RSA.Signing.PublicKey(n: Data(Self.hex(v.n)), e: Data(Self.hex(v.e)))
            #expect(plain.isValidSignature(rsaSignature, for: SHA384.hash(data: prepared), padding: .PSS))
        }
        if v.msg_prefix.isEmpty {
            #expect(signer.publicKey.isValidSignature(rsaSignature, for: signer.publicKey.prepare(Data(prepared))))
        }
    }

    @Test func aTamperedAnswerOrAnotherMessageIsRefused() throws {
        let v = Self.vectors[0]
        let key = BlindRSA.PublicKey(modulus: Self.hex(v.n), exponent: Self.hex(v.e))
        let prepared = Self.hex(v.prepared_msg)
        var tampered = Self.hex(v.blind_sig)
        tampered[tampered.count - 1] ^= 1
        #expect(throws: BlindRSA.Failure.self) {
            _ = try BlindRSA.finalize(tampered, prepared: prepared, key: key, variant: .pss, inverse: Self.hex(v.inv))
        }
        #expect(BlindRSA.verify(Self.hex(v.sig), prepared: prepared, key: key, variant: .pss))
        #expect(!BlindRSA.verify(Self.hex(v.sig), prepared: prepared + [0], key: key, variant: .pss))
        #expect(!BlindRSA.verify(Self.hex(v.sig), prepared: prepared, key: key, variant: .pssZero))
    }
}
