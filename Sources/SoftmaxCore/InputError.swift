/// A problem with what the user gave (a file, a flag, a data set), in one sentence naming the file,
/// line, row or flag at fault. The one such type of the command line and the training library.
public struct InputError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
