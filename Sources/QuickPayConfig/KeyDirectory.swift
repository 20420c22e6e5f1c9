import Foundation
import QuickPayCore
import Crypto
import CryptoExtras
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// A deployment's keys in one folder, as `quickpay keys deployment` writes them:
///
/// ```
/// public/<actor>.curve       every actor's CURVE public key (Z85): the part every host gets
/// public/bank.signing        the bank's Ed25519 voucher key (64 hex digits)
/// public/bank.blindkeys      the bank's blind key list, signed with that key
/// bank/blind/<key id>.pem    each blind key's RSA private key (PKCS#8)
/// <actor>/curve.secret       that actor's CURVE secret key (Z85): only on its own host
/// bank/signing.key           the bank's Ed25519 seed
/// appserver/otp.key          the app server's OTP hash key
/// merchant-<id>/receipt.key  the merchant's Ed25519 receipt key
/// operator/curve.secret      the operator's key: the only one the control sockets admit
/// nsp/sims                   every SIM the network provider serves (`phone secret` lines)
/// sims/<phone>.sim           one phone's SIM: only on that phone's device
/// ```
///
/// Actors are named as in a deployment file: `bank`, `appserver`, `nsp`, `merchant-<id>`,
/// `customer-<name>` (a customer's key serves only its control socket: its payments use a
/// fresh key per connection), `operator`.
public struct KeyDirectory: Sendable {
    public let path: String
    public init(_ path: String) { self.path = path }

    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    public func publicKey(_ actor: String) throws -> CurveKey {
        let file = "\(path)/public/\(actor).curve"
        guard let key = CurveKey(z85: try Self.read(file)) else { throw Missing(description: "\(file) does not hold a Z85 CURVE public key") }
        return key
    }

    public func keyPair(_ actor: String) throws -> CurveKeyPair {
        let file = "\(path)/\(actor)/curve.secret"
        try KeyFiles.requirePrivate(file)
        guard let secret = CurveKey(z85: try Self.read(file)) else { throw Missing(description: "\(file) does not hold a Z85 CURVE secret key") }
        return try CurveKeyPair(secretKey: secret)
    }

    /// A secret file of this actor's (`bank/signing.key`, `appserver/otp.key`, ...).
    public func secretFile(_ actor: String, _ name: String) -> String { "\(path)/\(actor)/\(name)" }
    public var bankSigningPublicKeyFile: String { "\(path)/public/bank.signing" }
    public var blindKeyListFile: String { "\(path)/public/bank.blindkeys" }
    public var blindPrivateKeyFolder: String { "\(path)/bank/blind" }

    /// The bank's blind key list, checked against its key; nil if this folder has none.
    public func blindKeyList(bankKey: SigningPublicKey) throws -> BlindKeyList? {
        guard FileManager.default.fileExists(atPath: blindKeyListFile) else { return nil }
        return try BlindKeyCoding.list(file: try Self.read(blindKeyListFile), bankKey: bankKey)
    }

    /// The bank's blind signer: its list and every private key (each file the bank's alone).
    public func blindSigner(bankKey: SigningPublicKey) throws -> BlindSigner? {
        guard let list = try blindKeyList(bankKey: bankKey) else { return nil }
        var pems: [String] = []
        for key in list.keys {
            let file = "\(blindPrivateKeyFolder)/\(key.keyID).pem"
            try KeyFiles.requirePrivate(file)
            pems.append(try Self.read(file))
        }
        return try BlindSigner(list: list, privateKeysPEM: pems)
    }

    /// The network provider's SIM file: every SIM it serves.
    public var networkProviderSims: String { "\(path)/nsp/sims" }
    /// The SIM file of one phone (the device's card).
    public func simFile(_ phone: String) -> String { "\(path)/sims/\(phone).sim" }

    /// Reads a SIM file: one `phone secret` line per SIM (a device's file holds one). It must be
    /// its owner's alone, like every secret.
    public static func readSims(_ file: String) throws -> [SimCard] {
        try KeyFiles.requirePrivate(file)
        return try read(file).split(separator: "\n").map { try SimCard(line: String($0)) }
    }

