import ArgumentParser
import Foundation
import QuickPayConfig
import QuickPayCore
import QuickPayLoad
import QuickPayProtocol

/// `quickpay bench core`: the cost figures behind the paper's case for hash chains.
struct CoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "core",
        abstract: "SHA-256/s, coin verifications/s, Ed25519 verifications/s and their ratio, envelope codec/s, bytes per payment.",
        discussion: """
            Every figure is the median of --rounds rounds of about --seconds each, measured in this run.
            Example:
              swift build -c release && .build/release/quickpay bench core --seconds 1 --rounds 5
            """
    )

    @Option(help: "Seconds per round.") var seconds: Double = 0.5
    @Option(help: "Rounds per figure (the median is reported).") var rounds: Int = 5
    @Flag(help: "Print one JSON object instead of the table.") var json = false

    func run() throws {
        let meter = RateMeter(seconds: seconds, rounds: max(1, rounds))
        let fixture = BenchFixture()

        var value = fixture.chain.seed
        let hashes = meter.operationsPerSecond(batchSize: 1000) {
            for _ in 0..<1000 { value = value.sha256() }
            return value.withUnsafeBytes { $0.load(as: UInt64.self) }
        }

        // One coin verification: the merchant's per-coin work in the honest case, coin i after
        // coin i-1 of a 1000-coin chain (range checks, one hash, one comparison).
        let chain = fixture.chain
        let length = chain.length
        let coinVerifications = meter.operationsPerSecond(batchSize: length.value) {
            var steps: UInt64 = 0
            for index in 1...length.value {
                let next = ChainPosition(index: index, value: chain.elements[index])
                let last = ChainPosition(index: index - 1, value: chain.elements[index - 1])
                steps &+= UInt64((try? ChainVerifier.verify(next, after: last, length: length)) ?? 0)
            }
            return steps
        }

        let keyring = fixture.keyring
        let voucher = fixture.voucher
        let signatureVerifications = meter.operationsPerSecond(batchSize: 100) {
            var valid: UInt64 = 0
            for _ in 0..<100 where (try? keyring.verify(voucher)) != nil { valid &+= 1 }
            return valid
        }

        let codec = WireCodec()
        let envelope = fixture.singleCoinPayment
        let frame = codec.encode(envelope)
        let codecRate = meter.operationsPerSecond(batchSize: 1000) {
            var total: UInt64 = 0
            for _ in 0..<1000 {
                let bytes = codec.encode(envelope)
                if let decoded = try? codec.decode(bytes) { total &+= UInt64(decoded.requestID.raw.low & 1) + UInt64(bytes.count) }
            }
            return total
        }

        // What observing a frame costs the serving thread: the wire scan alone (metrics), and a
        // trace line made into the buffer (written once per poll turn; here thrown away).
        let scanRate = meter.operationsPerSecond(batchSize: 1000) {
            var total: UInt64 = 0
            for _ in 0..<1000 { total &+= FrameSummary(frame).requestIDLow & 1 }
            return total
        }
        let trace = MessageTrace(actor: "merchant-bench", buffered: true, write: { _ in })
        let traceRate = meter.operationsPerSecond(batchSize: 1000) {
            for _ in 0..<1000 { trace.record(.recv, frame) }
            trace.flush()
            return 1
        }

        let ratio = coinVerifications / signatureVerifications
        if json {
            let object: [String: Any] = [
                "sha256_per_second": hashes, "coin_verifications_per_second": coinVerifications,
                "ed25519_verifications_per_second": signatureVerifications, "coin_to_ed25519_ratio": ratio,
                "envelope_encode_decode_per_second": codecRate, "single_coin_payment_bytes": frame.count,
                "frame_summaries_per_second": scanRate, "trace_lines_per_second": traceRate,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("quickpay bench core: median of \(meter.rounds) rounds of \(meter.seconds) s each")
        print("  SHA-256 of 32 bytes          \(grouped(hashes).leftPadded(14)) /s")
        print("  coin verifications (1 step)  \(grouped(coinVerifications).leftPadded(14)) /s")
        print("  Ed25519 voucher verifications\(grouped(signatureVerifications).leftPadded(14)) /s")
        print("  ratio coin : Ed25519         \(String(format: "%14.1f", ratio)) x   (expect > 100)")
        print("  envelope encode+decode       \(grouped(codecRate).leftPadded(14)) /s  (single-coin payment)")
        print("  single-coin payment envelope \(String(frame.count).leftPadded(14)) bytes (limit 96)")
        print("  frame summaries (wire scan)  \(grouped(scanRate).leftPadded(14)) /s  (metrics: 2 per request)")
        print("  trace lines, buffered        \(grouped(traceRate).leftPadded(14)) /s  (tracing: 2 per request)")
        print("  ratio trace line : decode+encode (cost)\(String(format: "%4.2f", codecRate / traceRate).leftPadded(6)) x")
    }
}

/// A bank key, a 1000-coin chain, its signed voucher and a single-coin payment, made once.
struct BenchFixture {
    let chain: HashChain
    let keyring: BankKeyring
    let voucher: SignedVoucher
    let singleCoinPayment: Envelope

    init() {
        var generator = SystemRandomNumberGenerator()
        let bank = BankSigner(privateKey: .random(using: &generator))
        chain = HashChain(seed: .random(using: &generator), length: try! ChainLength(ChainLength.maximum))
        let commitment = VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: try! ReceiverID("bench-merchant"),
            denomination: .rs1, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: Int64(Date().timeIntervalSince1970) + 86_400),
            ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: bank.keyID)
        voucher = bank.sign(commitment)
        keyring = BankKeyring([bank.privateKey.publicKey])
        let coin = Coin(voucherID: commitment.voucherID, index: 999, value: chain.elements[999])
        singleCoinPayment = Envelope(requestID: .random(using: &generator), body: .payment(try! Payment(coins: [coin])))
    }
}
