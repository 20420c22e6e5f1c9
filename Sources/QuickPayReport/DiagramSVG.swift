import Foundation

/// Draws a diagram's rows as inline SVG, a page of at most `rowsPerPage` rows each: one lifeline
/// per actor, one arrow per (collapsed) message with its type, short request id and code,
/// refusals in red, SMS in green, lost messages dashed, the steps as bands (attack steps in
/// orange), and restarts, stops and crashes marked on the lifelines.
///
/// Every arrow is a `<g class="msg" data-count="N">`: the sum of the counts is the number of
/// messages drawn (the headless-browser test compares it with the logs).
enum DiagramSVG {
    static let column = 150.0
    static let rowHeight = 22.0
    static let header = 34.0
    static let left = 20.0

    /// `id` makes the arrowhead's id unique on the page (an id defined in a hidden scenario
    /// would leave every other diagram without arrowheads).
    static func pages(_ diagram: Diagram, rows: [Diagram.Row], id: String = "d", rowsPerPage: Int = 160) -> [String] {
        guard !rows.isEmpty else { return [] }
        var pages: [String] = []
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + rowsPerPage)
            pages.append(page(diagram, rows: Array(rows[start..<end]), marker: "ah-\(id)-\(pages.count)"))
            start = end
        }
        return pages
    }

    static func x(_ diagram: Diagram, _ actor: String) -> Double {
        let index = diagram.lifelines.firstIndex(of: actor) ?? diagram.lifelines.count
        return left + column / 2 + Double(index) * column
    }

    static func page(_ diagram: Diagram, rows: [Diagram.Row], marker: String) -> String {
        let width = left * 2 + Double(diagram.lifelines.count) * column
        let height = header + Double(rows.count) * rowHeight + 10
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sequence\" width=\"\(Int(width))\" height=\"\(Int(height))\">"
        svg += """
            <defs><marker id="\(marker)" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="context-stroke"/></marker></defs>
            """
        // Step bands first, behind everything.
        for (index, row) in rows.enumerated() {
            guard case .step(let number, let label, let attack, let failed) = row else { continue }
            let y = header + Double(index) * rowHeight
            let fill = failed ? "#fde8ea" : attack ? "#fff1de" : "#eef3fb"
            svg += "<g class=\"step\(attack ? " attack" : "")\"><rect x=\"0\" y=\"\(y + 2)\" width=\"\(width)\" height=\"\(rowHeight - 4)\" fill=\"\(fill)\"/>"
            svg += "<text x=\"6\" y=\"\(y + 15)\" font-size=\"12\" font-weight=\"600\" fill=\"\(attack ? "#a35200" : "#1d3a6b")\">step \(number)\(attack ? " (attack)" : ""): \(HTML.escape(String(label.prefix(140))))</text></g>"
        }
        for actor in diagram.lifelines {
            let x = x(diagram, actor)
            svg += "<line x1=\"\(x)\" y1=\"\(header - 6)\" x2=\"\(x)\" y2=\"\(height)\" stroke=\"#bbb\" stroke-dasharray=\"2,3\"/>"
            svg += "<text x=\"\(x)\" y=\"18\" font-size=\"12\" font-weight=\"600\" text-anchor=\"middle\">\(HTML.escape(actor))</text>"
        }
        for (index, row) in rows.enumerated() {
            let y = header + Double(index) * rowHeight + rowHeight / 2 + 4
            switch row {
            case .step:
                continue
            case .marker(let marker):
                let x = x(diagram, marker.actor)
                let (symbol, color) =
                    switch marker.kind {
                    case .start: ("▶", "#17702c")
                    case .restart: ("↻", "#17702c")
                    case .stop: ("■", "#666")
                    case .crash: ("✖", "#b00020")
                    case .pause: ("⏸", "#a35200")
                    case .resume: ("⏵", "#a35200")
                    }
                svg += "<g class=\"marker \(marker.kind.rawValue)\"><text x=\"\(x)\" y=\"\(y)\" font-size=\"14\" text-anchor=\"middle\" fill=\"\(color)\">\(symbol)</text>"
                svg += "<text x=\"\(x + 10)\" y=\"\(y - 1)\" font-size=\"10\" fill=\"\(color)\">\(HTML.escape(String(marker.label.prefix(60))))</text></g>"
            case .message(let message):
                svg += arrow(diagram, message, y: y, marker: marker)
            }
        }
        return svg + "</svg>"
    }

    static func arrow(_ diagram: Diagram, _ message: Diagram.Message, y: Double, marker: String) -> String {
        let from = x(diagram, message.from)
        let to = x(diagram, message.to ?? Diagram.outside)
        let color = message.isRefusal ? "#c62828" : message.isSMS ? "#2e7d32" : message.lost ? "#888" : "#333"
        var classes = ["msg"]
        if message.isRefusal { classes.append("refusal") }
        if message.isSMS { classes.append("sms") }
        if message.lost { classes.append("lost") }
        var label = message.type + (message.isSMS ? " ✉" : "") + " · " + String(message.requestID.prefix(6))
        if let code = message.code { label += " · " + code }
        if message.refusedCoins > 0 { label += " (\(message.refusedCoins) coin\(message.refusedCoins == 1 ? "" : "s") refused)" }
        if let note = message.note { label += " [proxy: \(note)]" }
        if message.count > 1 { label += " ×\(message.count)" }
        let dash = message.lost || message.isSMS ? " stroke-dasharray=\"5,3\"" : ""
        var svg = "<g class=\"\(classes.joined(separator: " "))\" data-count=\"\(message.count)\" data-type=\"\(HTML.escape(message.type))\"\(message.code.map { " data-code=\"\(HTML.escape($0))\"" } ?? "")>"
        svg += "<title>\(HTML.escape("\(message.from) → \(message.to ?? "?"): \(message.type) request \(message.requestID)\(message.code.map { ", \($0)" } ?? "")\(message.count > 1 ? ", \(message.count) in a row" : "")"))</title>"
        if from == to {
            svg += "<path d=\"M\(from),\(y - 6) h24 v8 h-24\" fill=\"none\" stroke=\"\(color)\" marker-end=\"url(#\(marker))\"\(dash)/>"
        } else {
            let end = message.lost ? from + (to - from) * 0.85 : to
            svg += "<line x1=\"\(from)\" y1=\"\(y)\" x2=\"\(end)\" y2=\"\(y)\" stroke=\"\(color)\" stroke-width=\"\(message.isRefusal ? 2 : 1.2)\" marker-end=\"url(#\(marker))\"\(dash)/>"
            if message.lost { svg += "<text x=\"\(end + 4)\" y=\"\(y + 4)\" font-size=\"12\" fill=\"#888\">✕</text>" }
        }
        let middle = from == to ? from + 30 : (from + to) / 2
        svg += "<text x=\"\(middle)\" y=\"\(y - 4)\" font-size=\"10\" text-anchor=\"\(from == to ? "start" : "middle")\" fill=\"\(color)\">\(HTML.escape(label))</text></g>"
        return svg
    }
}
