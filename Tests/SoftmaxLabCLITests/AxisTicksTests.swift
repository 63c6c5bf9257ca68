import SoftmaxLabCLI
import Testing

@Suite struct AxisTicksTests {
    @Test func ticksAreRoundNumbersThatCoverTheData() {
        let cases: [(low: Double, high: Double, integers: Bool, expected: [Double])] = [
            (0.4223, 0.9, false, [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
            (0, 1, false, [0, 0.25, 0.5, 0.75, 1]),
            (0, 2.31, false, [0, 0.5, 1, 1.5, 2, 2.5]),
            (1, 20, true, [0, 5, 10, 15, 20]),
            (1, 3, true, [1, 2, 3]),
            (0.75, 10.75, true, [0, 2, 4, 6, 8, 10, 12]),
            (-3e-5, 7e-5, false, [-5e-5, -2.5e-5, 0, 2.5e-5, 5e-5, 7.5e-5]),
            (5, 5, false, [4.5, 4.75, 5, 5.25, 5.5]),
        ]
        for c in cases {
            let ticks = AxisTicks(low: c.low, high: c.high, count: 5, integers: c.integers)
            #expect(ticks.values.count == c.expected.count && zip(ticks.values, c.expected).allSatisfy { abs($0 - $1) < 1e-12 },
                    "\(c.low)...\(c.high): \(ticks.values), expected \(c.expected)")
            #expect(ticks.lower <= c.low && ticks.upper >= c.high)
        }
    }

    @Test func labelsShowTheDigitsTheStepNeeds() {
        let quarter = AxisTicks(low: 0, high: 1)
        #expect(quarter.values.map(quarter.label) == ["0", "0.25", "0.50", "0.75", "1.00"])
        let epochs = AxisTicks(low: 1, high: 20, integers: true)
        #expect(epochs.values.map(epochs.label) == ["0", "5", "10", "15", "20"])
        let tenths = AxisTicks(low: 0.4223, high: 0.9)
        #expect(tenths.label(0.5) == "0.5")
    }
}
