import QuickPayCore
import QuickPayProtocol
import Testing
@testable import QuickPayActors

/// Logins that cannot stall the server or lock out the owner (ATTACKS 28-29): the hash leaves
/// the serving step; limits per client key and per username; lockouts per key; no oracle.
struct LoginLimitTests {
    let alice = ClientID(Array("alice-phone".utf8), key: .sha256(of: Array("alice's key".utf8)))
    let mallory = ClientID(Array("mallory-phone".utf8), key: .sha256(of: Array("mallory's key".utf8)))
    let alicePhone = try! PhoneNumber("+919800000001")
    let password = try! Password("password of alice")

    func network() throws -> InMemoryNetwork {
        var net = try InMemoryNetwork(merchants: [])
        try net.bankStore.open(try AccountID("ACC-ALICE"), deposit: rupees(500), phone: alicePhone)
        let registered = net.register(
            RegisterRequest(username: try Username("alice"), password: password, phone: alicePhone, bankAccount: try AccountID("ACC-ALICE"), role: .customer),
            device: alice)
        #expect(registered == .registerReply(username: try Username("alice")))
        return net
    }

    func login(_ net: inout InMemoryNetwork, _ username: String, _ password: String, from client: ClientID) throws -> Body? {
        net.send(.login(LoginRequest(username: try Username(username), password: try Password(password))), from: client).first
    }

    @Test func thePasswordHashLeavesTheServingStep() throws {
        let store = MemoryAppServerStore()
        var keys = SeededGenerator(seed: 1)
        var config = AppServerConfig()
        config.passwordRounds = 1000
        var actor = AppServerActor(store: store, config: config, otpKey: .random(using: &keys), random: SeededGenerator(seed: 2))
        let step = actor.handle(Envelope(requestID: .random(using: &keys), body: .login(LoginRequest(username: try Username("alice"), password: password))), from: mallory, now: t0)
        // No answer yet and nothing hashed here: the host's worker pool gets the job.
        #expect(step.outputs.count == 1)
        guard case .compute(let id, .verifyPassword(let sent, _))? = step.outputs.first else {
            Issue.record("expected a compute output, got \(step.outputs)")
            return
        }
        #expect(sent == password)
        let answer = actor.handleComputed(.verified(false), id: id, now: t0)
        #expect(errorCode(onlyReply(answer.outputs)) == .authenticationFailed)
        // A result nobody asked for changes nothing.
        #expect(actor.handleComputed(.verified(true), id: id, now: t0).outputs.isEmpty)
    }

    @Test func tenWrongPasswordsLockTheGuessersKeyNotTheOwner() throws {
        var net = try network()
        guard case .loginChallenge? = try login(&net, "alice", password.value, from: alice) else { throw QuickPayError(.internal, "alice cannot log in") }
        for n in 0..<10 { #expect(errorCode(try login(&net, "alice", "guess number \(n)", from: mallory)) == .authenticationFailed) }
        // Even the right password, from the guesser's key: locked out.
        #expect(errorCode(try login(&net, "alice", password.value, from: mallory)) == .lockedOut)
        // Alice's own device is not.
        guard case .loginChallenge? = try login(&net, "alice", password.value, from: alice) else {
            Issue.record("the owner was locked out by someone else's guesses")
            return
        }
        // The lockout ends after 15 minutes, and doubles the next time.
        net.now = t0.adding(seconds: 901)
        for n in 0..<10 { #expect(errorCode(try login(&net, "alice", "more guesses \(n)", from: mallory)) == .authenticationFailed) }
        net.now = t0.adding(seconds: 901 + 901)
        #expect(errorCode(try login(&net, "alice", "still locked", from: mallory)) == .lockedOut)
    }

    @Test func anUnknownUserGetsTheSameAnswersAsAKnownOne() throws {
        var net = try network()
        var known: [ErrorCode?] = []
        var unknown: [ErrorCode?] = []
        for n in 0..<12 {
            net.now = t0.adding(seconds: Int64(n))  // within every rate limit
            known.append(errorCode(try login(&net, "alice", "guess number \(n)", from: mallory)))
            unknown.append(errorCode(try login(&net, "nobody", "guess number \(n)", from: mallory)))
        }
        #expect(known == unknown)
        #expect(known.last == .lockedOut)
    }

    @Test func aFloodFromOneKeyIsRateLimitedBeforeAnyHash() throws {
        var net = try network()
        var codes: [ErrorCode: Int] = [:]
        // Different usernames, so only the key's limit applies; all at the same second.
        for n in 0..<30 { codes[errorCode(try login(&net, "user\(n)", "guess number \(n)", from: mallory)) ?? .internal, default: 0] += 1 }
        #expect(codes == [.authenticationFailed: 20, .rateLimited: 10])
        // One username from many keys: the username's limit, and the owner's device is exempt.
        guard case .loginChallenge? = try login(&net, "alice", password.value, from: alice) else { throw QuickPayError(.internal, "alice cannot log in") }
        var perUser: [ErrorCode: Int] = [:]
        for n in 0..<25 {
            let stranger = ClientID(Array("stranger \(n)".utf8), key: .sha256(of: Array("stranger \(n)".utf8)))
            perUser[errorCode(try login(&net, "alice", "guess number \(n)", from: stranger)) ?? .internal, default: 0] += 1
        }
        #expect(perUser[.rateLimited, default: 0] >= 5)
        guard case .loginChallenge? = try login(&net, "alice", password.value, from: alice) else {
            Issue.record("a flood aimed at alice kept alice out")
            return
        }
    }
}

/// The per-key counts are durable: an app server restarted between the guesses and the next
/// try still refuses the guesser.
struct DurableLoginLockTests {
    @Test func aRestartForgivesNoGuess() throws {
        let store = MemoryAppServerStore()
        var config = AppServerConfig()
        config.passwordRounds = 1000
        let password = try Password("password of alice")
        var batch = AppServerBatch()
        batch.users = [UserRecord(
            username: try Username("alice"), passwordHash: PasswordHasher(rounds: 1000).hash(password, salt: Bytes16(high: 1, low: 2)),
            phone: try PhoneNumber("+919800000001"), account: try AccountID("ACC-ALICE"), role: .customer)]
        try store.commitAlone(batch)
        let mallory = ClientID(Array("mallory".utf8), key: .sha256(of: Array("mallory's key".utf8)))
        func appServer(_ seed: UInt64) -> TestHost<AppServerActor> {
            TestHost(AppServerActor(store: store, config: config, otpKey: .sha256(of: [1]), random: SeededGenerator(seed: seed)), journal: store)
        }
        func login(_ host: inout TestHost<AppServerActor>, _ guess: String, id: UInt64) throws -> ErrorCode? {
            let outputs = host.send(Envelope(requestID: RequestID(Bytes16(high: 9, low: id)), body: .login(LoginRequest(username: try Username("alice"), password: try Password(guess)))), from: mallory)
            return errorCode(outputs.lazy.compactMap { if case .reply(_, let e) = $0 { e.body } else { nil } }.first)
        }
        var first = appServer(1)
        for n in 0..<9 { #expect(try login(&first, "guess number \(n)", id: UInt64(n)) == .authenticationFailed) }
        store.crash()  // what was committed survives
        var second = appServer(2)
        #expect(try login(&second, "guess number 9", id: 9) == .authenticationFailed)
        #expect(try login(&second, password.value, id: 10) == .lockedOut)
    }
}
