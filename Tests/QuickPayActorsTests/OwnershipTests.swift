import QuickPayCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// Who owns an account and a phone (ATTACKS 25-27): a user exists only once the code sent to the
/// account's phone of record came back; one user per account and per phone; a device attaches for
/// a phone only with its SIM.
struct OwnershipTests {
    let alice = ClientID(Array("alice-phone".utf8))
    let mallory = ClientID(Array("mallory-phone".utf8))
    let aliceAccount = try! AccountID("ACC-ALICE")
    let malloryAccount = try! AccountID("ACC-MALLORY")
    let alicePhone = try! PhoneNumber("+919800000001")
    let malloryPhone = try! PhoneNumber("+919800000002")

    func network() throws -> InMemoryNetwork {
        let net = try InMemoryNetwork(merchants: [(try ReceiverID("chai-stall"), try AccountID("ACC-CHAI"), .offline)])
        try net.bankStore.open(aliceAccount, deposit: rupees(500), phone: alicePhone)
        try net.bankStore.open(malloryAccount, deposit: rupees(10), phone: malloryPhone)
        return net
    }

    func request(_ name: String, phone: PhoneNumber, account: AccountID, role: Role = .customer) throws -> RegisterRequest {
        RegisterRequest(username: try Username(name), password: try Password("password of \(name)"), phone: phone, bankAccount: account, role: role)
    }

    func smsCount(_ net: InMemoryNetwork, _ device: ClientID) -> Int {
        net.pushes[device]?.filter { if case .smsDelivery = $0 { true } else { false } }.count ?? 0
    }

    @Test func registeringOnAnothersAccountWithOnesOwnPhoneIsRefusedLikeAnUnknownAccount() throws {
        var net = try network()
        _ = net.attach(malloryPhone, from: mallory)
        let before = net.appStore.state.durable
        let theirs = net.send(.register(try request("mallory", phone: malloryPhone, account: aliceAccount)), from: mallory)
        let unknown = net.send(.register(try request("mallory", phone: malloryPhone, account: try AccountID("ACC-NOBODY"))), from: mallory)
        #expect(errorCode(theirs.first) == .forbidden)
        #expect(errorCode(unknown.first) == .forbidden)
        if case .error(let a)? = theirs.first, case .error(let b)? = unknown.first {
            // The same shape of answer: neither tells whether the account exists.
            #expect(a.message.replacingOccurrences(of: "ACC-ALICE", with: "X") == b.message.replacingOccurrences(of: "ACC-NOBODY", with: "X"))
        }
        #expect(net.appStore.state.durable.users == before.users && net.appStore.state.durable.challenges == before.challenges)
        #expect(smsCount(net, mallory) == 0)
    }

    @Test func registeringOnAnothersAccountWithTheirPhoneSendsTheCodeToThem() throws {
        var net = try network()
        _ = net.attach(alicePhone, from: alice)
        _ = net.attach(malloryPhone, from: mallory)
        guard case .loginChallenge(let challenge)? = net.send(.register(try request("mallory", phone: alicePhone, account: aliceAccount)), from: mallory).first else {
            Issue.record("no challenge")
            return
        }
        // The code went to alice's phone, not to mallory's.
        #expect(smsCount(net, alice) == 1)
        #expect(smsCount(net, mallory) == 0)
        // Guessing gets five tries, then the registration is locked; no user ever appears.
        for n in 0..<5 {
            let guess = net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: try OneTimeCode(String(format: "%06d", 111_111 * (n + 1) % 1_000_000)))), from: mallory)
            #expect(errorCode(guess.first) == .otpInvalid)
        }
        guard case .smsDelivery(let sms)? = net.pushes[alice]?.last else { return }
        let code = try OneTimeCode(String(sms.text.split(separator: " ")[2].prefix(6)))
        #expect(errorCode(net.send(.otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: code)), from: mallory).first) == .lockedOut)
        #expect(try net.appStore.user(try Username("mallory")) == nil)
        #expect(try net.appStore.user(account: aliceAccount) == nil)
        // Alice registers her own account from her own phone.
        #expect(net.register(try request("alice", phone: alicePhone, account: aliceAccount), device: alice) == .registerReply(username: try Username("alice")))
    }

    @Test func oneUserPerPhoneAndPerAccount() throws {
        var net = try network()
        #expect(net.register(try request("alice", phone: alicePhone, account: aliceAccount), device: alice) == .registerReply(username: try Username("alice")))
        let users = net.appStore.state.durable.users
        // A second user with alice's phone, on mallory's account: refused before any code is sent.
        #expect(errorCode(net.send(.register(try request("alice2", phone: alicePhone, account: malloryAccount)), from: mallory).first) == .alreadyExists)
        // A second user on alice's account (a new username): refused.
        #expect(errorCode(net.send(.register(try request("alice3", phone: alicePhone, account: aliceAccount)), from: alice).first) == .alreadyExists)
        // A customer's account is not a merchant's, and the other way round.
        #expect(errorCode(net.send(.register(try request("mallory", phone: malloryPhone, account: malloryAccount, role: .merchant)), from: mallory).first) == .forbidden)
        #expect(errorCode(net.send(.register(try request("chai", phone: InMemoryNetwork.ownerPhone(0), account: try AccountID("ACC-CHAI"))), from: mallory).first) == .forbidden)
        #expect(net.appStore.state.durable.users == users)
    }

    @Test func aRetriedRegistrationCodeIsAnsweredAgain() throws {
        var net = try network()
        _ = net.attach(alicePhone, from: alice)
        guard case .loginChallenge(let challenge)? = net.send(.register(try request("alice", phone: alicePhone, account: aliceAccount)), from: alice).first,
            case .smsDelivery(let sms)? = net.pushes[alice]?.last
        else {
            Issue.record("no challenge or code")
            return
        }
        let submit = Envelope(requestID: RequestID(Bytes16(high: 7, low: 7)), body: .otpSubmit(OtpSubmit(challengeID: challenge.challengeID, code: try OneTimeCode(String(sms.text.split(separator: " ")[2].prefix(6))))))
        let first = net.appServer.send(submit, from: alice, now: net.now)
        let again = net.appServer.send(submit, from: alice, now: net.now)
        for outputs in [first, again] {
            #expect(outputs.contains { if case .reply(_, let e) = $0, e.body == .registerReply(username: try! Username("alice")) { true } else { false } })
        }
        // Another submission of the used code is refused.
        let other = Envelope(requestID: RequestID(Bytes16(high: 7, low: 8)), body: submit.body)
        #expect(net.appServer.send(other, from: alice, now: net.now).contains { if case .reply(_, let e) = $0, errorCode(e.body) == .otpInvalid { true } else { false } })
    }
}

