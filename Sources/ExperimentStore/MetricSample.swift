import Foundation

/// A metric as the training thread hands it over: no formatting, no allocation beyond the key.
public struct MetricSample: Sendable {
    public var key: String
    public var step: Int?
    public var epoch: Int?
    public var value: Double?
    /// Seconds since 1970, formatted on the writer thread.
    public var time: Double

    public init(key: String, step: Int?, epoch: Int?, value: Double?, time: Double = Date().timeIntervalSince1970) {
        self.key = key
        self.step = step
        self.epoch = epoch
        self.value = value
        self.time = time
    }
}
