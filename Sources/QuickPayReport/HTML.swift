import Foundation

/// Small helpers for self-contained HTML: escaping, the page shell (inline CSS, and a little
/// plain JavaScript that pages long diagrams and records script errors on the body, where a
/// headless browser test can read them), number formats and a line chart in SVG.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <script>window.onerror=function(m){var b=document.body||document.documentElement;var n=+(b.getAttribute('data-script-errors')||0)+1;b.setAttribute('data-script-errors',String(n));b.setAttribute('data-last-error',String(m));};</script>
        <style>\(css)</style></head>
        <body>
        \(body)
        <script>\(script)</script>
        </body></html>

        """
    }

    static let css = """
        body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
        h1{font-size:22px}h2{font-size:17px;margin:0;display:inline}
        table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
        th{background:#f4f4f4}.num{text-align:right;font-variant-numeric:tabular-nums}
        .pass{color:#17702c;font-weight:600}.fail{color:#b00020;font-weight:600}
        tr.failed td{background:#fde8ea}tr.attack td:first-child{border-left:4px solid #e07b00}
        details.scenario{border:1px solid #ccc;border-radius:6px;margin:10px 0;padding:6px 10px}
        details.scenario[open]{background:#fcfcfc}summary{cursor:pointer}
        .muted{color:#666}.mono{font-family:ui-monospace,monospace;font-size:12px}
        .badge{display:inline-block;border-radius:4px;padding:0 6px;margin-left:6px;font-size:12px}
        .badge.pass{background:#e3f4e7}.badge.fail{background:#fde8ea}
        .pager button{margin:2px}.page{display:block}.paged .page{display:none}.paged .page.shown{display:block}
        svg text{font-family:system-ui,sans-serif}
        .grid td{width:14px;height:14px;padding:0;text-align:center;font-size:10px}.grid td.ok{background:#cdebd3}.grid td.bad{background:#e53950;color:#fff}
        .grid th{font-weight:normal;font-size:11px}
        """

    static let script = """
        (function(){
          document.querySelectorAll('.diagram').forEach(function(d){
            var pages=d.querySelectorAll('.page');if(pages.length<2)return;
            d.classList.add('paged');var nav=d.querySelector('.pager');
            function show(i){pages.forEach(function(p,j){p.classList.toggle('shown',i===j);});
              nav.querySelectorAll('button').forEach(function(b,j){b.disabled=(i===j);});}
            pages.forEach(function(p,i){var b=document.createElement('button');b.textContent='page '+(i+1);
              b.onclick=function(){show(i);};nav.appendChild(b);});
            show(0);
          });
          var focus=location.hash.indexOf('#focus-')===0?location.hash.slice(7):null;
          if(focus){document.querySelectorAll('.run-summary').forEach(function(e){e.style.display='none';});
            document.querySelectorAll('details.scenario').forEach(function(d){var mine=d.id==='s-'+focus;d.style.display=mine?'':'none';d.open=mine;});}
          else if(location.hash){var t=document.getElementById(location.hash.slice(1));
            for(var p=t;p;p=p.parentElement){if(p.tagName==='DETAILS')p.open=true;}
            if(t)t.scrollIntoView();}
          document.body.setAttribute('data-ready','1');
        })();
        """

    static func number(_ value: Double, decimals: Int = 0) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.minimumFractionDigits = decimals
        formatter.maximumFractionDigits = decimals
        formatter.locale = Locale(identifier: "en_US")
        return formatter.string(from: NSNumber(value: value)) ?? "\(value)"
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]

    /// A line chart: one polyline per series over the same x positions, a legend, y from 0.
    static func lineChart(
        series: [(name: String, values: [Double?])], xLabels: [String], width: Double = 640, height: Double = 200, yUnit: String,
        logY: Bool = false, emphasis: String? = nil
    ) -> String {
        let count = max(1, series.map(\.values.count).max() ?? 1)
        let left = 70.0, right = 10.0, top = 10.0, bottom = 30.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let all = series.flatMap { $0.values.compactMap { $0 } }
        let minimum = logY ? (all.filter { $0 > 0 }.min() ?? 1) * 0.8 : 0
        var maximum = max(all.max() ?? 1, logY ? minimum * 10 : 1)
        if !logY { maximum *= 1.05 }
        func y(_ value: Double) -> Double {
            if logY { return top + plotHeight * (1 - (log10(max(value, minimum)) - log10(minimum)) / max(1e-9, log10(maximum) - log10(minimum))) }
            return top + plotHeight * (1 - value / maximum)
        }
        func x(_ index: Int) -> Double { left + (count <= 1 ? plotWidth / 2 : plotWidth * Double(index) / Double(count - 1)) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height + Double(series.count / 4 + 1) * 16))\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
        for fraction in [0.0, 0.5, 1.0] {
            let value = logY ? pow(10, log10(minimum) + fraction * (log10(maximum) - log10(minimum))) : maximum * fraction
            svg += "<text x=\"\(left - 4)\" y=\"\(y(value) + 4)\" font-size=\"10\" text-anchor=\"end\">\(escape(number(value, decimals: value == 0 ? 0 : value < 1 ? 3 : value < 10 ? 1 : 0))) \(escape(yUnit))</text>"
        }
        let step = max(1, count / 12)
        for (index, label) in xLabels.enumerated() where index % step == 0 {
            svg += "<text x=\"\(x(index))\" y=\"\(height - 12)\" font-size=\"10\" text-anchor=\"middle\">\(escape(label))</text>"
        }
        for (offset, item) in series.enumerated() {
            let color = palette[offset % palette.count]
            var points: [String] = []
            for (index, value) in item.values.enumerated() {
                guard let value else { continue }
                points.append(String(format: "%.1f,%.1f", x(index), y(value)))
            }
            let strokeWidth = item.name == emphasis ? 3 : 1.5
            if points.count == 1 {
                svg += "<circle cx=\"\(points[0].split(separator: ",")[0])\" cy=\"\(points[0].split(separator: ",")[1])\" r=\"3\" fill=\"\(color)\"/>"
            } else if !points.isEmpty {
                svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(strokeWidth)\" points=\"\(points.joined(separator: " "))\"><title>\(escape(item.name))</title></polyline>"
            }
            let legendX = left + Double(offset % 4) * (plotWidth / 4)
            let legendY = height + Double(offset / 4) * 16
            svg += "<rect x=\"\(legendX)\" y=\"\(legendY - 9)\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(legendX + 14)\" y=\"\(legendY)\" font-size=\"11\">\(escape(item.name))</text>"
        }
        return svg + "</svg>"
    }
}