    /// Every merchant with a public key here, by receiver id.
    public func merchantKeys() throws -> [ReceiverID: CurveKey] {
        var keys: [ReceiverID: CurveKey] = [:]
        for file in (try? FileManager.default.contentsOfDirectory(atPath: "\(path)/public")) ?? [] where file.hasPrefix("merchant-") && file.hasSuffix(".curve") {
            let actor = String(file.dropLast(".curve".count))
            keys[try ReceiverID(String(actor.dropFirst("merchant-".count)))] = try publicKey(actor)
        }
        return keys
    }

    static func read(_ file: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw Missing(description: "cannot read \(file)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes a whole deployment's keys. Existing files are kept unless `force`; the names
    /// of everything written are returned (secrets 0600 in 0700 folders).
    @discardableResult
    public static func create(
        at path: String, merchants: [String], customers: [String], phones: [String] = [], blind: BlindKeyPlan? = BlindKeyPlan(), force: Bool = false
    ) throws -> [String] {
        var generator = SystemRandomNumberGenerator()
        var files: [(String, String)] = []
        var actors = ["bank", "appserver", "nsp", "operator"] + merchants.map { "merchant-\($0)" } + customers.map { "customer-\($0)" }
        actors = actors.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        for actor in actors {
            let pair = try CurveKeyPair.generate()
            files.append(("\(actor)/curve.secret", pair.secretKey.z85))
            files.append(("public/\(actor).curve", pair.publicKey.z85))
        }
        let bankKey = SigningPrivateKey.random(using: &generator)
        files.append(("bank/signing.key", bankKey.seed.hex))
        files.append(("public/bank.signing", bankKey.publicKey.raw.hex))
        if let blind {
            let (list, pems) = try blind.make(signedBy: bankKey)
            files.append(("public/bank.blindkeys", BlindKeyCoding.file(list).trimmingCharacters(in: .newlines)))
            for (key, pem) in zip(list.keys, pems) { files.append(("bank/blind/\(key.keyID).pem", pem.trimmingCharacters(in: .newlines))) }
        }
        files.append(("appserver/otp.key", Bytes32.random(using: &generator).hex))
        for merchant in merchants {
            let receipt = SigningPrivateKey.random(using: &generator)
            files.append(("merchant-\(merchant)/receipt.key", receipt.seed.hex))
            files.append(("public/merchant-\(merchant).receipt", receipt.publicKey.raw.hex))
        }
        // The SIM ceremony: a secret per phone, one copy for the phone's device, all for the provider.
        var sims: [SimCard] = []
        for phone in phones.reduce(into: [String](), { if !$0.contains($1) { $0.append($1) } }) {
            let card = SimCard.random(for: try PhoneNumber(phone), using: &generator)
            sims.append(card)
            files.append(("sims/\(phone).sim", card.line))
        }
        if !sims.isEmpty { files.append(("nsp/sims", sims.map(\.line).joined(separator: "\n"))) }
        if !force {
            for (name, _) in files where FileManager.default.fileExists(atPath: "\(path)/\(name)") {
                throw KeyFiles.WriteError(description: "\(path)/\(name) exists; pass --force to replace the deployment's keys")
            }
        }
        for (name, contents) in files {
            // public/ is meant to be copied to every host: readable by all; secrets 0600 in 0700.
            let isPublic = name.hasPrefix("public/")
            try KeyFiles.createFolder((("\(path)/\(name)") as NSString).deletingLastPathComponent, mode: isPublic ? 0o755 : 0o700)
            try KeyFiles.write("\(path)/\(name)", contents + "\n", mode: isPublic ? 0o644 : 0o600)
        }
        return files.map(\.0)
    }
}

/// Writes key files so that no other user can read them, at any moment.
public enum KeyFiles {
    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func createFolder(_ path: String, mode: Int = 0o700) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw WriteError(description: "\(path) is not a folder") }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: mode])
    }

    /// Refuses a secret file that anyone but its owner may read or write: a key others can read
    /// is a key others may hold. Checked at every actor's start-up, before the key is used.
    public static func requirePrivate(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw WriteError(description: "cannot read \(path): \(String(cString: strerror(errno)))") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw WriteError(description: "\(path) is open to other users (mode \(String(mode, radix: 8))): a secret key must be its owner's alone; run chmod 600 \(path)")
        }
    }

    /// Creates (or truncates) `path` with mode 0600 from the start: the secret is never readable
    /// by others, not even between create and chmod.
    public static func writePrivate(_ path: String, _ contents: String) throws { try write(path, contents, mode: 0o600) }

    /// Replaces `path` at once (a temporary file renamed over it): readers see the old file or
    /// the new one, never half of one. 0600.
    public static func replacePrivate(_ path: String, _ contents: String) throws {
        let temporary = path + ".new"
        try write(temporary, contents, mode: 0o600)
        guard rename(temporary, path) == 0 else { throw WriteError(description: "cannot replace \(path): \(String(cString: strerror(errno)))") }
    }

    /// Creates (or truncates) `path` with `mode` set before anything is written.
    public static func write(_ path: String, _ contents: String, mode: mode_t) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw WriteError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fchmod(descriptor, mode) == 0 else { throw WriteError(description: "cannot chmod \(path)") }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw WriteError(description: "short write to \(path)") }
    }
}

