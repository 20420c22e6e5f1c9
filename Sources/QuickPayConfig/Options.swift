import ArgumentParser
import Foundation
import QuickPayActors
import QuickPayCore
import ZeroMQ

func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

/// What every actor executable takes: its endpoints, its data folder and its keys. Each
/// comes from a flag, else an environment variable, else the deployment file (`--deployment`),
/// so a container, a systemd unit or an operator by hand can configure it either way.
public struct ActorOptions: ParsableArguments {
    @Option(help: "ROUTER endpoint this actor serves (env QUICKPAY_BIND; else the deployment file's).")
    public var bind: String?

    @Option(help: "Endpoint for the control socket (REQ clients): health, state, actions (env QUICKPAY_CONTROL; else the deployment file's; empty: none).")
    public var control: String?

    @Option(help: "Folder for this actor's SQLite file (env QUICKPAY_DATA_DIR).")
    public var dataDir: String = environment("QUICKPAY_DATA_DIR") ?? "data"

    @Option(help: "A YAML deployment file: every actor's endpoints, and the keys folder (env QUICKPAY_DEPLOYMENT).")
    public var deployment: String?

    @Option(help: "The keys folder from `quickpay keys deployment`: this actor's secret, everyone's public keys (env QUICKPAY_KEYS).")
    public var keys: String?

    @Flag(help: "Plaintext ZeroMQ: no encryption, no authentication of peers. Tests on one host only (env QUICKPAY_INSECURE=1).")
    public var insecure = false

    @Flag(help: "A deployment started for testing (env QUICKPAY_TESTING=1): crash points, clock shifts and fault controls work; `health` says so. Never in production.")
    public var testing = false

    @Option(help: "Seconds an answer is kept for retries (env QUICKPAY_ANSWER_RETENTION; default 86400, at least 3600). A wallet resends an unanswered payment whenever it comes back: past this, it gets REPLAYED_COIN instead of its receipts. The ids of loads and withdrawals are kept for good whatever this says.")
    public var answerRetention: Int64?

    @Option(help: "Serve Prometheus metrics at http://HOST:PORT/metrics (env QUICKPAY_METRICS), such as 127.0.0.1:9101; port 0 picks one (logged).")
    public var metrics: String?

    public init() {}

    /// The settings of actor `name` (`bank`, `merchant-chai-stall`, ...), resolved.
    public func resolve(_ name: String) throws -> ActorSetup {
        try Self.preparePrivateFolder(dataDir)
        var setup = try ActorSetup.resolve(name, bind: bind, control: control, deployment: deployment, keys: keys, insecure: insecure)
        setup.metrics = metrics ?? environment("QUICKPAY_METRICS")
        setup.answerRetentionSeconds = answerRetention ?? environment("QUICKPAY_ANSWER_RETENTION").flatMap { Int64($0) }
        if let seconds = setup.answerRetentionSeconds, seconds < 3600 {
            throw ValidationError("--answer-retention is at least 3600 seconds: a wallet resends an unanswered payment whenever it comes back, and past retention it gets REPLAYED_COIN instead of its receipts")
        }
        setup.dataDir = dataDir
        return setup
    }

    /// Everything an actor writes is its owner's alone: files it creates from here on get no
    /// group or other bits (umask 077), and its data folder is 0700 (created so, or tightened
    /// if it is this user's; a folder of someone else's that others can enter is refused).
    public static func preparePrivateFolder(_ path: String) throws {
        umask(0o077)
        if !FileManager.default.fileExists(atPath: path) {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            return
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else { throw ValidationError("--data-dir \(path) is not a folder") }
        guard info.st_mode & 0o077 != 0 else { return }
        guard info.st_uid == getuid(), chmod(path, 0o700) == 0 else {
            throw ValidationError("--data-dir \(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))) and cannot be made 0700: give the actor a folder of its own")
        }
    }

    /// Whether this is a deployment started for testing.
    public var isTesting: Bool { testing || environment("QUICKPAY_TESTING") == "1" }
}

/// One actor's resolved settings: endpoints, deployment file and keys (nil keys: `--insecure`).
public struct ActorSetup {
    public let name: String
    public let bind: String
    public let control: String?
    public let deployment: DeploymentFile?
    public let keys: KeyDirectory?
    /// Where to serve metrics (`HOST:PORT`), and the data folder.
    public var metrics: String?
    public var dataDir: String?
    /// How long answers are kept for retries (nil: the core's default, a day).
    public var answerRetentionSeconds: Int64?

