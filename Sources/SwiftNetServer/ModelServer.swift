// ModelServer.swift: `cnn serve`, one trained model on HTTP.
//
// Routes (every answer from memory; no route reads a file):
//   GET  /            the drawing page (PredictPage), one self-contained HTML file
//   POST /v1/predict  PNG or PGM bytes, or JSON pixels -> ranked classes, the view
//   GET  /v1/model    the spec, class names, input shape and SwiftNet's version
//   GET  /healthz     {"status": "ok"}
// Anything else is a JSON 404.  Bodies are collected up to the settings'
// limit and time (HTTPSupport.readBody); the prediction runs on a network
// lent by the service's pool, so concurrent requests each get their own
// answer.  `run` serves until SIGINT or SIGTERM (when `stopOnSignals`),
// which closes the listener and lets requests in flight finish
// (ServiceLifecycle's graceful shutdown), or until its task is cancelled.

import Foundation
import Hummingbird

/// One model's page and JSON API.
public enum ModelServer {
    /// Serves `service` under `settings` until SIGINT or SIGTERM, or until the calling task is cancelled.
    /// - Parameters:
    ///   - stopOnSignals: shut down gracefully on SIGINT and SIGTERM (a process of its own does).
    ///   - onRunning: called with the port once the server listens.
    /// - Throws: the error of a listener that cannot start (a port in use, an unknown host).
    public static func run(_ service: PredictionService, settings: ServerSettings, stopOnSignals: Bool,
                           onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        let app = ServerRunner.application(router: router(for: service, settings: settings), settings: settings,
                                           onRunning: onRunning)
        try await ServerRunner.serve(app, stopOnSignals: stopOnSignals)
    }

    /// The routes of `service`.
    static func router(for service: PredictionService, settings: ServerSettings) -> Router<BasicRequestContext> {
        let router = ServerRunner.router(page: PredictPage.html)
        router.get("/v1/model") { _, _ in JSONResponse.encoding(service.model) }
        router.post("/v1/predict") { request, _ in
            let body = try await readBody(of: request, settings: settings)
            let answer = try await service.predict(body: body, contentType: request.headers[.contentType])
            return JSONResponse.encoding(answer)
        }
        return router
    }
}
