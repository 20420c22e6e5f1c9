import ArgumentParser
import QuickPayCore

/// `quickpay chain`: prints a hash chain, for teaching and for cross-checking other implementations.
struct ChainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chain",
        abstract: "Print the hash chain w_0 ... w_N made from a seed w_N, root first.",
        discussion: """
            w_i = SHA-256(w_{i+1}); w_0 is the root the bank signs. One lowercase hex value per line.

            Example:
              quickpay chain --seed $(head -c32 /dev/urandom | xxd -p -c64) --length 3
            Cross-check in Python:
              python3 -c 'import hashlib;w=bytes.fromhex("<seed>");print(hashlib.sha256(w).hexdigest())'
            """
    )

    @Option(help: "The seed w_N: 64 hex digits (32 bytes).")
    var seed: String

    @Option(help: "N, the number of coins: 1 to \(ChainLength.maximum).")
    var length: Int

    func run() throws {
        guard let seedValue = Bytes32(hex: seed) else {
            throw ValidationError("--seed must be exactly 64 hex digits (32 bytes)")
        }
        let chainLength: ChainLength
        do { chainLength = try ChainLength(length) } catch { throw ValidationError(error.message) }
        let chain = HashChain(seed: seedValue, length: chainLength)
        print(chain.elements.map(\.hex).joined(separator: "\n"))
    }
}
