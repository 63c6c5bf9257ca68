import Foundation

/// Axis ticks at round numbers (1, 2, 2.5 or 5 times a power of ten, or whole numbers for an
/// integer axis such as epochs), and the axis range widened to the outermost ticks, so a chart reads
/// 0.2, 0.4, 0.6 rather than 0.4223, 0.6145.
public struct AxisTicks: Equatable, Sendable {
    public var values: [Double]
    public var step: Double
    public var lower: Double { values.first! }
    public var upper: Double { values.last! }

    /// About `count` ticks covering `low...high`; `integers` keeps the step a whole number.
    public init(low: Double, high: Double, count: Int = 5, integers: Bool = false) {
        var (low, high) = (low, high)
        if !(high > low) {
            // One value: a unit-wide axis around it.
            let pad = low == 0 ? 1 : abs(low) * 0.1
            (low, high) = (low - pad, high + pad)
        }
        let step = max(integers ? 1 : 0, Self.niceStep((high - low) / Double(max(count - 1, 1)), integers: integers))
        let first = (low / step).rounded(.down), last = (high / step).rounded(.up)
        values = stride(from: first, through: last, by: 1).map { ($0 * step * 1e12).rounded() / 1e12 }
        self.step = step
    }

    /// The round number nearest `raw`: 1, 2, 2.5 or 5 × 10^k (no 2.5 on an integer axis).
    static func niceStep(_ raw: Double, integers: Bool = false) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let power = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / power
        let nice: Double = fraction < 1.5 ? 1 : fraction < (integers ? 3.5 : 2.25) ? 2 : !integers && fraction < 3.5 ? 2.5 : fraction < 7.5 ? 5 : 10
        return nice * power
    }

    /// A tick's label: as few digits as the step needs (0.25, 1.5, 20, 1e-05 for tiny steps).
    public func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        let decimals = max(0, -Int((log10(step)).rounded(.down)) + (step / pow(10, (log10(step)).rounded(.down)) == 2.5 ? 1 : 0))
        if decimals > 6 || abs(value) >= 1e7 { return String(format: "%.3g", value) }
        return String(format: "%.\(decimals)f", value)
    }
}
