import ArgumentParser

/// The command line as ArgumentParser should see it, for every command at once:
/// - a negative number after an option is that option's value (`--x -2,0,3.5`, `--label -1`,
///   `--z-loss -1` reaching its range check), where ArgumentParser would take it for an option and
///   say the value is missing: it becomes `--x=-2,0,3.5`;
/// - an option given twice is an error naming it, where ArgumentParser would keep the last.
/// Everything after a lone `--` is left alone.
enum CommandLineArguments {
    static func normalized(_ arguments: [String]) throws -> [String] {
        var result: [String] = []
        var seen: Set<String> = []
        var i = 0
        while i < arguments.count {
            let token = arguments[i]
            if token == "--" {
                result += arguments[i...]
                break
            }
            if token.hasPrefix("--") {
                let name = String(token.split(separator: "=", maxSplits: 1)[0])
                guard seen.insert(name).inserted || name == "--help" else {
                    throw ValidationError("\(name) is given twice; give it once")
                }
                if !token.contains("="), i + 1 < arguments.count, looksNegative(arguments[i + 1]) {
                    result.append(token + "=" + arguments[i + 1])
                    i += 2
                    continue
                }
            }
            result.append(token)
            i += 1
        }
        return result
    }

    /// "-1", "-0.5", "-.5", "-1e-3,2", "-inf", "-nan": a value, not an option (no option of
    /// softmax-lab is a dash and a digit).
    static func looksNegative(_ token: String) -> Bool {
        guard token.hasPrefix("-"), !token.hasPrefix("--") else { return false }
        let rest = token.dropFirst().lowercased()
        if let first = rest.first, first.isNumber || first == "." { return true }
        return rest.hasPrefix("inf") || rest.hasPrefix("nan")
    }
}

extension SoftmaxLab {
    /// `softmax-lab`'s entry point: ArgumentParser's, on the normalized arguments.
    public static func main() {
        do {
            var command = try parseAsRoot(try CommandLineArguments.normalized(Array(CommandLine.arguments.dropFirst())))
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
