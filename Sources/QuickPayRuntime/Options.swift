import ArgumentParser
import Foundation
import QuickPayActors
import QuickPayCore
import ZeroMQ

func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

/// What every actor executable takes: its endpoints and its data folder. Each flag falls back
/// to an environment variable, so a container or a systemd unit can configure it either way.
public struct ActorOptions: ParsableArguments {
    @Option(help: "ROUTER endpoint this actor serves (env QUICKPAY_BIND).")
    public var bind: String = environment("QUICKPAY_BIND") ?? "tcp://127.0.0.1:0"

    @Option(help: "REP endpoint for the control socket: health, state, actions (env QUICKPAY_CONTROL; empty: none).")
    public var control: String = environment("QUICKPAY_CONTROL") ?? ""

    @Option(help: "Folder for this actor's SQLite file (env QUICKPAY_DATA_DIR).")
    public var dataDir: String = environment("QUICKPAY_DATA_DIR") ?? "data"

    public init() {}

    public func hostConfig(name: String) -> HostConfig {
        HostConfig(name: name, bind: bind, control: control.isEmpty ? nil : control)
    }
}

/// Reads a key file written by `quickpay keys generate` (64 hex digits).
public func readSigningKey(_ path: String) throws -> SigningPrivateKey {
    let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    guard let seed = Bytes32(hex: text) else { throw ValidationError("\(path) does not hold 64 hex digits") }
    return SigningPrivateKey(seed: seed)
}

/// A public key given as 64 hex digits, or as the path of a file holding them.
public func readPublicKey(_ value: String) throws -> SigningPublicKey {
    let text = FileManager.default.fileExists(atPath: value)
        ? try String(contentsOfFile: value, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) : value
    guard let bytes = HexCoding.decode(text), let key = SigningPublicKey(bytes) else {
        throw ValidationError("\(value) is not an Ed25519 public key (64 hex digits, or a file of them)")
    }
    return key
}

/// `name=endpoint` pairs such as `chai-stall=tcp://127.0.0.1:7004`.
public func parseMerchantEndpoints(_ values: [String]) throws -> [ReceiverID: String] {
    var out: [ReceiverID: String] = [:]
    for value in values {
        let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let id = try? ReceiverID(parts[0]) else { throw ValidationError("--merchant takes id=endpoint, got \(value)") }
        out[id] = parts[1]
    }
    return out
}
