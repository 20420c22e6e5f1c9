import Foundation

/// A message sequence diagram built from the actors' logs: each receive matched to its send by
/// request id and type (and, where a log names it, the endpoint); a Lamport clock over those
/// pairs, and the logs' times pushed forward where a receive would precede its send (a hybrid
/// logical clock), so that the order is causal across processes and hosts whatever their wall
/// clocks say; and one row per message in that order.
public struct Diagram: Sendable {
    public struct Message: Sendable, Equatable {
        public var from: String
        /// nil: the receiver is unknown (sent to an endpoint no log serves, and not received).
        public var to: String?
        public var type: String
        public var requestID: String
        public var code: String?
        public var refusedCoins = 0
        /// Sent and never received by anyone whose log we have (lost, dropped, or the receiver
        /// died first).
        public var lost = false
        /// What a fault proxy did with it.
        public var note: String?
        public var clock: Int
        /// When it happened, as the logs say, pushed later where a clock ran behind: never
        /// before the event it follows in its process, nor before the send it received (a
        /// hybrid logical clock). Rows are in this order: wall-clock order on one host, and
        /// causal order across hosts whatever their clocks.
        public var time: Double
        /// How many identical messages in a row this one stands for once collapsed.
        public var count = 1

        /// A refusal: an error answer, or a redemption with refused coins.
        public var isRefusal: Bool { code != nil }
        public var isSMS: Bool { type == "sms_delivery" || type == "sms_submit" }
        var signature: String { "\(from)>\(to ?? "?")|\(type)|\(code ?? "")|\(lost)|\(note ?? "")" }
    }

    public struct Marker: Sendable, Equatable {
        public enum Kind: String, Sendable { case start, restart, stop, crash, pause, resume }
        public var actor: String
        public var kind: Kind
        public var label: String
        public var clock: Int
        public var time: Double
    }

    public enum Row: Sendable, Equatable {
        case message(Message)
        case marker(Marker)
        case step(index: Int, label: String, attack: Bool, failed: Bool)

        var time: Double {
            switch self {
            case .message(let m): m.time
            case .marker(let m): m.time
            case .step: 0
            }
        }
    }

    public var lifelines: [String] = []
    /// Every message, in causal order (not collapsed).
    public var messages: [Message] = []
    public var markers: [Marker] = []
    /// Receives whose send could not be placed before them (a log that lost lines): drawn as
    /// local events; counted so that a report can say so.
    public var brokenPairs = 0

    /// The lifeline of senders and receivers no log names (a client that does not trace, a push
    /// never read).
    public static let outside = "(unknown)"

