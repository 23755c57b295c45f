public enum SwiftNetPlaceholder {}
