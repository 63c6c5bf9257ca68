import Foundation

/// Inline SVG charts for `report`: no scripts, no fonts or styles from the network.
enum SVGChart {
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ v: Double) -> String { String(format: "%.4g", v) }

    /// Lines of (x, y) points on shared axes with ticks at round numbers (whole numbers on an
    /// `integerX` axis such as epochs), and a legend below, one line per series.
    static func lines(title: String, xLabel: String, yLabel: String, series: [(name: String, points: [(Double, Double)])],
                      integerX: Bool = false, width: Double = 720, height: Double = 300) -> String {
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return "<p>\(escape(title)): no data</p>" }
        let (left, right, top, bottom) = (60.0, 20.0, 30.0, 40.0)
        let xs = all.map(\.0), ys = all.map(\.1)
        let xTicks = AxisTicks(low: xs.min()!, high: xs.max()!, count: 6, integers: integerX)
        let yTicks = AxisTicks(low: min(0, ys.min()!), high: ys.max()!)
        let (x0, x1, y0, y1) = (xTicks.lower, xTicks.upper, yTicks.lower, yTicks.upper)
        let px = { (x: Double) in left + (x - x0) / (x1 - x0) * (width - left - right) }
        let py = { (y: Double) in height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom) }
        var svg = opening(title: title, width: width, height: height + 14 * Double(series.count) + 6, left: left, right: right, yTicks: yTicks, py: py)
        for x in xTicks.values {
            svg += "<text x=\"\(px(x))\" y=\"\(height - bottom + 14)\" font-size=\"10\" text-anchor=\"middle\" font-family=\"sans-serif\" class=\"x-tick\">\(xTicks.label(x))</text>"
        }
        svg += axes(left: left, top: top, right: width - right, bottom: height - bottom)
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 6)\" font-size=\"11\" text-anchor=\"middle\" font-family=\"sans-serif\">\(escape(xLabel))</text>"
        svg += "<text x=\"14\" y=\"\((top + height - bottom) / 2)\" font-size=\"11\" text-anchor=\"middle\" font-family=\"sans-serif\" transform=\"rotate(-90 14 \((top + height - bottom) / 2))\">\(escape(yLabel))</text>"
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            let points = s.points.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points)\"/>"
            let ly = height + 14 * Double(i)
            svg += "<rect x=\"\(left)\" y=\"\(ly)\" width=\"12\" height=\"3\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(left + 16)\" y=\"\(ly + 5)\" font-size=\"10\" font-family=\"sans-serif\" class=\"legend\">\(escape(s.name))</text>"
        }
        return svg + "</svg>"
    }

    /// Horizontal bars with values, and a vertical reference line (the copy bandwidth).
    static func bars(title: String, unit: String, bars: [(label: String, value: Double)], reference: (label: String, value: Double)?,
                     width: Double = 720) -> String {
        guard !bars.isEmpty else { return "<p>\(escape(title)): no data</p>" }
        let (left, right, top, rowHeight) = (300.0, 70.0, 30.0, 22.0)
        let height = top + rowHeight * Double(bars.count) + 40
        let top1 = max(bars.map(\.value).max()!, reference?.value ?? 0, 1e-9)
        let px = { (v: Double) in left + v / top1 * (width - left - right) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"10\" y=\"18\" font-size=\"14\" font-family=\"sans-serif\">\(escape(title))</text>"
        for (i, bar) in bars.enumerated() {
            let y = top + rowHeight * Double(i)
            svg += "<text x=\"\(left - 6)\" y=\"\(y + 14)\" font-size=\"10\" text-anchor=\"end\" font-family=\"sans-serif\">\(escape(bar.label))</text>"
            svg += "<rect x=\"\(left)\" y=\"\(y + 3)\" width=\"\(max(px(bar.value) - left, 1))\" height=\"\(rowHeight - 6)\" fill=\"\(palette[i % palette.count])\"/>"
            svg += "<text x=\"\(px(bar.value) + 4)\" y=\"\(y + 14)\" font-size=\"10\" font-family=\"sans-serif\">\(number(bar.value)) \(escape(unit))</text>"
        }
        if let reference {
            let x = px(reference.value), y1 = top + rowHeight * Double(bars.count)
            svg += "<line x1=\"\(x)\" y1=\"\(top - 4)\" x2=\"\(x)\" y2=\"\(y1 + 4)\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>"
            svg += "<text x=\"\(x)\" y=\"\(y1 + 18)\" font-size=\"10\" text-anchor=\"middle\" font-family=\"sans-serif\">\(escape(reference.label)) \(number(reference.value)) \(escape(unit))</text>"
        }
        return svg + "</svg>"
    }

    /// Vertical bars per class, one bar per series side by side, around a zero line (values may be
    /// negative, as a gradient's are), with round ticks and a legend.
    static func classBars(title: String, series: [(name: String, values: [Double])], width: Double = 720, height: Double = 260) -> String {
        let all = series.flatMap(\.values).filter(\.isFinite)
        guard let classes = series.first?.values.count, classes > 0, !all.isEmpty else { return "<p>\(escape(title)): no data</p>" }
        let (left, right, top, bottom) = (60.0, 20.0, 30.0, 40.0)
        let ticks = AxisTicks(low: min(0, all.min()!), high: max(0, all.max()!))
        let py = { (y: Double) in height - bottom - (y - ticks.lower) / (ticks.upper - ticks.lower) * (height - top - bottom) }
        let slot = (width - left - right) / Double(classes)
        let barWidth = max(slot * 0.8 / Double(series.count), 0.5)
        var svg = opening(title: title, width: width, height: height + 14 * Double(series.count) + 6, left: left, right: right, yTicks: ticks, py: py)
        let labelEvery = max(1, classes / 20)
        for k in 0..<classes where k % labelEvery == 0 {
            svg += "<text x=\"\(left + slot * (Double(k) + 0.5))\" y=\"\(height - bottom + 14)\" font-size=\"10\" text-anchor=\"middle\" font-family=\"sans-serif\" class=\"x-tick\">\(k)</text>"
        }
        for (i, s) in series.enumerated() {
            let color = palette[i % palette.count]
            for (k, v) in s.values.enumerated() where v.isFinite {
                let x = left + slot * Double(k) + slot * 0.1 + barWidth * Double(i)
                let (y0, y1) = (py(max(v, 0)), py(min(v, 0)))
                svg += "<rect x=\"\(x)\" y=\"\(y0)\" width=\"\(barWidth)\" height=\"\(max(y1 - y0, 0.5))\" fill=\"\(color)\"><title>\(escape(s.name)) class \(k): \(number(v))</title></rect>"
            }
            let ly = height + 14 * Double(i)
            svg += "<rect x=\"\(left)\" y=\"\(ly - 4)\" width=\"12\" height=\"8\" fill=\"\(color)\"/>"
            svg += "<text x=\"\(left + 16)\" y=\"\(ly + 4)\" font-size=\"10\" font-family=\"sans-serif\" class=\"legend\">\(escape(s.name))</text>"
        }
        svg += "<line x1=\"\(left)\" y1=\"\(py(0))\" x2=\"\(width - right)\" y2=\"\(py(0))\" stroke=\"#444\"/>"
        svg += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(height - bottom)\" stroke=\"#444\"/>"
        svg += "<text x=\"\((left + width - right) / 2)\" y=\"\(height - 6)\" font-size=\"11\" text-anchor=\"middle\" font-family=\"sans-serif\">class</text>"
        return svg + "</svg>"
    }

    /// The `<svg>` element, the title and the horizontal grid lines with their tick labels.
    private static func opening(title: String, width: Double, height: Double, left: Double, right: Double,
                                yTicks: AxisTicks, py: (Double) -> Double) -> String {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<text x=\"\(left)\" y=\"18\" font-size=\"14\" font-family=\"sans-serif\">\(escape(title))</text>"
        for y in yTicks.values {
            svg += "<line x1=\"\(left)\" y1=\"\(py(y))\" x2=\"\(width - right)\" y2=\"\(py(y))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(left - 6)\" y=\"\(py(y) + 4)\" font-size=\"10\" text-anchor=\"end\" font-family=\"sans-serif\" class=\"y-tick\">\(yTicks.label(y))</text>"
        }
        return svg
    }

    private static func axes(left: Double, top: Double, right: Double, bottom: Double) -> String {
        "<line x1=\"\(left)\" y1=\"\(bottom)\" x2=\"\(right)\" y2=\"\(bottom)\" stroke=\"#444\"/>"
            + "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(bottom)\" stroke=\"#444\"/>"
    }
}
