import CZeroMQ

/// The ZeroMQ socket patterns this binding offers.
public enum SocketType: Sendable, CaseIterable {
    case request, reply, router, dealer, publisher, subscriber, push, pull, pair

    var rawValue: Int32 {
        switch self {
        case .request: ZMQ_REQ
        case .reply: ZMQ_REP
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .publisher: ZMQ_PUB
        case .subscriber: ZMQ_SUB
        case .push: ZMQ_PUSH
        case .pull: ZMQ_PULL
        case .pair: ZMQ_PAIR
        }
    }
}
