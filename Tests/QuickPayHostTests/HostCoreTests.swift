import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import Testing

let alice = ClientID([1], key: nil)
let bob = ClientID([2], key: nil)

struct GroupCommitTests {
    func core(_ journal: NoteJournal = NoteJournal(), testing: Bool = false) -> HostCore<NoteActor> {
        var config = HostCoreConfig()
        config.crashPointsEnabled = testing
        return HostCore(actor: NoteActor(), journal: journal, config: config)
    }

    /// Every success answer the core returns stands for a change that is already durable: the
    /// journal's durable notes hold it when the frames come back, and a failed commit returns
    /// no success at all.
    @Test func noReplyLeavesBeforeItsGroupIsDurable() {
        let journal = NoteJournal()
        var host = core(journal)
        let clock = ManualClock()
        let drained = host.drain([.request(alice, frame(register("alice"), id: rid(1))), .request(bob, frame(register("bob"), id: rid(2)))], at: clock.time)
        for client in [alice, bob] {
            guard case .registerReply(let name)? = replies(drained, to: client).first?.body else { Issue.record("no answer"); continue }
            #expect(journal.durable.contains("registered \(name)"), "\(name) was answered before its change was durable")
        }
        #expect(journal.groups == 1, "two requests of one drain commit as one group")

        journal.state.failNextCommit = true
        let failed = host.drain([.request(alice, frame(register("carol"), id: rid(3)))], at: clock.time)
        #expect(code(replies(failed, to: alice).first) == .unavailable)
        #expect(!journal.durable.contains("registered carol"))
    }

    /// A failed group answers each of its requests UNAVAILABLE, sends none of their peer
    /// requests, and puts the actor back as it was.
    @Test func aFailedGroupSendsNothingOfItsStepsAndRestoresTheActor() {
        let journal = NoteJournal()
        var host = core(journal)
        let clock = ManualClock()
        let before = host.actor.counter
        journal.state.failNextCommit = true
        let drained = host.drain([
            .request(alice, frame(register("alice"), id: rid(1))),
            .request(bob, frame(.balance(SessionRequest(session: SessionToken(Bytes16(high: 1, low: 1)))), id: rid(2))),
        ], at: clock.time)
        #expect(peerRequests(drained).isEmpty, "a peer request of a failed group left")
        #expect(code(replies(drained, to: alice).first) == .unavailable)
        #expect(code(replies(drained, to: bob).first) == .unavailable, "a step whose only output is a request got no answer")
        #expect(host.actor.counter == before)
        #expect(host.actor.waiting.isEmpty)
        #expect(host.inFlightCount == 0)
    }

    /// A batch the store refuses fails the whole group, like a failed commit.
    @Test func aBatchTheStoreRefusesFailsTheGroup() {
        let journal = NoteJournal()
        var host = core(journal)
        let drained = host.drain([
            .request(alice, frame(register("alice"), id: rid(1))),
            .request(bob, frame(.bankCredit(BankCredit(account: try! AccountID("ACC-B"), amount: Amount(paise: 100), codeHash: .zero)), id: rid(2))),
        ], at: ManualClock().time)
        #expect(code(replies(drained, to: alice).first) == .unavailable)
        #expect(code(replies(drained, to: bob).first) == .unavailable)
        #expect(journal.durable.isEmpty)
    }

    @Test func everyErrorCarriesTheActorsRole() {
        var host = core()
        let drained = host.drain([.request(alice, frame(.login(LoginRequest(username: try! Username("alice"), password: try! Password("wrong password"))), id: rid(1))), .request(bob, [1, 2, 3])], at: ManualClock().time)
        for client in [alice, bob] {
            guard case .error(let error)? = replies(drained, to: client).first?.body else { Issue.record("no error"); continue }
            #expect(error.origin == .appServer)
        }
    }
}

struct PeerRequestTests {
    func core() -> HostCore<NoteActor> { HostCore(actor: NoteActor(), journal: NoteJournal()) }
    let balance = Body.balance(SessionRequest(session: SessionToken(Bytes16(high: 1, low: 1))))

