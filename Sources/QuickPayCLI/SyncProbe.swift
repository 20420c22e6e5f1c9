import ArgumentParser
import Foundation

/// Durability's own floor on a disk: a file of 16 pages of 4 KiB, written once, then one page
/// rewritten in place and `fdatasync`ed per `writeAndSync`, page after page, as a commit would.
/// The load command's disk baseline and the durable echo server (`EchoServer`) both use it.
/// The file is unlinked at once; it goes with the descriptor.
final class SyncProbe {
    private let descriptor: Int32
    private var slot = 0
    private static let page = [UInt8](repeating: 0x5a, count: 4096)

    init(folder: String) throws {
        let path = "\(folder)/fdatasync-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw ValidationError("cannot open \(path): errno \(errno)") }
        unlink(path)
        for _ in 0..<16 { try writeAndSync() }
    }

    deinit { close(descriptor) }

    func writeAndSync() throws {
        let offset = off_t(slot * 4096)
        let written = Self.page.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, 4096, offset) }
        guard written == 4096 else { throw ValidationError("pwrite wrote \(written) of 4096 bytes: errno \(errno)") }
        guard fdatasync(descriptor) == 0 else { throw ValidationError("fdatasync failed: errno \(errno)") }
        slot = (slot + 1) % 16
    }
}
