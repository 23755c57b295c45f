// Serve.swift: `cnn serve`, a saved model behind a web page and a JSON API.
//
// The model is loaded, and checked to read pictures, before the server
// starts, so a bad checkpoint fails in one line as in every command.  The
// server (SwiftNetServer.ModelServer) listens on loopback unless --host
// says otherwise, prints one line with the URL, and runs until SIGINT or
// SIGTERM, which it answers by finishing the requests in flight and exiting 0.

import ArgumentParser
import Foundation
import SwiftNetServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a saved model: a page to draw digits on, and a JSON API (POST /v1/predict, GET /v1/model).")

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var serverOptions: ServerOptions

    @Option(parsing: .unconditional, help: ArgumentHelp("Networks computing at once; more requests wait their turn "
        + "(default: the cores, at most 8).", valueName: "count"))
    var pool: Int?

    @Flag(help: ArgumentHelp("For a model of your own images: keep each image's proportions when resizing it, padded with "
        + "black, as --keep-aspect did in training."))
    var keepAspect = false

    func validate() throws {
        if let pool { guard (1...64).contains(pool) else { throw ValidationError("--pool must be 1 to 64, got \(pool)") } }
    }

    func run() throws {
        let service = try PredictionService(modelPath: modelOptions.model,
                                            poolSize: pool ?? min(8, ProcessInfo.processInfo.activeProcessorCount),
                                            keepAspect: keepAspect)
        let settings = serverOptions.settings
        let server = BackgroundServer(address: "\(settings.host):\(settings.port)") { onRunning in
            try await ModelServer.run(service, settings: settings, stopOnSignals: true, onRunning: onRunning)
        }
        let port = try server.waitUntilListening()
        print("Serving \(service.model.name) at \(serverOptions.url(port: port)) (Ctrl-C stops)")
        if serverOptions.exposesBeyondLoopback {
            FileHandle.standardError.write(Data(("cnn: --host \(settings.host) lets anyone who can reach this machine "
                + "send the model images and read its answers\n").utf8))
        }
        fflush(nil)
        try server.waitUntilEnded()
    }
}
