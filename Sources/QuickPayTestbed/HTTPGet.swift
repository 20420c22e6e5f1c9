import Foundation

/// A plain HTTP/1.1 GET over a POSIX socket (IPv4, `HOST:PORT`), for scraping an actor's
/// `/metrics` in tests and load runs without curl. Returns the status code and the body.
public func httpGet(_ address: String, path: String = "/metrics", timeoutSeconds: Int = 5) throws -> (status: Int, body: String) {
    struct Failure: Error, CustomStringConvertible { let description: String }
    let parts = address.split(separator: ":")
    guard parts.count == 2, let port = UInt16(parts[1]) else { throw Failure(description: "\(address) is not HOST:PORT") }
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw Failure(description: "socket: errno \(errno)") }
    defer { close(descriptor) }
    var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    guard inet_pton(AF_INET, String(parts[0]), &addr.sin_addr) == 1 else { throw Failure(description: "\(parts[0]) is not an IPv4 address") }
    let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard connected == 0 else { throw Failure(description: "connect \(address): errno \(errno)") }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n".utf8)
    guard request.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == request.count else { throw Failure(description: "write: errno \(errno)") }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 { throw Failure(description: "read: errno \(errno)") }
        if count == 0 { break }
        response += chunk[0..<count]
    }
    let text = String(decoding: response, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n"), let status = Int(text.split(separator: " ").dropFirst().first ?? "") else {
        throw Failure(description: "not an HTTP answer from \(address)")
    }
    return (status, String(text[split.upperBound...]))
}
