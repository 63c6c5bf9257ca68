/// Wall-clock samples of an operation, warm-up excluded.
public struct TimingSamples: Encodable, Sendable {
    public var milliseconds: [Double]

    public init(milliseconds: [Double]) { self.milliseconds = milliseconds }

    var sorted: [Double] { milliseconds.sorted() }
    var min: Double { sorted.first ?? .nan }
    var max: Double { sorted.last ?? .nan }
    public var median: Double { percentile(0.5) }
    var p90: Double { percentile(0.9) }

    func percentile(_ q: Double) -> Double {
        let s = sorted
        guard !s.isEmpty else { return .nan }
        let position = q * Double(s.count - 1)
        let lo = Int(position), hi = Swift.min(lo + 1, s.count - 1)
        return s[lo] + (s[hi] - s[lo]) * (position - Double(lo))
    }

    enum CodingKeys: String, CodingKey { case min, median, p90, max }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(min, forKey: .min)
        try c.encode(median, forKey: .median)
        try c.encode(p90, forKey: .p90)
        try c.encode(max, forKey: .max)
    }

    /// Runs `body` `warmup` times untimed, then `repeats` times timed.
    static func measure(warmup: Int, repeats: Int, _ body: () throws -> Void) rethrows -> TimingSamples {
        for _ in 0..<warmup { try body() }
        let clock = ContinuousClock()
        var samples: [Double] = []
        samples.reserveCapacity(repeats)
        for _ in 0..<repeats {
            let elapsed = try clock.measure(body)
            samples.append(Double(elapsed.components.seconds) * 1e3 + Double(elapsed.components.attoseconds) * 1e-15)
        }
        return TimingSamples(milliseconds: samples)
    }
}
