import ArgumentParser
import Foundation
import QuickPayCore
import QuickPayClient
import QuickPayConfig
import QuickPayTestbed
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `quickpay keys`: key material for actors.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create key material for QuickPay actors.",
        subcommands: [Deployment.self, Generate.self]
    )

    struct Deployment: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create every key of a deployment: CURVE pairs for each actor and the operator, and the signing keys.",
            discussion: """
                Layout (secrets mode 0600 in 0700 folders):
                  public/<actor>.curve        CURVE public keys (Z85): copy public/ to every host
                  public/bank.signing         the bank's Ed25519 voucher key
                  public/bank.blindkeys       the bank's blind key list (RSA-2048, one key per value and epoch), signed with that key
                  bank/blind/KEYID.pem        each blind key's RSA private key
                  public/merchant-ID.receipt  each merchant's receipt key
                  bank/curve.secret bank/signing.key
                  appserver/curve.secret appserver/otp.key
                  nsp/curve.secret
                  merchant-ID/curve.secret merchant-ID/receipt.key
                  customer-NAME/curve.secret  (the customer's control socket only; payments use fresh keys)
                  operator/curve.secret       the key the control sockets admit: keep it with the runner
                  nsp/sims                    every phone's SIM secret, for the network provider
                  sims/PHONE.sim              one phone's SIM: give it to that phone's device only
                Each host gets public/ and its own actor's folder, nothing else; each phone its SIM.

                Example:
                  quickpay keys deployment --out keys --merchant chai-stall --merchant book-shop --customer alice \\
                    --phone +919800000001 --phone +919700000001
                """
        )

        @Option(help: "Folder to write the keys into (created if missing).") var out: String
        @Option(help: "A merchant's receiver id (repeatable).") var merchant: [String] = []
        @Option(help: "A customer's name, for its control socket's key (repeatable).") var customer: [String] = []
        @Option(help: "A phone number to provision a SIM for: customers' and merchant owners' phones (repeatable).") var phone: [String] = []
        @Flag(help: "Replace existing key files.") var force = false
        @Option(help: "Chain lengths the bank's blind keys are for (comma-separated; each with every denomination).")
        var blindLengths = BlindKeyPlan.standardLengths.map(String.init).joined(separator: ",")
        @Option(help: "Days each blind key signs loads (its epoch); its vouchers can be spent for --voucher-days from the epoch's start.") var blindEpochDays: Int64 = 7
        @Option(help: "Consecutive epochs to make keys for, from now.") var blindEpochs = 2
        @Option(help: "Days a blind voucher can be spent, from its key's epoch start.") var voucherDays: Int64 = 30
        @Flag(help: "No blind keys: the bank signs Ed25519 vouchers only.") var noBlindKeys = false

        func run() throws {
            for id in merchant { _ = try ReceiverID(id) }
            var plan = BlindKeyPlan()
            plan.lengths = try blindLengths.split(separator: ",").map { text in
                guard let length = Int(text.trimmingCharacters(in: .whitespaces)), (try? ChainLength(length)) != nil else {
                    throw ValidationError("--blind-lengths: \(text) is not a chain length 1...\(ChainLength.maximum)")
                }
                return length
            }
            plan.epochSeconds = blindEpochDays * 86_400
            plan.epochs = blindEpochs
            plan.validitySeconds = voucherDays * 86_400
            let written = try KeyDirectory.create(at: out, merchants: merchant, customers: customer, phones: phone, blind: noBlindKeys ? nil : plan, force: force)
            let keys = KeyDirectory(out)
            for file in written where file.hasPrefix("public/") && file.hasSuffix(".curve") {
                let actor = String(file.dropFirst("public/".count).dropLast(".curve".count))
                print("\(actor.padding(toLength: 24, withPad: " ", startingAt: 0)) curve \(try keys.publicKey(actor).z85)")
            }
            print("bank signing key \(try readPublicKey(keys.bankSigningPublicKeyFile).raw.hex)")
            print("\(written.count) files written to \(out)/; give each host public/ and its own actor's folder")
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an Ed25519 signing key and a CURVE key pair into a folder.",
            discussion: """
                Files (all mode 0600, folder 0700; existing files are kept unless --force):
                  signing.key   Ed25519 private key seed, 64 hex digits
                  signing.pub   Ed25519 public key, 64 hex digits (key id: first 8 bytes of its SHA-256)
                  curve.key     CURVE secret key, Z85 (40 characters)
                  curve.pub     CURVE public key, Z85

                Example:
                  quickpay keys generate --out keys/bank
                """
        )

        @Option(help: "Folder to write the keys into (created if missing).")
        var out: String

        @Flag(help: "Overwrite existing key files.")
        var force = false

        func run() throws {
            var generator = SystemRandomNumberGenerator()
            let signing = SigningPrivateKey.random(using: &generator)
            let curve = try CurveKeyPair.generate()
            try KeyFiles.createFolder(out)
            let files: [(String, String)] = [
                ("signing.key", signing.seed.hex),
                ("signing.pub", signing.publicKey.raw.hex),
                ("curve.key", curve.secretKey.z85),
                ("curve.pub", curve.publicKey.z85),
            ]
            if !force {
                for (name, _) in files where FileManager.default.fileExists(atPath: "\(out)/\(name)") {
                    throw ValidationError("\(out)/\(name) exists; pass --force to replace it")
                }
            }
            for (name, contents) in files { try KeyFiles.writePrivate("\(out)/\(name)", contents + "\n") }
            print("signing key id \(signing.publicKey.keyID) public \(signing.publicKey.raw.hex)")
            print("curve public \(curve.publicKey.z85)")
            print("written to \(out)/: \(files.map(\.0).joined(separator: " "))")
        }
    }
}