struct NetworkProviderTests {
    let phone = try! PhoneNumber("+919800000001")
    let device = ClientID([9])
    let app = ClientID([1])

    func provider() -> (TestHost<NetworkProviderActor>, MemoryNetworkProviderStore) {
        let store = MemoryNetworkProviderStore()
        return (TestHost(NetworkProviderActor(store: store, sims: InMemoryNetwork.provisioned, random: SeededGenerator(seed: 70)), journal: store), store)
    }

    func send(_ nsp: inout TestHost<NetworkProviderActor>, _ body: Body, from client: ClientID, id: UInt64, now: Timestamp = t0) -> [Output] {
        nsp.send(Envelope(requestID: RequestID(Bytes16(high: 0, low: id)), body: body), from: client, now: now)
    }

    /// The two-step attach with `sim` (the phone's own by default); the provider's answer.
    func attach(_ nsp: inout TestHost<NetworkProviderActor>, from client: ClientID, sim: SimCard? = nil, phone: PhoneNumber? = nil, id: UInt64) -> [Output] {
        let phone = phone ?? self.phone
        let card = sim ?? InMemoryNetwork.sim(phone)
        guard case .attachChallenge(let challenge)? = answer(send(&nsp, .deviceAttach(phone: phone), from: client, id: id)) else { return [] }
        return send(&nsp, .deviceAttachProof(DeviceAttachProof(phone: phone, nonce: challenge.nonce, response: card.answer(challenge.nonce))), from: client, id: id + 1)
    }

    /// SMS pushed to devices (the test host hands every frame to a client back as a reply).
    func deliveries(_ outputs: [Output]) -> [(ClientID, SmsDelivery)] {
        outputs.compactMap { if case .reply(let to, let e) = $0, case .smsDelivery(let sms) = e.body { (to, sms) } else { nil } }
    }

    /// The answer to the request (not a pushed SMS).
    func answer(_ outputs: [Output]) -> Body? {
        outputs.lazy.compactMap { output -> Body? in
            guard case .reply(_, let e) = output else { return nil }
            if case .smsDelivery = e.body { return nil }
            return e.body
        }.first
    }

