import Crypto
import CryptoExtras
import QuickPayActors
import QuickPayCore

/// Blind vouchers in the simulation: one RSA-2048 key per value the simulated customers load,
/// made once per process (key generation is slow) and listed for each world under its bank's
/// key, valid for the whole run. The customers' chain lengths are rounded down to a listed one.
enum SimBlind {
    /// The values: Rs 1 and Rs 5 at these lengths.
    static let lengths: [Denomination: [Int]] = [.rs1: [1, 2, 3, 10, 20, 35, 50], .rs5: [1, 2, 3, 4, 5, 6, 10, 20, 50, 100, 200]]

    static let privateKeys: [String] = lengths.values.flatMap { $0 }.map { _ in
        try! _RSA.BlindSigning.PrivateKey<SHA384>(keySize: .bits2048).pkcs8PEMRepresentation
    }

    /// The world's list (signed by its bank) and the bank's signer.
    static func keys(bank: SigningPrivateKey, from start: Timestamp) throws -> (BlindKeyList, BlindSigner) {
        var keys: [BlindKey] = []
        var index = 0
        for denomination in [Denomination.rs1, .rs5] {
            for length in lengths[denomination]! {
                let signer = try _RSA.BlindSigning.PrivateKey<SHA384>(pemRepresentation: privateKeys[index])
                let primitives = try signer.publicKey.getKeyPrimitives()
                keys.append(BlindKey(
                    denomination: denomination, length: try ChainLength(length), validFrom: start.adding(seconds: -86_400),
                    validUntil: start.adding(seconds: 30 * 86_400), expiry: start.adding(seconds: 60 * 86_400),
                    publicKey: BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent))))
                index += 1
            }
        }
        let list = try BlindKeyList.sign(keys, issuedAt: start, with: bank)
        return (list, try BlindSigner(list: list, privateKeysPEM: privateKeys))
    }

    /// A load's counts with each length rounded down to a listed one (at least the shortest).
    static func listed(_ counts: [Denomination: Int]) -> [Denomination: Int] {
        counts.reduce(into: [:]) { out, entry in
            guard let listed = lengths[entry.key] else { return }
            out[entry.key] = listed.last(where: { $0 <= entry.value }) ?? listed[0]
        }
    }
}
