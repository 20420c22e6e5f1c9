import Foundation

/// One line of an actor's log that the report draws: a message sent or received, or something
/// that happened to the process (it started serving, stopped, died at a crash point).
public struct LogEvent: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case send, recv
        /// A process (re)started: the first is its start, each later one a restart.
        case started
        case stopped
        case crashed(String)
    }

    public var actor: String
    public var kind: Kind
    /// Position in its own log (the process's order of events, across restarts).
    public var position: Int
    /// Wall-clock time, seconds since the epoch (for placing steps and for display only: the
    /// order across processes also puts every receive after its send).
    public var time: Double
    public var peer = ""
    public var type = ""
    public var requestID = ""
    public var code: String?
    public var refusedCoins = 0
    /// What a fault proxy did with the message (`drop`, `duplicate`, `delay(...)`, `reorder`).
    public var note: String?
    /// Endpoint the process serves (from its `serving` line).
    public var bind: String?

    public init(actor: String, kind: Kind, position: Int, time: Double) {
        self.actor = actor
        self.kind = kind
        self.position = position
        self.time = time
    }

}

/// The logs of one scenario: every `*.log` of a folder, one actor per file (the file's name).
/// Lines that are not JSON (a crash's stack trace, say) are counted and skipped.
public struct RunLogs: Sendable {
    public var events: [String: [LogEvent]] = [:]
    public var unreadableLines = 0
    /// The log files by actor, relative to the folder given.
    public var files: [String: String] = [:]

    public init(events: [String: [LogEvent]]) { self.events = events }

    public init(folder: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder))?.filter { $0.hasSuffix(".log") }.sorted() ?? []
        for name in names {
            let actor = String(name.dropLast(4))
            files[actor] = name
            guard let data = FileManager.default.contents(atPath: "\(folder)/\(name)") else { continue }
            var list: [LogEvent] = []
            for line in data.split(separator: 0x0A) {
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else {
                    unreadableLines += 1
                    continue
                }
                if let event = Self.event(object, actor: actor, position: list.count) { list.append(event) }
            }
            events[actor] = list
        }
    }

    /// The event a log line stands for, if the report draws it.
    static func event(_ object: [String: Any], actor: String, position: Int) -> LogEvent? {
        let message = object["msg"] as? String ?? ""
        let time = (object["ts"] as? String).flatMap(Self.seconds) ?? 0
        switch message {
        case "message":
            let direction = object["ev"] as? String
            guard direction == "send" || direction == "recv" else { return nil }
            var event = LogEvent(actor: actor, kind: direction == "send" ? .send : .recv, position: position, time: time)
            event.peer = object["peer"] as? String ?? ""
            event.type = object["type"] as? String ?? "?"
            event.requestID = object["rid"] as? String ?? ""
            event.code = object["code"] as? String
            event.refusedCoins = object["refused_coins"] as? Int ?? 0
            event.note = object["note"] as? String
            return event
        case "serving":
            var event = LogEvent(actor: actor, kind: .started, position: position, time: time)
            event.bind = object["bind"] as? String
            return event
        case "stopping on signal":
            return LogEvent(actor: actor, kind: .stopped, position: position, time: time)
        default:
            if message.hasPrefix("crash point") { return LogEvent(actor: actor, kind: .crashed(message), position: position, time: time) }
            return nil
        }
    }

    nonisolated(unsafe) static let formatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    nonisolated(unsafe) static let plain = ISO8601DateFormatter()

    /// `2026-12-06T08:05:37.123456Z` (any number of fraction digits) as seconds since the epoch.
    static func seconds(_ text: String) -> Double? {
        guard text.count >= 20, let dot = text.firstIndex(of: ".") else { return formatter.date(from: text)?.timeIntervalSince1970 }
        let whole = String(text[..<dot]) + "Z"
        let fraction = text[text.index(after: dot)...].prefix { $0.isNumber }
        guard let base = plain.date(from: whole) else { return nil }
        return base.timeIntervalSince1970 + (Double("0." + fraction) ?? 0)
    }
}