    /// Flag values (nil: not given) over environment over the deployment file.
    public static func resolve(
        _ name: String, bind: String? = nil, control: String? = nil, deployment: String?, keys: String?, insecure: Bool
    ) throws -> ActorSetup {
        let file = try (deployment ?? environment("QUICKPAY_DEPLOYMENT")).map { try DeploymentFile(path: $0) }
        let entry = file?.actors[name]
        let bind = bind ?? environment("QUICKPAY_BIND") ?? entry?.bind ?? entry?.endpoint ?? "tcp://127.0.0.1:0"
        let control = control ?? environment("QUICKPAY_CONTROL") ?? entry?.controlBind ?? entry?.control ?? ""
        let insecure = insecure || environment("QUICKPAY_INSECURE") == "1" || (file?.insecure ?? false)
        let keys = (keys ?? environment("QUICKPAY_KEYS")).map(KeyDirectory.init) ?? file?.keys
        if !insecure && keys == nil {
            throw ValidationError("give --keys FOLDER (made by `quickpay keys deployment`), a --deployment file naming one, or --insecure for plaintext")
        }
        return ActorSetup(name: name, bind: bind, control: control.isEmpty ? nil : control, deployment: file, keys: insecure ? nil : keys)
    }

    /// A peer's endpoint: the flag's value if given, else the deployment file's.
    public func peer(_ flag: String?, _ actor: String, flagName: String) throws -> String {
        if let flag { return flag }
        guard let deployment else { throw ValidationError("give --\(flagName), or a --deployment file that places \(actor)") }
        return try deployment.endpoint(actor)
    }

    /// A peer's CURVE public key: the deployment file's, else the keys folder's.
    public func publicKey(_ actor: String) throws -> CurveKey {
        if let key = deployment?.actors[actor]?.curveKey { return key }
        guard let keys else { throw ValidationError("no keys folder for \(actor)'s public key") }
        return try keys.publicKey(actor)
    }

    /// Every merchant's CURVE key, by receiver id (keys folder, then the deployment file).
    public func merchantKeys() throws -> [ReceiverID: CurveKey] {
        var out = try keys?.merchantKeys() ?? [:]
        for name in deployment?.merchantNames ?? [] {
            if let key = deployment?.actors["merchant-\(name)"]?.curveKey { out[try ReceiverID(name)] = key }
        }
        return out
    }

    /// A secret file of this actor's: the flag's path if given, else the keys folder's.
    public func secretFile(_ flag: String?, _ name: String, flagName: String) throws -> String {
        if let flag { return flag }
        guard let keys else { throw ValidationError("give --\(flagName) (or --keys FOLDER holding \(self.name)/\(name))") }
        return keys.secretFile(self.name, name)
    }

    /// The bank's Ed25519 public key: the flag's value, else the keys folder's.
    public func bankSigningKey(_ flag: String?) throws -> SigningPublicKey {
        if let flag { return try readPublicKey(flag) }
        guard let keys else { throw ValidationError("give --bank-key (or --keys FOLDER holding public/bank.signing)") }
        return try readPublicKey(keys.bankSigningPublicKeyFile)
    }

    /// The bank's blind key list (checked against `bankKey`): the flag's file, else the keys
    /// folder's `public/bank.blindkeys`; nil when neither has one (Ed25519 vouchers only).
    public func blindKeyList(_ flag: String?, bankKey: SigningPublicKey) throws -> BlindKeyList? {
        if let flag {
            guard let text = try? String(contentsOfFile: flag, encoding: .utf8) else { throw ValidationError("cannot read the blind key list \(flag)") }
            return try BlindKeyCoding.list(file: text, bankKey: bankKey)
        }
        return try keys?.blindKeyList(bankKey: bankKey)
    }

    /// The CURVE policy of this actor's server sockets; nil when plaintext.
    public func serverSecurity(admit: @escaping (CurveKey) -> Bool = { _ in true }) throws -> ServerSecurity? {
        guard let keys else { return nil }
        return ServerSecurity(keys: try keys.keyPair(name), operatorKey: try publicKey("operator"), admit: admit)
    }

    /// How this actor connects to `peers` (endpoint: actor name): with its own long-term key
    /// (`fresh`: a new key per connection, for customers).
    public func clientSecurity(peers: [String: String], fresh: Bool = false) throws -> ClientSecurity {
        guard let keys else { return .plaintext }
        var serverKeys: [String: CurveKey] = [:]
        for (endpoint, actor) in peers { serverKeys[endpoint] = try publicKey(actor) }
        return .curve(ownKeys: fresh ? nil : try keys.keyPair(name), serverKeys: serverKeys)
    }
}

/// Reads a key file written by `quickpay keys generate` (64 hex digits).
public func readSigningKey(_ path: String) throws -> SigningPrivateKey {
    try KeyFiles.requirePrivate(path)
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
