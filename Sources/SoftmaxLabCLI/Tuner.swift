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
/// different) of the fastest so far, then a seeded random candidate, until the time is spent (less
/// what the final rounds will take). Then the defaults and the three fastest others are timed again
/// in turn, three rounds, and the fastest over all its samples is chosen if it beats the defaults
/// by 3% and in every round, else the defaults: a noisy machine's lucky sample or slow spell does
/// not decide.
public struct Tuner<B: TunableBackend> {
    let base: B
    let operation: any TuningCase
    let warmup: Int
    let repeats: Int
    let seed: UInt64
    /// The candidates as JSON, the defaults first: the backend's own for the case unless given.
    let space: [String]
    /// Sampling goes on past `repeats` until this much time has been sampled (0: `repeats` only).
    let minimumSampleSeconds: Double
    /// Called after each candidate with "k/n candidates, fastest … ms".
    var progress: (String) -> Void = { _ in }

    /// Finalists besides the defaults, rounds of re-timing, and how much faster than the defaults
    /// a finalist must be to replace them.
    static var challengers: Int { 3 }
    static var finalRounds: Int { 3 }
    /// 3%: on the shared 2-core machine this was built on, the same parameters timed side by side
    /// in one run differed by up to 5% (BENCHMARKS.md, "tune").
    static var margin: Double { 0.03 }

    public init(base: B, operation: any TuningCase, warmup: Int, repeats: Int, seed: UInt64, space: [String]? = nil, minimumSampleSeconds: Double = 0) {
        self.base = base
        self.operation = operation
        self.warmup = warmup
        self.repeats = repeats
        self.seed = seed
        self.space = space ?? operation.candidatesJSON(of: base)
        self.minimumSampleSeconds = minimumSampleSeconds
    }

    /// A candidate during the search: its buffers while it may still be a finalist, and how many
    /// samples (and seconds of them) its first timing took, which each final round repeats.
    struct Measured {
        var index: Int
        var candidate: TunedCandidate
        var prepared: PreparedCall? = nil
        var samplesPerRound = 0
        var sampleSeconds = 0.0
        /// The median of each final round's samples.
        var roundMedians: [Double] = []
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
        var measured: [Measured] = []

        func ranked() -> [Int] {
            measured.indices.filter { measured[$0].candidate.timing != nil }
                .sorted { measured[$0].candidate.timing!.median < measured[$1].candidate.timing!.median }
        }
        // The defaults and the fastest others keep their buffers for the final rounds.
        func finalists() -> [Int] {
            let others = ranked().filter { !measured[$0].candidate.isDefault }.prefix(Self.challengers)
            return measured.indices.filter { measured[$0].candidate.isDefault && measured[$0].prepared != nil } + others
        }
        // What the final rounds will cost: each finalist sampled again, `finalRounds` times.
        func reserve() -> Double { Double(Self.finalRounds) * finalists().map { measured[$0].sampleSeconds }.reduce(0, +) }
        func untried() -> [Int] { space.indices.filter { i in !measured.contains { $0.index == i } } }
        func next() -> Int? {
            let left = untried()
            guard let first = left.first else { return nil }
            let cost = measured.map(\.candidate.seconds).max() ?? 0
            let remaining = Double((deadline - clock.now).components.seconds) - reserve()
            if cost * Double(left.count) <= remaining { return first }
            if let best = ranked().first.map({ measured[$0].index }), let neighbour = left.first(where: { i in
                Set(fields[i].keys).union(fields[best].keys).filter { fields[i][$0] != fields[best][$0] }.count == 1
            }) {
                return neighbour
            }
            return left.randomElement(using: &rng)
        }
        func keep() {
            let kept = Set(finalists())
            for k in measured.indices where !kept.contains(k) { measured[k].prepared = nil }
        }

        measured.append(measure(0, isDefault: true))
        report(measured.map(\.candidate), of: space.count)
        while let i = next() {
            let cost = measured.map(\.candidate.seconds).max() ?? 0
            guard clock.now + .milliseconds(Int((cost + reserve()) * 1000)) <= deadline else { break }
            measured.append(measure(i, isDefault: false))
            keep()
            report(measured.map(\.candidate), of: space.count)
        }

