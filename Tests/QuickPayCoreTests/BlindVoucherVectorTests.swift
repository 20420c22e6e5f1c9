import Crypto
import CryptoExtras
import Foundation
import Testing
@testable import QuickPayCore

/// QuickPay's own blind-voucher vector (Vectors/quickpay-blind-voucher.json): fixed inputs (RFC
/// 9474's test key, a secret, a receiver, a chain, an owner key) and every value PROTOCOL.md 7.6
/// derives from them. This test holds our code to the file; scripts/check-blind-vector.py
/// recomputes the file from the document alone, in Python with nothing but its standard library.
/// QUICKPAY_WRITE_BLIND_VECTOR=1 writes the file from the code (then check it with the script).
struct BlindVoucherVectorTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors/quickpay-blind-voucher.json")

    static func hex(_ text: String) -> [UInt8] { HexCoding.decode(text)! }

    /// Everything derived from the inputs, as hex strings.
    static func derive() throws -> [String: String] {
        let rfc = BlindRSATests.vectors[0]
        let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let key = BlindKey(
            denomination: .rs5, length: try ChainLength(10), validFrom: t0, validUntil: t0.adding(seconds: 7 * 86_400),
            expiry: t0.adding(seconds: 30 * 86_400), publicKey: BlindRSA.PublicKey(modulus: hex(rfc.n), exponent: hex(rfc.e)))
        let chain = HashChain(seed: Bytes32(hex: String(repeating: "00", count: 32))!, length: key.length)
        let owner = SigningPrivateKey(seed: Bytes32(hex: String(repeating: "11", count: 32))!)
        let secret = Bytes32(hex: String(repeating: "22", count: 32))!
        let receiver = try ReceiverID("chai-stall")
        let request = try BlindVoucherRequest(key: key, receiver: receiver, root: chain.root, ownerKey: owner.publicKey, secret: secret)
        // The bank's side (swift-crypto's signer with the RFC's key; our own modular exponentiation
        // would take seconds in a debug build).
        let signer = try _RSA.BlindSigning.PrivateKey(
            n: Data(hex(rfc.n)), e: Data(hex(rfc.e)), d: Data(hex(rfc.d)), p: Data(hex(rfc.p)), q: Data(hex(rfc.q)), parameters: .RSABSSA_SHA384_PSS_Randomized)
        let blindSignature = Array(try signer.blindSignature(for: Data(request.blindedMessage)).rawRepresentation)
        let voucher = try request.finalize(blindSignature)
        guard case .blindRSA(let prefix, let signature) = voucher.proof else { throw QuickPayError(.internal, "not blind") }
        return [
            "n": rfc.n, "e": rfc.e, "d": rfc.d, "key_bytes": HexCoding.encode(BlindKeyCoding.bytes(key)), "key_id": key.keyID.description,
            "receiver": receiver.value, "root": chain.root.hex, "owner_key": owner.publicKey.raw.hex, "secret": secret.hex,
            "message": HexCoding.encode(BlindVoucher.message(of: voucher.commitment)), "prefix": prefix.hex,
            "salt": HexCoding.encode(BlindVoucherRequest.derive(secret, "QuickPay/blind/salt/v1", 48)),
            "voucher_id": voucher.id.raw.hex, "blinded_message": HexCoding.encode(request.blindedMessage),
            "blind_signature": HexCoding.encode(blindSignature), "signature": HexCoding.encode(signature),
        ]
    }

    @Test func ourCodeMatchesTheVectorFile() throws {
        let derived = try Self.derive()
        if ProcessInfo.processInfo.environment["QUICKPAY_WRITE_BLIND_VECTOR"] != nil {
            try JSONSerialization.data(withJSONObject: derived, options: [.prettyPrinted, .sortedKeys]).write(to: Self.file)
        }
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.file)) as? [String: String])
        #expect(stored == derived)
    }
}