/// Which blind keys a deployment's bank gets: one RSA-2048 key per value (denomination x chain
/// length) per epoch. Epoch i signs loads from `start + i x epoch` to the next; its vouchers
/// can be spent until `validity` after the epoch begins (so a voucher lives `validity - epoch`
/// to `validity`). RSA key generation is slow (~0.1 s a key): `pool` names a folder of
/// ready keys to draw from (test deployments share one; a real bank's keys are made fresh).
public struct BlindKeyPlan: Sendable {
    public static let standardLengths = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    public var denominations: [Denomination] = Denomination.allCases
    public var lengths: [Int] = BlindKeyPlan.standardLengths
    public var start: Timestamp?
    public var epochSeconds: Int64 = 7 * 24 * 3600
    public var epochs = 2
    public var validitySeconds: Int64 = 30 * 24 * 3600
    public var pool: String?
    public init() {}

    /// The signed list and each key's private key (PEM), in the list's order.
    public func make(signedBy bank: SigningPrivateKey) throws -> (BlindKeyList, [String]) {
        guard epochSeconds > 0, epochSeconds <= validitySeconds, epochs >= 1 else {
            throw KeyFiles.WriteError(description: "a blind key epoch must be positive and no longer than the vouchers' validity")
        }
        let now = start ?? Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970) - 60)
        let values = denominations.flatMap { d in lengths.map { (d, $0) } }
        let pems = try Self.rsaKeys(count: values.count * epochs, pool: pool)
        var keys: [BlindKey] = []
        var byID: [KeyID: String] = [:]
        var index = 0
        for epoch in 0..<epochs {
            let from = now.adding(seconds: Int64(epoch) * epochSeconds)
            for (denomination, length) in values {
                let pem = pems[index]
                index += 1
                let signer = try _RSA.BlindSigning.PrivateKey<SHA384>(pemRepresentation: pem)
                let primitives = try signer.publicKey.getKeyPrimitives()
                let key = BlindKey(
                    denomination: denomination, length: try ChainLength(length), validFrom: from, validUntil: from.adding(seconds: epochSeconds),
                    expiry: from.adding(seconds: validitySeconds),
                    publicKey: BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent)))
                keys.append(key)
                byID[key.keyID] = pem
            }
        }
        let list = try BlindKeyList.sign(keys, issuedAt: now, with: bank)
        return (list, list.keys.map { byID[$0.keyID]! })
    }

    /// `count` distinct RSA-2048 private keys (PKCS#8 PEM): from the pool folder if given (made
    /// and added there when it holds fewer), else made now.
    static func rsaKeys(count: Int, pool: String?) throws -> [String] {
        func fresh() throws -> String { try _RSA.BlindSigning.PrivateKey<SHA384>(keySize: .bits2048).pkcs8PEMRepresentation }
        guard let pool else { return try (0..<count).map { _ in try fresh() } }
        try KeyFiles.createFolder(pool)
        var pems: [String] = []
        for index in 0..<count {
            let file = "\(pool)/rsa-\(index).pem"
            if let pem = try? String(contentsOfFile: file, encoding: .utf8) {
                pems.append(pem)
            } else {
                let pem = try fresh()
                try KeyFiles.replacePrivate(file, pem)
                pems.append(pem)
            }
        }
        return pems
    }
}
