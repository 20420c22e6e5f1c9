import Crypto
import Foundation

/// A phone's SIM: the secret (like a SIM's Ki) that only the SIM in the phone and the network
/// provider hold. The provider proves a device holds it by a challenge (`answer`); the secret
/// itself never travels. SMS waiting at the provider for the phone are sealed with a key
/// derived from it (`sealingKey`), so the provider's database holds no readable code.
public struct SimCard: Hashable, Sendable {
    public let phone: PhoneNumber
    public let secret: Bytes32

    public init(phone: PhoneNumber, secret: Bytes32) {
        self.phone = phone
        self.secret = secret
    }

    public static func random(for phone: PhoneNumber, using generator: inout some RandomNumberGenerator) -> SimCard {
        SimCard(phone: phone, secret: .random(using: &generator))
    }

    /// HMAC-SHA256(secret, "QuickPay/attach/v1" || phone || 0x00 || nonce): bound to the phone and
    /// to the provider's one-time nonce, so an answer is worth nothing for another phone or twice.
    public func answer(_ nonce: Bytes32) -> Bytes32 {
        let message = Array("QuickPay/attach/v1".utf8) + Array(phone.value.utf8) + [0] + nonce.bytes
        let tag = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: secret.bytes))
        return tag.withUnsafeBytes { Bytes32($0)! }
    }

    /// The key an SMS waiting for this phone is sealed under (HKDF-SHA256, one key per SMS id).
    public func sealingKey(smsID: Bytes16) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret.bytes), salt: Array("QuickPay/sms/v1".utf8), info: smsID.bytes, outputByteCount: 32)
    }

    /// The text sealed (ChaCha20-Poly1305, the SMS id as associated data): what the provider keeps at rest.
    public func seal(_ text: String, smsID: Bytes16) throws -> [UInt8] {
        Array(try ChaChaPoly.seal(Array(text.utf8), using: sealingKey(smsID: smsID), authenticating: smsID.bytes).combined)
    }

    /// The text back, or nil if `sealed` was not sealed for this SIM and SMS.
    public func open(_ sealed: [UInt8], smsID: Bytes16) -> String? {
        guard let box = try? ChaChaPoly.SealedBox(combined: sealed),
            let bytes = try? ChaChaPoly.open(box, using: sealingKey(smsID: smsID), authenticating: smsID.bytes)
        else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The SIM file's text: `phone secret-hex`, one line (what the key ceremony hands the device).
    public var line: String { "\(phone.value) \(secret.hex)" }

    /// A SIM from its file's line.
    public init(line: String) throws(QuickPayError) {
        let parts = line.split(whereSeparator: \.isWhitespace).map(String.init)
        guard parts.count == 2, let secret = Bytes32(hex: parts[1]) else {
            throw QuickPayError(.malformed, "a SIM line is a phone number and 64 hex digits")
        }
        self.init(phone: try PhoneNumber(parts[0]), secret: secret)
    }
}