    @Test func anSMSReachesOnlyTheDeviceThatProvedItHoldsThePhone() throws {
        var (nsp, store) = provider()
        // Sent before the device attaches: queued (sealed), then delivered on attach.
        #expect(send(&nsp, .smsSubmit(SmsSubmit(phone: phone, text: "QuickPay code 123456")), from: app, id: 2).count == 1)
        let attached = attach(&nsp, from: device, id: 3)
        #expect(answer(attached) == .ack)
        #expect(deliveries(attached).map(\.0) == [device])
        #expect(deliveries(attached).first?.1.text == "QuickPay code 123456")
        let now = send(&nsp, .smsSubmit(SmsSubmit(phone: phone, text: "QuickPay code 654321")), from: app, id: 5)
        #expect(deliveries(now).map(\.0) == [device])
        // Not acknowledged yet: the device attaching again gets both again.
        let again = attach(&nsp, from: device, id: 6)
        #expect(deliveries(again).count == 2)
        for (_, sms) in deliveries(again) { _ = nsp.send(Envelope(requestID: RequestID(sms.smsID), body: .ack), from: device, now: t0) }
        #expect(try nsp.actor.report().count == 2 && nsp.actor.report().allSatisfy(\.delivered))
        #expect(try store.queued(for: phone).isEmpty)
    }

    @Test func aSecondDeviceWithoutTheSIMCannotAttach() throws {
        var (nsp, _) = provider()
        #expect(answer(attach(&nsp, from: device, id: 1)) == .ack)
        var random = SeededGenerator(seed: 71)
        let thief = ClientID([66])
        // A wrong SIM, no SIM (a made-up answer), another phone's SIM.
        #expect(errorCode(answer(attach(&nsp, from: thief, sim: .random(for: phone, using: &random), id: 10))) == .authenticationFailed)
        #expect(errorCode(answer(attach(&nsp, from: thief, sim: SimCard(phone: phone, secret: .zero), id: 12))) == .authenticationFailed)
        #expect(errorCode(answer(attach(&nsp, from: thief, sim: InMemoryNetwork.sim(try PhoneNumber("+919800000002")), id: 14))) == .authenticationFailed)
        // The victim's answer, captured and replayed: on another connection, and on the victim's
        // own after its challenge was used.
        guard case .reply(_, let e)? = send(&nsp, .deviceAttach(phone: phone), from: device, id: 20).first, case .attachChallenge(let challenge) = e.body else {
            Issue.record("no challenge")
            return
        }
        let proof = DeviceAttachProof(phone: phone, nonce: challenge.nonce, response: InMemoryNetwork.sim(phone).answer(challenge.nonce))
        #expect(answer(send(&nsp, .deviceAttachProof(proof), from: device, id: 21)) == .ack)
        _ = send(&nsp, .deviceAttach(phone: phone), from: thief, id: 22)
        #expect(errorCode(answer(send(&nsp, .deviceAttachProof(proof), from: thief, id: 23))) == .authenticationFailed)
        #expect(errorCode(answer(send(&nsp, .deviceAttachProof(proof), from: device, id: 24))) == .authenticationFailed)
        // An expired challenge is no good either.
        guard case .reply(_, let late)? = send(&nsp, .deviceAttach(phone: phone), from: thief, id: 25).first, case .attachChallenge(let old) = late.body else { return }
        let stale = DeviceAttachProof(phone: phone, nonce: old.nonce, response: InMemoryNetwork.sim(phone).answer(old.nonce))
        #expect(errorCode(answer(send(&nsp, .deviceAttachProof(stale), from: thief, id: 26, now: t0.adding(seconds: 61)))) == .authenticationFailed)
        // The victim's device still gets its SMS; the thief none.
        let sent = send(&nsp, .smsSubmit(SmsSubmit(phone: phone, text: "QuickPay code 111111")), from: app, id: 30)
        #expect(deliveries(sent).map(\.0) == [device])
    }

    @Test func aSIMSwapCutsTheOldSIMOffAndDropsItsQueuedCodes() throws {
        var (nsp, store) = provider()
        _ = send(&nsp, .smsSubmit(SmsSubmit(phone: phone, text: "QuickPay code 222222")), from: app, id: 1)
        #expect(try store.queued(for: phone).count == 1)
        let (result, outputs) = nsp.perform { actor, now in try actor.issueSim(for: phone, now: now) }
        #expect(outputs.isEmpty)
        guard case .success(let swapped) = result else {
            Issue.record("no SIM issued: \(result)")
            return
        }
        #expect(try store.queued(for: phone).isEmpty)
        #expect(try store.simEvents() == [SimEvent(phone: phone, kind: "swapped", at: t0)])
        #expect(errorCode(answer(attach(&nsp, from: device, id: 3))) == .authenticationFailed)
        let attached = attach(&nsp, from: device, sim: swapped, id: 5)
        #expect(answer(attached) == .ack)
        #expect(deliveries(attached).isEmpty)
    }

    @Test func anSMSForAPhoneWithoutASIMIsRefused() throws {
        var (nsp, store) = provider()
        let nobody = try PhoneNumber("+919899999999")
        #expect(errorCode(answer(send(&nsp, .smsSubmit(SmsSubmit(phone: nobody, text: "QuickPay code 333333")), from: app, id: 1))) == .unknownAccount)
        #expect(try store.queued(for: nobody).isEmpty)
    }
}
