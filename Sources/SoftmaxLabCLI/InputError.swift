/// A problem with what the user gave us, in one sentence naming the file, line or flag.
public struct InputError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
