import Foundation

/// SIGTERM and SIGINT ask the poll loop to stop; it finishes the step in hand, closes its
/// sockets and exits 0.
public enum Signals {
    nonisolated(unsafe) private static var stop: sig_atomic_t = 0

    public static func install() {
        // A parent may have started us with these blocked (a test runner's thread does): a
        // process that cannot hear SIGTERM can only be killed.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        signal(SIGTERM) { _ in Signals.stop = 1 }
        signal(SIGINT) { _ in Signals.stop = 1 }
        signal(SIGPIPE, SIG_IGN)
    }

    public static var stopRequested: Bool { stop != 0 }
}
