// ServeRequestError.swift: every way a request to `cnn serve` can be refused.
//
// Each case is a client's mistake with its own HTTP status (4xx), and its
// description is the one line the JSON error body carries:
// {"error": {"message": "..."}}, Hummingbird's own error shape, which the
// server's error middleware gives every refusal, unknown routes included.

/// A request the server refuses, with the status it answers.
public enum ServeRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The body's Content-Type is not one the route reads.
    case unsupportedMediaType(String?)
    /// The body is larger than the server accepts.
    case bodyTooLarge(limit: Int)
    /// The body did not arrive in time (a slow or stalled client).
    case bodyTimedOut(seconds: Int)
    /// The body is empty.
    case emptyBody
    /// A JSON body that is not `{"pixels": [...], "width": W, "height": H}`.
    case badJSON(String)
    /// Image bytes that cannot be decoded, are absurdly large, or show no digit.
    case badImage(String)

    /// The HTTP status code of the refusal.
    public var statusCode: Int {
        switch self {
        case .unsupportedMediaType: return 415
        case .bodyTooLarge: return 413
        case .bodyTimedOut: return 408
        case .emptyBody, .badJSON: return 400
        case .badImage: return 422
        }
    }

    /// The refusal in one line.
    public var description: String {
        switch self {
        case .unsupportedMediaType(let type):
            return "Content-Type \(type.map { "'\($0)'" } ?? "(none)") is not one /v1/predict reads: send image/png, "
                + "image/x-portable-graymap, application/octet-stream (PNG or PGM bytes) or application/json"
        case .bodyTooLarge(let limit):
            return "the body is larger than the \(limit) bytes this server accepts"
        case .bodyTimedOut(let seconds):
            return "the body did not arrive within \(seconds) s"
        case .emptyBody:
            return "the body is empty: send an image, or JSON pixels"
        case .badJSON(let problem):
            return "the JSON body is not {\"pixels\": [0...255, ...], \"width\": W, \"height\": H, \"channels\": 1 (optional)}: \(problem)"
        case .badImage(let problem):
            return problem
        }
    }
}