    @Test func aPeerRequestIsRetriedUntilItsDeadlineThenTheActorHearsNil() {
        var host = core()
        var clock = ManualClock()
        let first = host.drain([.request(alice, frame(balance, id: rid(1)))], at: clock.time)
        #expect(peerRequests(first).count == 1)
        var retries = 0
        for _ in 0..<4 {
            clock.advance(milliseconds: 500)
            let timers = host.advance(to: clock.time)
            retries += peerRequests(timers).filter { $0.1.requestID == rid(1) }.count
        }
        #expect(retries == 3, "retried at 500, 1000, 1500 ms (the deadline is 2000 ms)")
        #expect(host.actor.peerAnswers == [nil])
        clock.advance(milliseconds: 10)
        _ = host.advance(to: clock.time)
        #expect(host.inFlightCount == 0)
    }

    @Test func aLateAnswerAfterTheDeadlineIsDropped() {
        var host = core()
        var clock = ManualClock()
        _ = host.drain([.request(alice, frame(balance, id: rid(1)))], at: clock.time)
        clock.advance(milliseconds: 2001)
        let timeout = host.advance(to: clock.time)
        #expect(code(replies(timeout, to: alice).first) == .unavailable)
        let late = host.drain([.peerReply(.bank, frame(.balanceReply(Balances(bank: .zero, quickPay: .zero)), id: rid(1)))], at: clock.time)
        #expect(late.frames.isEmpty)
        #expect(host.actor.peerAnswers.count == 1)
    }

    /// Copies of a request still with a peer wait for its first answer; each gets it once.
    @Test func duplicatesWhileWithAPeerGetTheFirstAnswer() {
        var host = core()
        let clock = ManualClock()
        let copies = host.drain((0..<5).map { _ in .request(alice, frame(balance, id: rid(1))) }, at: clock.time)
        #expect(peerRequests(copies).count == 1, "the copies reached the actor")
        #expect(host.actor.counter == 1)
        let answered = host.drain([.peerReply(.bank, frame(.balanceReply(Balances(bank: .zero, quickPay: .zero)), id: rid(1)))], at: clock.time)
        #expect(replies(answered, to: alice).count == 5)
    }

    /// A peer answer whose group fails is not lost: the request is in flight again and retried.
    @Test func aPeerAnswerInAFailedGroupIsAskedForAgain() {
        let journal = NoteJournal()
        var host = HostCore(actor: NoteActor(), journal: journal)
        var clock = ManualClock()
        _ = host.drain([.request(alice, frame(balance, id: rid(1)))], at: clock.time)
        journal.state.failNextCommit = true
        let failed = host.drain([.peerReply(.bank, frame(.balanceReply(Balances(bank: .zero, quickPay: .zero)), id: rid(1)))], at: clock.time)
        #expect(replies(failed, to: alice).isEmpty)
        #expect(host.inFlightCount == 1)
        clock.advance(milliseconds: 500)
        #expect(peerRequests(host.advance(to: clock.time)).count == 1)
        let answered = host.drain([.peerReply(.bank, frame(.balanceReply(Balances(bank: .zero, quickPay: .zero)), id: rid(1)))], at: clock.time)
        #expect(replies(answered, to: alice).count == 1)
        #expect(journal.durable == ["balance answered"])
    }
}

struct IdempotencyStageTests {
    @Test func aRetryGetsTheKeptAnswerAndOtherContentIsAConflict() {
        let journal = NoteJournal()
        var host = HostCore(actor: NoteActor(), journal: journal)
        let clock = ManualClock()
        let first = replies(host.drain([.request(alice, frame(register("alice"), id: rid(1)))], at: clock.time), to: alice)
        let retry = replies(host.drain([.request(bob, frame(register("alice"), id: rid(1)))], at: clock.time), to: bob)
        #expect(retry.map(\.body) == first.map(\.body))
        #expect(journal.durable == ["registered alice"], "the retry took effect again")
        let other = replies(host.drain([.request(bob, frame(register("mallory"), id: rid(1)))], at: clock.time), to: bob)
        #expect(code(other.first) == .conflict)
    }

    @Test func aKeptRefusalIsAnsweredWithoutTheActor() {
        var host = HostCore(actor: NoteActor(), journal: NoteJournal())
        let clock = ManualClock()
        let login = Body.login(LoginRequest(username: try! Username("alice"), password: try! Password("wrong password")))
        _ = host.drain([.request(alice, frame(login, id: rid(1)))], at: clock.time)
        let retry = host.drain([.request(alice, frame(login, id: rid(1)))], at: clock.time)
        #expect(code(replies(retry, to: alice).first) == .authenticationFailed)
        #expect(host.actor.counter == 1)
    }

