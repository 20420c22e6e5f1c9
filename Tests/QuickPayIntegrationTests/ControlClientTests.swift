import Foundation
import QuickPayConfig
import QuickPayTestbed
import Testing
import ZeroMQ

/// The scenario runner's control client over real ZeroMQ sockets, against a stand-in actor (a
/// ROUTER, as an actor's control socket is) that takes a request and dies without answering,
/// then comes back.
@Suite(.serialized) struct ControlClientTests {
    /// A state request that reached the process before it died is asked again once the actor is
    /// restarted; a request that may have taken effect is not (it times out as before).
    @Test func aReadOnlyRequestLostWithADyingActorIsAskedAgainAfterItsRestart() throws {
        for resends in [true, false] {
            let context = try Context()
            let probe = try context.socket(.router)
            try probe.bind("tcp://127.0.0.1:*")
            let endpoint = try probe.lastEndpoint()
            probe.close()
            var actor = try bind(context, endpoint)
            let client = try ControlClient(context: context, endpoint: endpoint, security: .plaintext, timeoutMilliseconds: 1_500)
            var restarted = false
            var asked = 0
            let answer = try client.call(["action": "state"], resendsAfterRestart: resends) {
                if !restarted {
                    // The actor reads the request and dies before answering; a new one binds.
                    guard try actor.receive(flags: .dontWait) != nil else { return false }
                    asked += 1
                    actor.close()
                    actor = try bind(context, endpoint)
                    restarted = true
                    return true
                }
                if let frames = try actor.receive(flags: .dontWait) {
                    asked += 1
                    // The requester's envelope (routing id, delimiter), then the answer.
                    _ = try actor.send(multipart: frames.dropLast() + [ControlJSON.encode(["ok": true, "unredeemed_paise": 0])])
                }
                return false
            }
            #expect(restarted, "the stand-in actor never saw the request")
            if resends {
                #expect(answer?["ok"] as? Bool == true, "the request was not asked again after the restart")
                #expect(asked == 2)
            } else {
                #expect(answer == nil, "a request that may have taken effect was sent again")
                #expect(asked == 1)
            }
            actor.close()
        }
    }

    /// A ROUTER on `endpoint`, once the port a closed socket held is free again (a closed
    /// socket lets go of its port on libzmq's I/O thread, a moment later).
    func bind(_ context: Context, _ endpoint: String) throws -> Socket {
        let socket = try context.socket(.router)
        for _ in 0..<200 {
            do {
                try socket.bind(endpoint)
                return socket
            } catch {
                usleep(10_000)
            }
        }
        try socket.bind(endpoint)
        return socket
    }
}
