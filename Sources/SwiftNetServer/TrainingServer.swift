// TrainingServer.swift: `cnn train --serve`, a run's live curves on HTTP.
//
// Routes (every answer from memory):
//   GET /            the live page (TrainingPage)
//   GET /v1/events   Server-Sent Events: the run, its history, then each
//                    epoch and progress frame as it happens, "finished" last
//   GET /v1/history  the epochs so far, as JSON
//   GET /healthz     {"status": "ok"}
// The training loop runs on its own thread and only calls the monitor's
// `record`, which never waits for a client, so a slow browser cannot slow
// the run.  `run` serves until its task is cancelled, then shuts down
// gracefully (the run's end has already closed every event stream).

import Foundation
import Hummingbird

/// The live page and event stream of one training run.
public enum TrainingServer {
    /// Serves `monitor` under `settings` until the calling task is cancelled.
    /// - Parameter onRunning: called with the port once the server listens.
    /// - Throws: the error of a listener that cannot start (a port in use, an unknown host).
    public static func run(_ monitor: TrainingMonitor, settings: ServerSettings,
                           onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        let app = ServerRunner.application(router: router(for: monitor), settings: settings, onRunning: onRunning)
        // No signals of its own: SIGINT and SIGTERM belong to the run, which saves and stops.
        try await ServerRunner.serve(app, stopOnSignals: false)
    }

    /// The routes of `monitor`.
    static func router(for monitor: TrainingMonitor) -> Router<BasicRequestContext> {
        let router = ServerRunner.router(page: TrainingPage.html)
        router.get("/v1/history") { _, _ in JSONResponse.encoding(monitor.epochs) }
        router.get("/v1/events") { _, _ in
            let frames = monitor.subscribe()
            var headers = JSONResponse.headers(contentType: "text/event-stream")
            headers[.init("X-Accel-Buffering")!] = "no"
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in
                for await frame in frames {
                    try await writer.write(ByteBuffer(string: frame))
                }
                try await writer.finish(nil)
            })
        }
        return router
    }
}
