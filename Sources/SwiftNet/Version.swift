// Version.swift: which SwiftNet this is.
//
// The release a user depends on (`.package(url:from: "0.2.0")`), as
// CHANGELOG.md and `cnn --version` give it.

/// SwiftNet's release.
public enum SwiftNetVersion {
    /// The semantic version, e.g. "0.2.0".
    public static let string = "0.2.0"
}
