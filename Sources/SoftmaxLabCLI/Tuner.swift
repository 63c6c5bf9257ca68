import SoftmaxCore

/// One candidate as `tune` measured it.
public struct TunedCandidate: Encodable, Sendable {
    public var parameters: String
    public var isDefault: Bool
    /// "ok", or what was wrong (a wrong or failing candidate is never chosen).
    public var check: String
    public var timing: TimingSamples?
    /// What measuring it cost: building, uploading, checking, timing.
    public var seconds: Double
    public var chosen = false
}

/// The search over one backend's candidates for one case, within a deadline. Every candidate is
/// checked against the float64 oracle before it is timed. When the whole space fits the time left
/// it is searched in full; otherwise the defaults first, then the untried neighbours (one field
/// different) of the fastest so far, then a seeded random candidate, until the time is spent. The
/// fastest right candidate wins only if it still beats the defaults when both are timed again.
public struct Tuner<B: TunableBackend> {
    let base: B
    let xent: XentCase
    let warmup: Int
    let repeats: Int
    let seed: UInt64
    /// The candidates as JSON, the defaults first: the backend's own for the case unless given.
    let space: [String]
    /// Called after each candidate with "k/n candidates, fastest … ms".
    var progress: (String) -> Void = { _ in }

    public init(base: B, xent: XentCase, warmup: Int, repeats: Int, seed: UInt64, space: [String]? = nil) {
        self.base = base
        self.xent = xent
        self.warmup = warmup
        self.repeats = repeats
        self.seed = seed
        self.space = space ?? base.candidatesJSON(for: xent.shape, elementType: xent.elementType)
    }

    public struct Outcome: Sendable {
        public var candidates: [TunedCandidate]
        /// How many candidates the space has (measured ones are `candidates`).
        public var spaceSize: Int
        public var chosen: TunedCandidate? { candidates.first { $0.chosen } }
        public var defaults: TunedCandidate? { candidates.first { $0.isDefault } }
    }

    public func run(until deadline: ContinuousClock.Instant) -> Outcome {
        let clock = ContinuousClock()
        let fields = space.map(TuningJSON.fields)
        var rng = SeededGenerator(seed: seed)
        var measured: [(index: Int, candidate: TunedCandidate)] = []

        func fastest() -> Int? {
            measured.filter { $0.candidate.timing != nil }.min { $0.candidate.timing!.median < $1.candidate.timing!.median }?.index
        }
        func untried() -> [Int] { space.indices.filter { i in !measured.contains { $0.index == i } } }
        func next() -> Int? {
            let left = untried()
            guard let first = left.first else { return nil }
            let cost = measured.map(\.candidate.seconds).max() ?? 0
            let remaining = Double((deadline - clock.now).components.seconds)
            if cost * Double(left.count) <= remaining { return first }
            if let best = fastest(), let neighbour = left.first(where: { i in
                Set(fields[i].keys).union(fields[best].keys).filter { fields[i][$0] != fields[best][$0] }.count == 1
            }) {
                return neighbour
            }
            return left.randomElement(using: &rng)
        }

        measured.append((0, measure(space[0], isDefault: true)))
        report(measured.map(\.candidate), of: space.count)
        while let i = next() {
            let cost = measured.map(\.candidate.seconds).max() ?? 0
            guard clock.now + .milliseconds(Int(cost * 1000)) <= deadline else { break }
            measured.append((i, measure(space[i], isDefault: false)))
            report(measured.map(\.candidate), of: space.count)
        }

        // The winner is timed again beside the defaults, alternately, and keeps its place only if
        // it is still faster: a lucky run on a noisy machine does not replace the defaults.
        if let best = fastest(), best != 0, let d = measured.firstIndex(where: { $0.index == 0 }),
           measured[d].candidate.timing != nil, let b = measured.firstIndex(where: { $0.index == best }) {
            for _ in 0..<2 {
                for k in [d, b] {
                    if let more = try? time(space[measured[k].index]) {
                        measured[k].candidate.timing!.milliseconds += more.milliseconds
                    }
                }
            }
            let winner = measured[b].candidate.timing!.median < measured[d].candidate.timing!.median ? b : d
            measured[winner].candidate.chosen = true
        } else if let best = fastest(), let k = measured.firstIndex(where: { $0.index == best }) {
            measured[k].candidate.chosen = true
        }
        return Outcome(candidates: measured.map(\.candidate), spaceSize: space.count)
    }

    private func report(_ candidates: [TunedCandidate], of total: Int) {
        let best = candidates.compactMap { $0.timing?.median }.min()
        let defaults = candidates.first { $0.isDefault }?.timing?.median
        progress("\(candidates.count)/\(total) candidates" + (best.map { ", fastest \(formatted($0)) ms" } ?? "")
                 + (defaults.map { " (defaults \(formatted($0)) ms)" } ?? ""))
    }

    private func measure(_ json: String, isDefault: Bool) -> TunedCandidate {
        let clock = ContinuousClock()
        let start = clock.now
        var candidate = TunedCandidate(parameters: json, isDefault: isDefault, check: "ok", timing: nil, seconds: 0)
        do {
            let prepared = try xent.prepare(on: try base.with(json: json))
            if let failure = try xent.check(prepared) {
                candidate.check = failure
            } else {
                candidate.timing = try TimingSamples.measure(warmup: warmup, repeats: repeats) { try prepared.run() }
            }
        } catch {
            candidate.check = "failed: \(error)"
        }
        let elapsed = clock.now - start
        candidate.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return candidate
    }

    /// More samples of a candidate already checked.
    private func time(_ json: String) throws -> TimingSamples {
        let prepared = try xent.prepare(on: try base.with(json: json))
        return try TimingSamples.measure(warmup: warmup, repeats: repeats) { try prepared.run() }
    }
}
