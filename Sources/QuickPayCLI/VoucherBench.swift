import ArgumentParser
import Crypto
import CryptoExtras
import Foundation
import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import QuickPayStore

/// `quickpay bench vouchers`: what unlinkable (blind RSA, RFC 9474) vouchers cost against
/// Ed25519 ones, both measured in this run: the bank's signing, the merchant's first-coin check,
/// the wallet's work, bank loads/s through the actor and SQLite, and bytes on the wire.
struct VoucherBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vouchers",
        abstract: "Blind RSA vouchers against Ed25519 ones: signing, first-coin check, wallet work, loads/s, bytes per voucher, with ratios.",
        discussion: """
            Every figure is the median of --rounds rounds, both schemes in the same run (loads/s
            alternate the schemes round by round). Example:
              swift build -c release && .build/release/quickpay bench vouchers --rounds 5
            """
    )

    @Option(help: "Seconds per round of the in-memory figures.") var seconds: Double = 0.5
    @Option(help: "Rounds per figure (the median is reported).") var rounds: Int = 5
    @Option(help: "Single-chain loads per round of the loads/s figure.") var loads = 500
    @Option(help: "Folder for the SQLite files (a fresh subfolder is made and removed).") var folder = NSTemporaryDirectory()

    func run() throws {
        let root = "\(folder)/quickpay-vouchers-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        var generator = SplitMix64(seed: 21)
        let meter = RateMeter(seconds: seconds, rounds: max(1, rounds))
        let now = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let shop = try ReceiverID("chai-stall")
        let signer = BankSigner(privateKey: .random(using: &generator))
        let rsa = try _RSA.BlindSigning.PrivateKey<SHA384>(keySize: .bits2048)
        let primitives = try rsa.publicKey.getKeyPrimitives()
        let key = BlindKey(
            denomination: .rs1, length: try ChainLength(1000), validFrom: now.adding(seconds: -60), validUntil: now.adding(seconds: 7 * 86_400),
            expiry: now.adding(seconds: 30 * 86_400), publicKey: BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent)))
        let list = try BlindKeyList.sign([key], issuedAt: now, with: signer.privateKey)
        let blind = try BlindSigner(list: list, privateKeysPEM: [rsa.pemRepresentation])
        let keyring = BankKeyring([signer.privateKey.publicKey], blindKeys: list)
        print("quickpay bench vouchers: RSA-2048 \(BlindVoucher.variantName) against Ed25519, \(rounds) rounds")

        // One voucher of each scheme on the same chain.
        let chain = HashChain(seed: .random(using: &generator), length: key.length)
        let owner = SigningPrivateKey.random(using: &generator).publicKey
        let commitment = VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: shop, denomination: .rs1, length: chain.length, root: chain.root,
            expiry: key.expiry, ownerKey: owner, keyID: signer.keyID)
        let ed = signer.sign(commitment)
        let request = try BlindVoucherRequest(key: key, receiver: shop, root: chain.root, ownerKey: owner, secret: .random(using: &generator))
        let blindVoucher = try request.finalize(try blind.sign(request.blindedMessage, with: key))
        let first = Coin(voucherID: ed.id, index: 1, value: chain.element(at: 1))

        var rows: [(String, Double, Double)] = []  // name, Ed25519 µs, blind µs
        func micro(_ rate: Double) -> Double { 1e6 / rate }
        let signEd = meter.operationsPerSecond(batchSize: 20) {
            var n: UInt64 = 0
            for _ in 0..<20 { n &+= UInt64(signer.sign(commitment).proof.bytes[0]) }
            return n
        }
        let signBlind = meter.operationsPerSecond(batchSize: 5) {
            var n: UInt64 = 0
            for _ in 0..<5 { n &+= UInt64((try? blind.sign(request.blindedMessage, with: key))?[0] ?? 0) }
            return n
        }
        rows.append(("bank: sign one voucher", micro(signEd), micro(signBlind)))
        func firstCoin(_ voucher: SignedVoucher) -> UInt64 {
            guard (try? keyring.verify(voucher)) != nil else { return 0 }
            let coin = Coin(voucherID: voucher.id, index: 1, value: first.value)
            return UInt64((try? ChainVerifier.verify(coin.position, after: .root(voucher.commitment.root), length: voucher.commitment.length)) ?? 0)
        }
        let checkEd = meter.operationsPerSecond(batchSize: 20) { (0..<20).reduce(UInt64(0)) { acc, _ in acc &+ firstCoin(ed) } }
        let checkBlind = meter.operationsPerSecond(batchSize: 20) { (0..<20).reduce(UInt64(0)) { acc, _ in acc &+ firstCoin(blindVoucher) } }
        rows.append(("merchant: first coin of a voucher (signature + one hash)", micro(checkEd), micro(checkBlind)))
        // The wallet: Ed25519, it checks the bank's voucher; blind, it blinds (derived factor,
        // salt, prefix), then unblinds and checks the signature.
        let answer = try blind.sign(request.blindedMessage, with: key)
        let walletEd = meter.operationsPerSecond(batchSize: 20) { (0..<20).reduce(UInt64(0)) { acc, _ in acc &+ ((try? keyring.verify(ed)) != nil ? 1 : 0) } }
        var secretGenerator = SplitMix64(seed: 3)
        let walletBlind = meter.operationsPerSecond(batchSize: 1) {
            guard let fresh = try? BlindVoucherRequest(key: key, receiver: shop, root: chain.root, ownerKey: owner, secret: .random(using: &secretGenerator)) else { return 0 }
            return (try? request.finalize(answer)).map { _ in UInt64(fresh.blindedMessage[0]) } ?? 0
        }
        rows.append(("wallet: per voucher loaded (blind + unblind + check; Ed25519: check)", micro(walletEd), micro(walletBlind)))

        // Loads through the bank's host core and SQLite store (synchronous = FULL), one chain a
        // load, one transaction each; the schemes alternate round by round.
        let account = try AccountID("ACC-ALICE")
        var edRates: [Double] = []
        var blindRates: [Double] = []
        var blindedMessages: [[UInt8]] = []
        for _ in 0..<loads {
            blindedMessages.append(try BlindVoucherRequest(
                key: key, receiver: shop, root: .random(using: &generator), ownerKey: owner, secret: .random(using: &generator)).blindedMessage)
        }
        let codec = WireCodec()
        for round in 0..<max(1, rounds) {
            for scheme in ["ed25519", "blind"] {
                let store = try SQLiteBankStore(path: "\(root)/bank-\(scheme)-\(round).sqlite")
                try store.seed(account, deposit: Amount(paise: Int64(loads) * 100_000 + 100), receiver: nil)
                try store.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (shop, .offline))
                try store.registerBlindKeys(list.keys)
                var bank = HostCore(actor: BankActor(store: store, signer: signer, blind: blind, random: SplitMix64(seed: 11)), journal: store)
                var frames: [[UInt8]] = []
                for n in 0..<loads {
                    let content: LoadRequest.LoadContent = scheme == "blind"
                        ? .blinded([BlindedChain(keyID: key.keyID, blindedMessage: blindedMessages[n])])
                        : .chains(receiver: shop, [ChainRequest(denomination: .rs1, length: key.length, root: .random(using: &generator), ownerKey: owner)])
                    frames.append(codec.encode(Envelope(requestID: .random(using: &generator), body: .bankLoad(LoadRequest(account: account, content: content)))))
                }
                let started = nowSeconds()
                for frame in frames {
                    let drained = bank.drain([.request(ClientID([2]), frame)], at: HostTime(milliseconds: 0, now: now))
                    for case .toClient(_, let out) in drained.frames where (try? codec.decode(out))?.body.typeName != "load_reply" {
                        throw ValidationError("the bank refused a \(scheme) load")
                    }
                }
                let rate = Double(loads) / (nowSeconds() - started)
                if scheme == "blind" { blindRates.append(rate) } else { edRates.append(rate) }
            }
        }
        let edLoads = edRates.sorted()[edRates.count / 2], blindLoads = blindRates.sorted()[blindRates.count / 2]

        print("")
        print("  " + "figure".padding(toLength: 74, withPad: " ", startingAt: 0) + "  Ed25519      blind RSA  blind/Ed25519")
        for (name, a, b) in rows {
            print("  " + name.padding(toLength: 74, withPad: " ", startingAt: 0) + String(format: "%9.1f us %12.1f us %10.2f", a, b, b / a))
        }
        print("  " + "bank: loads/s, one chain each, SQLite FULL sync".padding(toLength: 74, withPad: " ", startingAt: 0)
            + String(format: "%9.0f /s %12.0f /s %10.2f", edLoads, blindLoads, blindLoads / edLoads))
        let ratios = zip(edRates, blindRates).map { String(format: "%.2f", $1 / $0) }.joined(separator: ", ")
        print("    loads/s ratio blind/Ed25519 per round: \(ratios)")
        let payment = { (voucher: SignedVoucher) in
            codec.encode(Envelope(requestID: .random(using: &generator), body: .payment(try! Payment(coins: [Coin(voucherID: voucher.id, index: 1, value: first.value)], vouchers: [voucher]))))
        }
        let bytes: [(String, Int, Int)] = [
            ("voucher, as stored and sent", ed.serializedBytes().count, blindVoucher.serializedBytes().count),
            ("first payment with its voucher (frame)", payment(ed).count, payment(blindVoucher).count),
            ("load request per chain (app server -> bank, frame of one)",
             codec.encode(Envelope(requestID: .random(using: &generator), body: .bankLoad(LoadRequest(account: account, receiverID: shop, chains: [
                 ChainRequest(denomination: .rs1, length: key.length, root: chain.root, ownerKey: owner)])))).count,
             codec.encode(Envelope(requestID: .random(using: &generator), body: .bankLoad(LoadRequest(account: account, content: .blinded([
                 BlindedChain(keyID: key.keyID, blindedMessage: request.blindedMessage)]))))).count),
            ("load reply per voucher (frame of one)",
             codec.encode(Envelope(requestID: .random(using: &generator), body: .loadReply(LoadReply(vouchers: [ed], debited: key.faceValue)))).count,
             codec.encode(Envelope(requestID: .random(using: &generator), body: .loadReply(LoadReply(blindSignatures: [answer], debited: key.faceValue)))).count),
        ]
        for (name, a, b) in bytes {
            print("  " + name.padding(toLength: 74, withPad: " ", startingAt: 0) + String(format: "%9d B  %12d B  %10.2f", a, b, Double(b) / Double(a)))
        }
    }
}
