import Foundation
import PackagePlugin

/// Embeds the files of a target's folder with the extensions below (OpenCL kernels, CSV data) into
/// the target as string literals (`enum EmbeddedFiles`), so a copied binary needs nothing beside it.
@main
struct EmbedFiles: BuildToolPlugin {
    static let extensions: Set<String> = ["cl", "csv"]

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let folder = target.directoryURL
        let inputs = try FileManager.default.subpathsOfDirectory(atPath: folder.path)
            .filter { Self.extensions.contains(($0 as NSString).pathExtension) }
            .sorted()
            .map { folder.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedFiles.swift")
        return [.buildCommand(
            displayName: "Embedding \(inputs.count) files into \(target.name)",
            executable: try context.tool(named: "embed-files").url,
            arguments: [output.path, "EmbeddedFiles"] + inputs.map(\.path),
            inputFiles: inputs,
            outputFiles: [output])]
    }
}