    public init(logs: RunLogs) {
        var endpointActor: [String: String] = [:]
        for (actor, list) in logs.events {
            for event in list where event.kind == .started { if let bind = event.bind { endpointActor[bind] = actor } }
        }
        struct Ref: Hashable { let actor: String; let index: Int }
        // Sends by (request id, type), oldest first.
        var sends: [String: [Ref]] = [:]
        var recvs: [(Ref, LogEvent)] = []
        for (actor, list) in logs.events {
            for (index, event) in list.enumerated() {
                let key = "\(event.requestID)|\(event.type)"
                if event.kind == .send { sends[key, default: []].append(Ref(actor: actor, index: index)) }
                if event.kind == .recv { recvs.append((Ref(actor: actor, index: index), event)) }
            }
        }
        func event(_ ref: Ref) -> LogEvent { logs.events[ref.actor]![ref.index] }
        for key in sends.keys { sends[key]!.sort { (event($0).time, $0.actor, $0.index) < (event($1).time, $1.actor, $1.index) } }
        recvs.sort { ($0.1.time, $0.0.actor, $0.0.index) < ($1.1.time, $1.0.actor, $1.0.index) }

        // Each receive takes the oldest unmatched send of its key that could have reached it.
        var matchedSend: [Ref: Ref] = [:]  // recv -> send
        var matchedRecv: [Ref: Ref] = [:]  // send -> recv
        for (ref, received) in recvs {
            let key = "\(received.requestID)|\(received.type)"
            guard let candidates = sends[key] else { continue }
            func fits(_ candidate: Ref) -> Bool {
                guard matchedRecv[candidate] == nil, candidate.actor != ref.actor else { return false }
                let sent = event(candidate)
                if !sent.peer.isEmpty, let target = endpointActor[sent.peer], target != ref.actor { return false }
                if !received.peer.isEmpty, let source = endpointActor[received.peer], source != candidate.actor { return false }
                return true
            }
            // The oldest copy that fits (sends and receives both in time order). Which copy of a
            // retried request got through is not in the logs: a lost first copy is drawn as the
            // received one and the second as lost; the count and the order stay right.
            if let match = candidates.first(where: fits) {
                matchedSend[ref] = match
                matchedRecv[match] = ref
            }
        }

        // Lamport clocks: each process's events in log order; a receive after its send.
        var clocks: [Ref: Int] = [:]
        var times: [Ref: Double] = [:]
        var next: [String: Int] = [:]
        var last: [String: Int] = [:]
        var lastTime: [String: Double] = [:]
        let actors = logs.events.keys.sorted()
        var remaining = logs.events.values.reduce(0) { $0 + $1.count }
        var broken = 0
        while remaining > 0 {
            var progressed = false
            for actor in actors {
                let list = logs.events[actor]!
                while let index = next[actor, default: 0] < list.count ? next[actor, default: 0] : nil {
                    let ref = Ref(actor: actor, index: index)
                    var clock = last[actor, default: 0] + 1
                    var time = max(event(ref).time, lastTime[actor, default: 0])
                    if let send = matchedSend[ref] {
                        guard let sent = clocks[send] else { break }
                        clock = max(clock, sent + 1)
                        time = max(time, times[send]! + 1e-6)
                    }
                    clocks[ref] = clock
                    times[ref] = time
                    last[actor] = clock
                    lastTime[actor] = time
                    next[actor] = index + 1
                    remaining -= 1
                    progressed = true
                }
            }
            if !progressed {
                // A cycle (only a log that lost lines can make one): the earliest blocked receive
                // is taken as unmatched.
                let blocked = actors.compactMap { actor -> Ref? in
                    let index = next[actor, default: 0]
                    return index < logs.events[actor]!.count ? Ref(actor: actor, index: index) : nil
                }.min { event($0).time < event($1).time }!
                if let send = matchedSend.removeValue(forKey: blocked) { matchedRecv[send] = nil }
                broken += 1
            }
        }
        brokenPairs = broken

        var messages: [Message] = []
        var markers: [Marker] = []
        var started: Set<String> = []
        for actor in actors {
            for (index, item) in logs.events[actor]!.enumerated() {
                let ref = Ref(actor: actor, index: index)
                let clock = clocks[ref] ?? 0
                var item = item
                item.time = times[ref] ?? item.time
                switch item.kind {
                case .send:
                    let recv = matchedRecv[ref]
                    var message = Message(
                        from: actor, to: recv?.actor ?? endpointActor[item.peer], type: item.type, requestID: item.requestID, code: item.code,
                        refusedCoins: item.refusedCoins, lost: recv == nil, note: recv.flatMap { event($0).note }, clock: clock, time: item.time)
                    if message.to == nil { message.to = Self.outside }
                    messages.append(message)
                case .recv:
                    guard matchedSend[ref] == nil else { continue }
                    messages.append(Message(
                        from: endpointActor[item.peer] ?? Self.outside, to: actor, type: item.type, requestID: item.requestID, code: item.code,
                        refusedCoins: item.refusedCoins, note: item.note, clock: clock, time: item.time))
                case .started:
                    let first = started.insert(actor).inserted
                    markers.append(Marker(actor: actor, kind: first ? .start : .restart, label: first ? "started" : "restarted", clock: clock, time: item.time))
                case .stopped:
                    markers.append(Marker(actor: actor, kind: .stop, label: "stopped", clock: clock, time: item.time))
                case .crashed(let text):
                    markers.append(Marker(actor: actor, kind: .crash, label: text, clock: clock, time: item.time))
                }
            }
        }
        self.messages = messages.sorted { ($0.time, $0.clock, $0.from) < ($1.time, $1.clock, $1.from) }
        self.markers = markers.sorted { ($0.time, $0.clock) < ($1.time, $1.clock) }
        var names = Set(logs.events.keys)
        for message in messages {
            names.insert(message.from)
            if let to = message.to { names.insert(to) }
        }
        lifelines = names.sorted { (Self.rank($0), $0) < (Self.rank($1), $1) }
    }

