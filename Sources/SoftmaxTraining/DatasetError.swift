/// Bad training data or data options, in one sentence naming the file, line or option.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
