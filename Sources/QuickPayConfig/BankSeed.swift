import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayStore
import Yams

/// The YAML file that seeds the bank for demos and tests:
///
/// ```yaml
/// accounts:
///   - id: ACC-ALICE
///     deposit_rupees: 1000
///     phone: "+919800000001"    # the phone of record: registration codes go there
///   - id: ACC-CHAI
///     deposit_rupees: 0
///     phone: "+919700000001"
///     receiver: chai-stall      # a merchant: vouchers name this receiver id
///     mode: offline             # or online
/// ```
/// Seeding is idempotent: an account that exists is left as it is.
public struct BankSeed: Decodable {
    public struct Account: Decodable {
        public let id: String
        public let deposit_rupees: Int64
        public let receiver: String?
        public let mode: String?
        public let phone: String?
    }
    public let accounts: [Account]

    public static func load(_ path: String) throws -> BankSeed {
        try YAMLDecoder().decode(BankSeed.self, from: String(contentsOfFile: path, encoding: .utf8))
    }

    public func apply(to store: SQLiteBankStore) throws {
        for account in accounts {
            let id = try AccountID(account.id)
            var receiver: (ReceiverID, MerchantMode)?
            if let name = account.receiver {
                guard let mode = MerchantMode(rawValue: account.mode ?? "offline") else {
                    throw QuickPayError(.malformed, "mode of \(name) must be offline or online")
                }
                receiver = (try ReceiverID(name), mode)
            }
            try store.seed(id, deposit: try Amount.rupees(account.deposit_rupees), receiver: receiver, phone: try account.phone.map(PhoneNumber.init))
        }
    }
}
