// HTTPSupport.swift: what both servers (`cnn serve`, `cnn train --serve`) share.
//
// - ServerSettings: where to listen, and the limits every request answers to
//   (body size, the time a body may take, idle connections).
// - JSONErrorMiddleware: every refusal, an unknown route included, is one
//   JSON error {"error": {"message": "..."}} with its 4xx status, and an
//   unexpected failure is a 500 in the same shape, never a dropped connection.
// - readBody: a request body collected up to the limit and within the time,
//   counted as it arrives, so a huge or slow body is refused early.
// - Responses of fixed content (the pages, JSON), with headers that stop a
//   browser from sniffing or framing them.
// - ServerRunner: runs an application until a signal or the cancellation
//   of its task, either of which shuts it down gracefully (the listener
//   closes and requests in flight finish), and reports the port it bound
//   (port 0 picks a free one).
// Neither server reads files: every route answers from memory, so no
// request can reach the server's disk.

import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Where a server listens and what it accepts.
public struct ServerSettings: Sendable {
    /// The interface: loopback unless the user says otherwise.
    public var host = "127.0.0.1"
    /// The port; 0 picks a free one (the startup line says which).
    public var port = 8080
    /// The largest request body accepted, in bytes.
    public var maximumBodyBytes = 4 << 20
    /// The longest a request's body may take to arrive.
    public var bodySeconds = 10
    /// A connection idle this long (nothing read or written) is closed.
    public var idleSeconds = 30

    /// The defaults: 127.0.0.1:8080, 4 MiB bodies within 10 s, idle connections closed after 30 s.
    public init() {}
}

/// Turns every error into `{"error": {"message": "..."}}` with its status.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ServeRequestError {
            return JSONResponse.error(status: .init(code: error.statusCode), message: error.description)
        } catch let error as HTTPError {
            let message = error.body ?? (error.status == .notFound
                ? "no route \(request.method) \(request.uri.path)" : error.status.reasonPhrase)
            return JSONResponse.error(status: error.status, message: message)
        } catch {
            return JSONResponse.error(status: .internalServerError, message: "the server failed: \(error)")
        }
    }
}

/// Responses built from bytes in memory.
enum JSONResponse {
    /// Headers for every response: no sniffing, no framing, no caching of live answers.
    static func headers(contentType: String) -> HTTPFields {
        [.contentType: contentType, .init("X-Content-Type-Options")!: "nosniff",
         .init("X-Frame-Options")!: "DENY", .cacheControl: "no-store"]
    }

    /// `value` encoded as JSON.
    static func encoding(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return bytes(Array(try encoder.encode(value)), contentType: "application/json", status: status)
        } catch {
            return Self.error(status: .internalServerError, message: "the answer could not be encoded: \(error)")
        }
    }

    /// A refusal in Hummingbird's error shape.
    static func error(status: HTTPResponse.Status, message: String) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let body = try? encoder.encode(["error": ["message": message]])
        return bytes(Array(body ?? Data("{}".utf8)), contentType: "application/json", status: status)
    }

    /// `bytes` as they are.
    static func bytes(_ bytes: [UInt8], contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = headers(contentType: contentType)
        if contentType.hasPrefix("text/html") {
            // The pages load nothing from anywhere: their script and style are inline.
            headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                + "img-src data: blob:; connect-src 'self'"
        }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// The request's body, refused past `settings.maximumBodyBytes` or `settings.bodySeconds`.
/// - Throws: `ServeRequestError.bodyTooLarge` or `.bodyTimedOut`.
func readBody(of request: Request, settings: ServerSettings) async throws -> [UInt8] {
    let limit = settings.maximumBodyBytes
    if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
        throw ServeRequestError.bodyTooLarge(limit: limit)
    }
    let body = request.body
    return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
        group.addTask {
            var bytes: [UInt8] = []
            for try await buffer in body {
                guard bytes.count + buffer.readableBytes <= limit else { throw ServeRequestError.bodyTooLarge(limit: limit) }
                bytes += buffer.readableBytesView
            }
            return bytes
        }
        group.addTask {
            try await Task.sleep(for: .seconds(settings.bodySeconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let bytes = first else {
            throw ServeRequestError.bodyTimedOut(seconds: settings.bodySeconds)
        }
        return bytes
    }
}

/// Runs a Hummingbird application until a signal, or until the task running it is cancelled.
enum ServerRunner {
    /// Serves `app` until SIGINT or SIGTERM (when `stopOnSignals`) or the calling task's
    /// cancellation; either shuts it down gracefully rather than cutting its connections.
    static func serve(_ app: some ApplicationProtocol, stopOnSignals: Bool) async throws {
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: stopOnSignals ? [.sigterm, .sigint] : [],
                                                      logger: quietLogger))
        // Run apart from the calling task, so that its cancellation asks for a graceful
        // shutdown instead of cancelling every connection's task at once.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }

    /// A logger that says only what went wrong, on stderr, so a server beside
    /// training never writes into the seed's lines on stdout.
    static var quietLogger: Logger {
        var logger = Logger(label: "swiftnet.server") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        return logger
    }

    /// A router whose every route, and its not-found answer, answers errors as JSON
    /// (a middleware applies only to the routes added after it, so it comes first),
    /// with `page` at "/" and GET /healthz.
    static func router(page: String) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        let bytes = Array(page.utf8)
        router.get("/") { _, _ in JSONResponse.bytes(bytes, contentType: "text/html; charset=utf-8") }
        router.get("/healthz") { _, _ in JSONResponse.encoding(["status": "ok"]) }
        return router
    }

    /// The application of `router` under `settings`, calling `onRunning(port)` once it listens.
    static func application(router: Router<BasicRequestContext>, settings: ServerSettings,
                            onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(settings.idleSeconds)))),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "SwiftNet"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? settings.port) },
            logger: quietLogger)
    }
}
