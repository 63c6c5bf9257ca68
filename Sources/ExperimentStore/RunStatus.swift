/// Where a run stands: `running` from its insert until it ends; `interrupted` when its process
/// died first (set by the next open on the same host).
public enum RunStatus: String, Codable, Sendable { case running, finished, failed, interrupted }