    /// Left to right: the runner (as an attacker), customers, the app server, the network
    /// provider, the bank, fault proxies, merchants, unknown senders.
    static func rank(_ name: String) -> Int {
        if name == "runner" { return 0 }
        if name.hasPrefix("customer") { return 1 }
        if name == "appserver" { return 2 }
        if name == "nsp" { return 3 }
        if name == "bank" { return 4 }
        if name.hasPrefix("proxy") { return 5 }
        if name.hasPrefix("merchant") { return 6 }
        if name == outside { return 8 }
        return 7
    }

    /// The rows to draw: messages and markers in causal order, a step's label before the first
    /// row at or after the step began, and runs of identical messages (or of identical
    /// request/answer pairs, such as 37 payments) collapsed into one row each with a count.
    public func rows(
        steps: [(index: Int, label: String, attack: Bool, failed: Bool, startedAt: Double)] = [], extraMarkers: [Marker] = [], collapse: Bool = true
    ) -> [Row] {
        let markers = (self.markers + extraMarkers).sorted { ($0.time, $0.clock) < ($1.time, $1.clock) }
        var merged: [Row] = []
        var messageIndex = 0
        var markerIndex = 0
        while messageIndex < messages.count || markerIndex < markers.count {
            if markerIndex < markers.count,
                messageIndex >= messages.count || (markers[markerIndex].time, markers[markerIndex].clock) <= (messages[messageIndex].time, messages[messageIndex].clock)
            {
                merged.append(.marker(markers[markerIndex]))
                markerIndex += 1
            } else {
                merged.append(.message(messages[messageIndex]))
                messageIndex += 1
            }
        }
        var rows: [Row] = []
        var pending = steps.sorted { $0.startedAt < $1.startedAt }[...]
        for row in merged {
            while let step = pending.first, row.time >= step.startedAt {
                rows.append(.step(index: step.index, label: step.label, attack: step.attack, failed: step.failed))
                pending = pending.dropFirst()
            }
            rows.append(row)
        }
        for step in pending { rows.append(.step(index: step.index, label: step.label, attack: step.attack, failed: step.failed)) }
        return collapse ? Self.collapsed(rows) : rows
    }

    static func collapsed(_ rows: [Row]) -> [Row] {
        func signature(_ row: Row) -> String? {
            if case .message(let message) = row { return message.signature }
            return nil
        }
        var out: [Row] = []
        var index = 0
        scan: while index < rows.count {
            // A single message repeated, else a pair repeated (a request and its answer): the
            // single first, so that five identical messages are one row of x5, not x2, x2 and 1.
            let sameTwice = index + 1 < rows.count && signature(rows[index]) != nil && signature(rows[index]) == signature(rows[index + 1])
            for period in sameTwice ? [1] : [2, 1] where index + period <= rows.count {
                let unit = rows[index..<(index + period)].map(signature)
                guard unit.allSatisfy({ $0 != nil }) else { continue }
                var repeats = 1
                while index + (repeats + 1) * period <= rows.count,
                    rows[(index + repeats * period)..<(index + (repeats + 1) * period)].map(signature) == unit
                {
                    repeats += 1
                }
                guard repeats >= 2 else { continue }
                for offset in 0..<period {
                    guard case .message(var message) = rows[index + offset] else { continue }
                    message.count = repeats
                    out.append(.message(message))
                }
                index += repeats * period
                continue scan
            }
            out.append(rows[index])
            index += 1
        }
        return out
    }
}