    /// Past retention, a permanent id is still known: the actor rebuilds the answer from durable
    /// state, or the host says ALREADY_APPLIED; it never takes effect twice. Other ids are gone.
    @Test func permanentIdsOutliveTheirAnswers() {
        let journal = NoteJournal()
        var host = HostCore(actor: NoteActor(), journal: journal)
        var clock = ManualClock()
        _ = host.drain([.request(alice, frame(register("alice"), id: rid(1))), .request(alice, frame(register("rebuilt"), id: rid(2)))], at: clock.time)
        _ = host.advance(to: clock.time)
        clock.advance(seconds: 2 * 86_400)
        clock.advance(milliseconds: 2000)
        _ = host.advance(to: clock.time)
        #expect(journal.state.durable.answers.answer(for: AnswerKey(scope: 0, requestID: rid(1)))?.answer == nil, "the answer was not pruned")
        let again = host.drain([.request(alice, frame(register("alice"), id: rid(1))), .request(bob, frame(register("rebuilt"), id: rid(2)))], at: clock.time)
        #expect(code(replies(again, to: alice).first) == .alreadyApplied)
        #expect(replies(again, to: bob).first?.body == .registerReply(username: try! Username("rebuilt")))
        #expect(journal.durable == ["registered alice", "registered rebuilt"])
    }
}

struct CrashPointTests {
    @Test func aCrashPointFiresAfterItsCommitAndNothingIsSent() throws {
        let journal = NoteJournal()
        var config = HostCoreConfig()
        config.crashPointsEnabled = true
        var host = HostCore(actor: NoteActor(), journal: journal, config: config)
        try host.arm("after-commit:register")
        let drained = host.drain([.request(alice, frame(register("alice"), id: rid(1)))], at: ManualClock().time)
        #expect(drained.crash == "register")
        #expect(drained.frames.isEmpty)
        #expect(journal.durable == ["registered alice"])
    }

    @Test func aCrashPointNamesAPeerAnswersCommit() throws {
        var config = HostCoreConfig()
        config.crashPointsEnabled = true
        var host = HostCore(actor: NoteActor(), journal: NoteJournal(), config: config)
        try host.arm("after-commit:balance_done")
        let clock = ManualClock()
        let asked = host.drain([.request(alice, frame(.balance(SessionRequest(session: SessionToken(Bytes16(high: 1, low: 1)))), id: rid(1)))], at: clock.time)
        #expect(asked.crash == nil)
        let answered = host.drain([.peerReply(.bank, frame(.balanceReply(Balances(bank: .zero, quickPay: .zero)), id: rid(1)))], at: clock.time)
        #expect(answered.crash == "balance_done")
    }

    @Test func crashPointsNeedATestingDeployment() {
        var host = HostCore(actor: NoteActor(), journal: NoteJournal())
        #expect(throws: QuickPayError.self) { try host.arm("after-commit:register") }
    }
}

/// A store that takes more answers a second than one prune batch still keeps only its
/// retention's worth: after a full batch the core prunes again within 50 ms, not a second.
@Suite struct PruneCatchUpTests {
    @Test func aFullBatchIsFollowedSoonByAnother() {
        let journal = NoteJournal()
        var config = HostCoreConfig()
        config.pruneBatch = 3
        var host = HostCore(actor: NoteActor(), journal: journal, config: config)
        var clock = ManualClock()
        let requests = (1...10).map { HostInput.request(alice, frame(register("user\($0)"), id: rid(UInt64($0)))) }
        _ = host.drain(requests, at: clock.time)
        _ = host.advance(to: clock.time)
        func kept() -> Int { (1...10).filter { journal.state.durable.answers.answer(for: AnswerKey(scope: 0, requestID: rid(UInt64($0))))?.answer != nil }.count }
        #expect(kept() == 10)
        clock.advance(seconds: 2 * 86_400)
        clock.advance(milliseconds: 1000)
        _ = host.advance(to: clock.time)
        #expect(kept() == 7, "one batch of 3")
        clock.advance(milliseconds: 50)
        _ = host.advance(to: clock.time)
        #expect(kept() == 4, "a full batch is followed by another 50 ms later")
        clock.advance(milliseconds: 50)
        _ = host.advance(to: clock.time)
        clock.advance(milliseconds: 50)
        _ = host.advance(to: clock.time)
        #expect(kept() == 0)
    }
}