        // The finalists are timed again, in turn, round after round: a lucky sample on a noisy
        // machine, or a slow spell that hit one candidate, does not decide. The defaults keep their
        // place unless a finalist's median over all its samples beats theirs by `margin`.
        let final = finalists()
        if final.count > 1 {
            for round in 0..<Self.finalRounds {
                let cost = final.map { measured[$0].sampleSeconds }.reduce(0, +)
                guard clock.now + .milliseconds(Int(cost * 1000)) <= deadline else { break }
                for k in (round % 2 == 0 ? final : final.reversed()) {
                    guard let prepared = measured[k].prepared,
                          let more = try? TimingSamples.measure(warmup: 1, repeats: measured[k].samplesPerRound, prepared.run)
                    else {
                        // A round it failed counts as lost, and keeps the rounds aligned for `choice`.
                        measured[k].roundMedians.append(.infinity)
                        continue
                    }
                    measured[k].candidate.timing!.milliseconds += more.milliseconds
                    measured[k].roundMedians.append(more.median)
                }
            }
        }
        if let k = Self.choice(final.map { (measured[$0].candidate.isDefault, measured[$0].candidate.timing!.median, measured[$0].roundMedians) }) {
            measured[final[k]].candidate.chosen = true
        }
        return Outcome(candidates: measured.map(\.candidate), spaceSize: space.count)
    }

    /// Which finalist is chosen, from each one's median over all its samples and its median in each
    /// final round: the fastest if it beats the defaults by more than `margin` overall and in every
    /// round both were timed in (or there are no defaults among them), else the defaults; nil for
    /// none. Each round times the finalists one after the other, so a round compares them under
    /// the same load: on a shared 2-core machine a challenger 8% ahead in the final rounds ran 6%
    /// slower than the defaults head to head a minute later (BENCHMARKS.md, "tune").
    public static func choice(_ finalists: [(isDefault: Bool, median: Double, rounds: [Double])]) -> Int? {
        guard let best = finalists.indices.min(by: { finalists[$0].median < finalists[$1].median }) else { return nil }
        guard let defaults = finalists.firstIndex(where: \.isDefault) else { return best }
        let b = finalists[best], d = finalists[defaults]
        let everyRound = zip(b.rounds, d.rounds).allSatisfy { $0 < $1 }
        return b.median < d.median * (1 - margin) && everyRound ? best : defaults
    }

    private func report(_ candidates: [TunedCandidate], of total: Int) {
        let best = candidates.compactMap { $0.timing?.median }.min()
        let defaults = candidates.first { $0.isDefault }?.timing?.median
        progress("\(candidates.count)/\(total) candidates" + (best.map { ", fastest \(formatted($0)) ms" } ?? "")
                 + (defaults.map { " (defaults \(formatted($0)) ms)" } ?? ""))
    }

    /// One candidate built, checked and sampled; its buffers are kept for the final rounds.
    private func measure(_ index: Int, isDefault: Bool) -> Measured {
        let clock = ContinuousClock()
        let start = clock.now
        var result = Measured(index: index, candidate: TunedCandidate(parameters: space[index], isDefault: isDefault, check: "ok", timing: nil, seconds: 0))
        do {
            let prepared = try operation.prepareCall(on: try base.with(json: space[index]))
            if let failure = try prepared.check() {
                result.candidate.check = failure
            } else {
                var timing = try TimingSamples.measure(warmup: warmup, repeats: repeats, prepared.run)
                // A call much shorter than the machine's noisy spells gets more samples: at least
                // `minimumSampleSeconds` of them (within 100× the repeats asked).
                let total = timing.milliseconds.reduce(0, +) / 1000
                if total < minimumSampleSeconds, let each = timing.milliseconds.min(), each > 0 {
                    let wanted = min(100 * repeats, Int((minimumSampleSeconds * 1000 / each).rounded(.up)))
                    if wanted > repeats { timing.milliseconds += try TimingSamples.measure(warmup: 0, repeats: wanted - repeats, prepared.run).milliseconds }
                }
                result.samplesPerRound = timing.milliseconds.count
                result.sampleSeconds = timing.milliseconds.reduce(0, +) / 1000
                result.candidate.timing = timing
                result.prepared = prepared
            }
        } catch {
            result.candidate.check = "failed: \(error)"
        }
        let elapsed = clock.now - start
        result.candidate.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return result
    }
}
