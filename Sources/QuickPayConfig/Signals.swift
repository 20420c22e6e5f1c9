import Foundation

/// SIGTERM and SIGINT ask the poll loop to stop; it finishes the step in hand, closes its
/// sockets and exits 0.
public enum Signals {
    nonisolated(unsafe) private static var stop: sig_atomic_t = 0

    public static func install() {
        signal(SIGTERM) { _ in Signals.stop = 1 }
        signal(SIGINT) { _ in Signals.stop = 1 }
        signal(SIGPIPE, SIG_IGN)
    }

    public static var stopRequested: Bool { stop != 0 }
}
