import ArgumentParser
import Foundation
import QuickPayCore
import ZeroMQ

#if canImport(Glibc)
    import Glibc
#endif

/// `quickpay keys`: key material for actors.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create key material for QuickPay actors.",
        subcommands: [Generate.self]
    )

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

/// Writes key files so that no other user can read them, at any moment.
enum KeyFiles {
    struct WriteError: Error, CustomStringConvertible {
        let description: String
    }

    static func createFolder(_ path: String) throws {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw WriteError(description: "\(path) is not a folder") }
            return
        }
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Creates (or truncates) `path` with mode 0600 from the start: the secret is never readable
    /// by others, not even between create and chmod.
    static func writePrivate(_ path: String, _ contents: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw WriteError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else { throw WriteError(description: "cannot chmod \(path)") }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw WriteError(description: "short write to \(path)") }
    }
}
