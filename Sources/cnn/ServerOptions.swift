// ServerOptions.swift: --host and --port, and a server run beside the command.
//
// `cnn serve` and `cnn train --serve` take the same flags, and both start
// their server through BackgroundServer: it runs the server on a task,
// waits until it listens (or failed to, which becomes one line naming the
// address: a port in use, a host that does not resolve), and stops it at
// the end.  The server listens on loopback unless --host says otherwise.

import ArgumentParser
import Foundation
import SwiftNetServer

struct ServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The interface to listen on. The default, 127.0.0.1, is reachable from this machine only; "
        + "0.0.0.0 exposes the server to every network this machine is on.", valueName: "address"))
    var host: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The port (default: 8080; 0 picks a free one, printed at startup).",
                                                        valueName: "port"))
    var port: Int?

    /// True when either flag was given.
    var isGiven: Bool { host != nil || port != nil }

    func validate() throws {
        if let port { guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535, got \(port)") } }
        if let host { guard !host.isEmpty else { throw ValidationError("--host must name an address, e.g. 127.0.0.1") } }
    }

    /// The settings of a server on these flags, with the default limits.
    var settings: ServerSettings {
        var settings = ServerSettings()
        if let host { settings.host = host }
        if let port { settings.port = port }
        return settings
    }

    /// The URL a browser opens for `port`.
    func url(port: Int) -> String {
        let host = settings.host
        let shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
        return "http://" + (shown.contains(":") ? "[\(shown)]" : shown) + ":\(port)/"
    }

    /// True when the server is reachable from beyond this machine.
    var exposesBeyondLoopback: Bool { !["127.0.0.1", "localhost", "::1"].contains(settings.host) }
}

/// A server that cannot listen where it was asked to.
struct ServerStartError: Error, CustomStringConvertible {
    let address: String
    let underlying: any Error
    var description: String { "cannot listen on \(address): \(underlying)" }
}

/// A server run on a task beside the calling thread, which waits for it.
final class BackgroundServer: @unchecked Sendable {
    // @unchecked: `state` is read and written under `condition`'s lock.
    private enum State { case starting, listening(Int), failed(any Error), ended }
    private let condition = NSCondition()
    private var state = State.starting
    private var task: Task<Void, Never>?
    private let address: String

    /// Starts `serve`, which must call its argument with the port once it listens.
    init(address: String, _ serve: @escaping @Sendable (@escaping @Sendable (Int) async -> Void) async throws -> Void) {
        self.address = address
        task = Task {
            do {
                try await serve { port in self.set(.listening(port)) }
                self.set(.ended)
            } catch {
                self.set(.failed(error))
            }
        }
    }

    private func set(_ new: State) {
        condition.lock()
        if case .failed = state {} else { state = new }
        condition.broadcast()
        condition.unlock()
    }

    /// Waits until the server listens, and returns its port.
    /// - Throws: `ServerStartError` if it could not start.
    func waitUntilListening() throws -> Int {
        condition.lock(); defer { condition.unlock() }
        while true {
            switch state {
            case .starting: condition.wait()
            case .listening(let port): return port
            case .failed(let error): throw ServerStartError(address: address, underlying: error)
            case .ended: throw ServerStartError(address: address, underlying: CancellationError())
            }
        }
    }

    /// Blocks until the server ends by itself (after SIGINT or SIGTERM, for `cnn serve`).
    /// - Throws: the error it ended with.
    func waitUntilEnded() throws {
        condition.lock(); defer { condition.unlock() }
        while true {
            switch state {
            case .starting, .listening: condition.wait()
            case .failed(let error): throw error
            case .ended: return
            }
        }
    }

    /// Stops the server (its open streams end) and waits for it.
    func stop() {
        task?.cancel()
        condition.lock(); defer { condition.unlock() }
        while true {
            switch state {
            case .starting, .listening: condition.wait()
            case .failed, .ended: return
            }
        }
    }
}
