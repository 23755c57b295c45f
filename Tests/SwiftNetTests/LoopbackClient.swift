// LoopbackClient.swift: a small HTTP/1.1 client on a plain socket, for the server tests.
//
// The tests need more than a polite client: a body that never finishes
// arriving, a Content-Length that lies, raw bytes after the headers, and a
// stream read as it arrives (Server-Sent Events).  Each request opens one
// connection to 127.0.0.1 and sends "Connection: close", so the answer
// ends when the server closes it.  A read times out after `timeout` seconds,
// which fails the test instead of hanging it.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct HTTPAnswer: Sendable {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The message of a JSON error body {"error": {"message": "..."}}, or nil.
    var errorMessage: String? {
        let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (json?["error"] as? [String: Any])?["message"] as? String
    }
}

struct LoopbackError: Error, CustomStringConvertible {
    let description: String
}

/// One connection to 127.0.0.1:`port`.
final class LoopbackConnection {
    private let socket: Int32

    init(port: Int, timeout: Double = 30) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw LoopbackError(description: "socket() failed") }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw LoopbackError(description: "cannot connect to 127.0.0.1:\(port)")
        }
    }

    deinit { close(socket) }

    /// Sends every byte.
    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw LoopbackError(description: "send() failed after \(sent) bytes") }
            sent += count
        }
    }

    /// The next bytes the server sends; empty when it has closed the connection.
    func receive() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw LoopbackError(description: "recv() failed or timed out (errno \(errno))") }
        return Array(buffer[0..<count])
    }

    /// Everything until the server closes the connection.
    func receiveAll() throws -> [UInt8] {
        var all: [UInt8] = []
        while true {
            let chunk = try receive()
            if chunk.isEmpty { return all }
            all += chunk
        }
    }
}

enum LoopbackClient {
    /// The head of a request, ending in the blank line.
    static func head(_ method: String, _ path: String, headers: [String: String], contentLength: Int?) -> [UInt8] {
        var lines = ["\(method) \(path) HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        if let contentLength { lines.append("Content-Length: \(contentLength)") }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// Sends one request and reads the whole answer.
    static func request(port: Int, _ method: String, _ path: String, headers: [String: String] = [:],
                        body: [UInt8]? = nil) throws -> HTTPAnswer {
        let connection = try LoopbackConnection(port: port)
        try connection.send(head(method, path, headers: headers, contentLength: body?.count) + (body ?? []))
        return try parse(connection.receiveAll())
    }

    /// Parses a whole answer: status line, headers, then a body by Content-Length, chunked, or to the end.
    static func parse(_ bytes: [UInt8]) throws -> HTTPAnswer {
        guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
            throw LoopbackError(description: "no complete answer head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw LoopbackError(description: "bad status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        return HTTPAnswer(status: status, headers: headers, body: body)
    }

    /// The data of a chunked body.
    static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var data: [UInt8] = [], index = 0
        while let lineEnd = bytes[index...].firstRange(of: [13, 10]) {
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText, radix: 16), size > 0, lineEnd.upperBound + size <= bytes.count else { break }
            data += bytes[lineEnd.upperBound..<(lineEnd.upperBound + size)]
            index = lineEnd.upperBound + size + 2
            guard index < bytes.count else { break }
        }
        return data
    }
}
