import Foundation
import Yams
import ZeroMQ

/// A deployment file: where every actor is and where its keys are. The same file configures
/// each actor (`qp-bank --deployment deploy.yaml`) and the scenario runner
/// (`quickpay run --deployment deploy.yaml`):
///
/// ```yaml
/// keys: keys                 # the folder `quickpay keys deployment` wrote (relative to this file)
/// insecure: false            # true: plaintext everywhere (tests on one host only)
/// actors:
///   bank:      {endpoint: "tcp://10.77.0.2:7001", control: "tcp://10.77.0.2:7101"}
///   appserver: {endpoint: "tcp://10.77.0.3:7002", control: "tcp://10.77.0.3:7102"}
///   nsp:       {endpoint: "tcp://10.77.0.4:7003", control: "tcp://10.77.0.4:7103"}
///   merchant-chai-stall: {endpoint: "tcp://10.77.0.5:7004", control: "tcp://10.77.0.5:7104", mode: offline}
///   customer-alice: {control: "tcp://10.77.0.6:7105", phone: "+919800000001"}
/// ```
///
/// An actor binds its `endpoint` unless `bind` says otherwise (`tcp://*:7001` behind NAT), and
/// its `control` unless `control_bind` does. A `curve_key` (Z85) overrides `keys/public/<actor>.curve`.
public struct DeploymentFile: Sendable {
    public struct Actor: Sendable {
        public var endpoint: String?
        public var bind: String?
        public var control: String?
        public var controlBind: String?
        public var curveKey: CurveKey?
        public var mode: String?
        public var phone: String?
    }

    public let path: String
    public var keys: KeyDirectory?
    public var insecure: Bool
    public var actors: [String: Actor]

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(path: String) throws {
        self.path = path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Invalid(description: "cannot read the deployment file \(path)") }
        guard let root = try Yams.load(yaml: text) as? [String: Any], let entries = root["actors"] as? [String: Any] else {
            throw Invalid(description: "\(path): a deployment file holds actors: {name: {endpoint, control, ...}}")
        }
        let folder = (path as NSString).deletingLastPathComponent
        if let keys = root["keys"] as? String {
            self.keys = KeyDirectory(keys.hasPrefix("/") || folder.isEmpty ? keys : "\(folder)/\(keys)")
        }
        insecure = root["insecure"] as? Bool ?? false
        actors = [:]
        let known: Set<String> = ["endpoint", "bind", "control", "control_bind", "curve_key", "mode", "phone"]
        for (name, value) in entries {
            guard let entry = value as? [String: Any] else { throw Invalid(description: "\(path): actor \(name) is not a mapping") }
            if let unknown = entry.keys.first(where: { !known.contains($0) }) {
                throw Invalid(description: "\(path): actor \(name) has an unknown field \(unknown) (known: \(known.sorted().joined(separator: ", ")))")
            }
            var actor = Actor()
            actor.endpoint = entry["endpoint"] as? String
            actor.bind = entry["bind"] as? String
            actor.control = entry["control"] as? String
            actor.controlBind = entry["control_bind"] as? String
            actor.mode = entry["mode"] as? String
            actor.phone = entry["phone"].map { "\($0)" }
            if let text = entry["curve_key"] as? String {
                guard let key = CurveKey(z85: text) else { throw Invalid(description: "\(path): \(name).curve_key is not a Z85 key") }
                actor.curveKey = key
            }
            actors[name] = actor
        }
        if !insecure && keys == nil { throw Invalid(description: "\(path): give keys: FOLDER (quickpay keys deployment), or insecure: true") }
    }

    /// The endpoint where others reach `actor`.
    public func endpoint(_ actor: String) throws -> String {
        guard let endpoint = actors[actor]?.endpoint else { throw Invalid(description: "\(path) gives no endpoint for \(actor)") }
        return endpoint
    }

    /// `actor`'s CURVE public key: from the file, or from the key folder.
    public func curveKey(_ actor: String) throws -> CurveKey {
        if let key = actors[actor]?.curveKey { return key }
        guard let keys else { throw Invalid(description: "\(path) has no keys folder for \(actor)'s public key") }
        return try keys.publicKey(actor)
    }

    /// The merchants in the file, by receiver id.
    public var merchantNames: [String] { actors.keys.filter { $0.hasPrefix("merchant-") }.map { String($0.dropFirst("merchant-".count)) }.sorted() }
}
