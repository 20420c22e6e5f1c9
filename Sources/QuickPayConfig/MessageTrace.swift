import Foundation
import QuickPayProtocol

/// Send and receive events, one JSON line each, in the process's log (stderr, next to the
/// JSON log lines), for run reports: the message sequence diagram is drawn from them.
///
/// `{"ts":"…","actor":"bank","msg":"message","ev":"recv","seq":12,"peer":"","type":"redeem","rid":"9f…","code":"REPLAYED_COIN","bytes":181}`
///
/// - `ev`: `send` or `recv`; `seq`: the process's own order of events (a restart starts again
///   at 1, after a `serving` line); `peer`: the endpoint the message went to or came from when
///   the process knows it (a client's request to a server carries none: the report matches the
///   receive to its send by request id and type, and from those pairs builds a Lamport clock
///   that orders events across hosts).
/// - On only when asked (`QUICKPAY_TRACE_MESSAGES=1`, set by the scenario runner): off, the
///   serving path does not even summarise a frame.
public final class MessageTrace: @unchecked Sendable {
    /// The process's tracer, or nil when tracing is off.
    public static let shared: MessageTrace? = {
        guard ProcessInfo.processInfo.environment["QUICKPAY_TRACE_MESSAGES"] == "1" else { return nil }
        return MessageTrace(actor: ProcessInfo.processInfo.environment["QUICKPAY_TRACE_NAME"] ?? "", write: { line in
            line.withUnsafeBytes { _ = Foundation.write(2, $0.baseAddress, $0.count) }
        })
    }()

    let actor: String
    let lock = NSLock()
    var sequence = 0
    let write: ([UInt8]) -> Void
    /// Lines wait in `buffer` until `flush` (an actor host turns this on and flushes once per
    /// poll turn: one write for all the frames of a group); otherwise each line is written at once.
    public var buffered: Bool {
        get { lock.withLock { isBuffered } }
        set {
            lock.withLock {
                isBuffered = newValue
                if !newValue { flushLocked() }
            }
        }
    }
    var isBuffered: Bool
    var buffer: [UInt8] = []
    var cachedSecond = -1
    var cachedPrefix: [UInt8] = []

    /// A tracer writing lines through `write` (tests, and the scenario runner's own file).
    public init(actor: String, buffered: Bool = false, write: @escaping ([UInt8]) -> Void) {
        self.actor = actor
        isBuffered = buffered
        self.write = write
    }

    /// A tracer appending to a file (the runner's own messages, a fault proxy's).
    public static func file(_ path: String, actor: String) -> MessageTrace? {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return nil }
        handle.seekToEndOfFile()
        return MessageTrace(actor: actor, write: { handle.write(Data($0)) })
    }

    public enum Direction: String, Sendable { case send, recv }

    /// Records one frame sent or received; `note` marks what the tracer's owner did with it (the
    /// fault proxy: `dropped`, `duplicated`, `delayed`).
    public func record(_ direction: Direction, _ frame: [UInt8], peer: String = "", note: String? = nil) {
        record(direction, FrameSummary(frame), peer: peer, note: note)
    }

    public func record(_ direction: Direction, _ summary: FrameSummary, peer: String = "", note: String? = nil) {
        lock.lock()
        defer { lock.unlock() }
        sequence += 1
        // Built as bytes, without Foundation formatting: a traced actor writes a line per frame.
        appendTimestamp()
        buffer += Self.actorField
        appendEscaped(actor)
        buffer += Self.messageField
        buffer += direction == .send ? Self.send : Self.recv
        buffer += Self.seqField
        appendDecimal(UInt64(sequence))
        buffer += Self.peerField
        appendEscaped(peer)
        buffer += Self.typeField
        buffer += summary.type.utf8
        buffer += Self.ridField
        if summary.hasRequestID {
            appendHex(summary.requestIDHigh)
            appendHex(summary.requestIDLow)
        }
        buffer += Self.bytesField
        appendDecimal(UInt64(summary.bytes))
        if let code = summary.code {
            buffer += Self.codeField
            buffer += code.utf8
            buffer.append(0x22)
        }
        if summary.refusedCoins > 0 {
            buffer += Self.refusedField
            appendDecimal(UInt64(summary.refusedCoins))
        }
        if let note {
            buffer += Self.noteField
            appendEscaped(note)
            buffer.append(0x22)
        }
        buffer += [0x7D, 0x0A]
        if !isBuffered || buffer.count >= 65536 { flushLocked() }
    }

    /// Writes what is buffered (a host calls it once per turn of its poll loop).
    public func flush() {
        lock.lock()
        defer { lock.unlock() }
        flushLocked()
    }

    func flushLocked() {
        guard !buffer.isEmpty else { return }
        write(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    static let actorField = Array("\",\"level\":\"info\",\"actor\":\"".utf8)
    static let messageField = Array("\",\"msg\":\"message\",\"ev\":\"".utf8)
    static let send = Array("send".utf8)
    static let recv = Array("recv".utf8)
    static let seqField = Array("\",\"seq\":".utf8)
    static let peerField = Array(",\"peer\":\"".utf8)
    static let typeField = Array("\",\"type\":\"".utf8)
    static let ridField = Array("\",\"rid\":\"".utf8)
    static let bytesField = Array("\",\"bytes\":".utf8)
    static let codeField = Array(",\"code\":\"".utf8)
    static let refusedField = Array(",\"refused_coins\":".utf8)
    static let noteField = Array(",\"note\":\"".utf8)
    static let hexDigits = Array("0123456789abcdef".utf8)

    func appendDecimal(_ value: UInt64) {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(0x30 + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        buffer += digits.reversed()
    }

    func appendHex(_ value: UInt64) {
        for shift in stride(from: 60, through: 0, by: -4) { buffer.append(Self.hexDigits[Int((value >> UInt64(shift)) & 0xF)]) }
    }

    func appendEscaped(_ text: String) {
        for byte in text.utf8 {
            switch byte {
            case 0x22, 0x5C: buffer += [0x5C, byte]
            case 0..<0x20: buffer += Array(String(format: "\\u%04x", byte).utf8)
            default: buffer.append(byte)
            }
        }
    }

    /// `{"ts":"2026-12-06T08:13:30.145606Z` (UTC, microseconds; the date part made once a second).
    func appendTimestamp() {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        if spec.tv_sec != cachedSecond {
            cachedSecond = spec.tv_sec
            var seconds = time_t(spec.tv_sec)
            var parts = tm()
            gmtime_r(&seconds, &parts)
            cachedPrefix = Array(String(
                format: "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
                parts.tm_sec).utf8)
        }
        buffer += cachedPrefix
        var micros = Int(spec.tv_nsec / 1000)
        var digits = [UInt8](repeating: 0x30, count: 6)
        for index in stride(from: 5, through: 0, by: -1) {
            digits[index] = 0x30 + UInt8(micros % 10)
            micros /= 10
        }
        buffer += digits
        buffer.append(0x5A)  // Z
    }

    /// A `serving` line for a process that logs no other (a fault proxy): the report learns
    /// which endpoint is whose from these lines.
    public func serving(bind: String) {
        lock.lock()
        defer { lock.unlock() }
        appendTimestamp()
        buffer += Self.actorField
        appendEscaped(actor)
        buffer += Array("\",\"msg\":\"serving\",\"bind\":\"".utf8)
        appendEscaped(bind)
        buffer += Array("\"}\n".utf8)
        flushLocked()
    }


}
