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

/// Several requests in one frame (PROTOCOL.md 2.1), both ways.
struct BatchTests {
    let balance = Body.balance(SessionRequest(session: SessionToken(Bytes16(high: 1, low: 1))))
    func answer(_ id: UInt64) -> [UInt8] { frame(.balanceReply(Balances(bank: Amount(paise: Int64(id)), quickPay: .zero)), id: rid(id)) }

    /// The requests of one group to a peer leave in one batch; the peer's batch reply answers
    /// each, as separate replies would.
    @Test func aGroupsPeerRequestsLeaveInOneBatchAndABatchReplyAnswersEach() throws {
        var host = HostCore(actor: NoteActor(), journal: NoteJournal())
        let clock = ManualClock()
        let drained = host.drain([.request(alice, frame(balance, id: rid(1))), .request(bob, frame(balance, id: rid(2)))], at: clock.time)
        let sent = rawFrames(drained)
        #expect(sent.count == 1)
        guard case .batch(let frames)? = sent.first?.body else { Issue.record("not one batch: \(sent.map(\.body.typeName))"); return }
        #expect(try frames.map { try codec.decode($0).requestID } == [rid(1), rid(2)])
        let answered = host.drain([.peerReply(.bank, codec.encode(Envelope(requestID: sent[0].requestID, body: .batchReply([answer(2), answer(1)]))))], at: clock.time)
        guard case .balanceReply(let a)? = replies(answered, to: alice).first?.body, case .balanceReply(let b)? = replies(answered, to: bob).first?.body else {
            Issue.record("an answer is missing"); return
        }
        #expect((a.bank.paise, b.bank.paise) == (1, 2))
        #expect(host.inFlightCount == 0)
        // One request alone leaves alone (no batch around it); off, each leaves alone.
        let one = host.drain([.request(alice, frame(balance, id: rid(3)))], at: clock.time)
        #expect(rawFrames(one).map(\.body.typeName) == ["bank_balance"])
        var config = HostCoreConfig()
        config.batchesPeerRequests = false
        var unbatchedHost = HostCore(actor: NoteActor(), journal: NoteJournal(), config: config)
        let apart = unbatchedHost.drain([.request(alice, frame(balance, id: rid(1))), .request(bob, frame(balance, id: rid(2)))], at: clock.time)
        #expect(rawFrames(apart).map(\.body.typeName) == ["bank_balance", "bank_balance"])
    }

    /// A poll turn reads a socket until 256 requests, a batch counting as the requests in it
    /// (and a message refused unread as one): batches cannot make a group of 256 x 256.
    @Test func aGroupsBudgetCountsABatchAsItsRequests() {
        let single = frame(balance, id: rid(1))
        let batch = frame(.batch((1...200).map { frame(balance, id: rid(UInt64($0))) }), id: rid(500))
        var budget = GroupBudget()
        budget.count(batch)
        #expect(budget.requests == 200 && !budget.isSpent)
        budget.count(batch)
        #expect(budget.requests == 400 && budget.isSpent)
        var singles = GroupBudget()
        var read = 0
        while !singles.isSpent {
            singles.count(single)
            read += 1
        }
        #expect(read == 256)
        var refused = GroupBudget(limit: 2)
        refused.countRefused()
        refused.count([0xff, 0xff])
        #expect(refused.isSpent, "an unreadable frame and a refused message count one each")
        #expect(refused.requests == 1, "a refused message is not in the group")
        var tooLarge = GroupBudget()
        tooLarge.count(frame(.batch((1...257).map { frame(balance, id: rid(UInt64($0))) }), id: rid(600)))
        #expect(tooLarge.requests == 1, "a batch refused as a whole is one request")
        let reply = frame(.batchReply([answer(1), answer(2), answer(3)]), id: rid(7))
        var replies = GroupBudget()
        replies.count(reply)
        #expect(replies.requests == 3)
    }

    /// Retries due at one moment leave in one batch too; more than 256 make several batches.
    @Test func retriesAreBatchedAndBatchesKeepTheirLimits() {
        var host = HostCore(actor: NoteActor(), journal: NoteJournal())
        var clock = ManualClock()
        let first = host.drain((1...300).map { .request(alice, frame(balance, id: rid(UInt64($0)))) }, at: clock.time)
        let sizes = rawFrames(first).map { envelope -> Int in
            if case .batch(let frames) = envelope.body { return frames.count }
            return 1
        }
        #expect(sizes == [256, 44])
        #expect(first.frames.allSatisfy { if case .toPeer(_, let bytes) = $0 { bytes.count <= HostCoreConfig().maximumFrameBytes } else { false } })
        clock.advance(milliseconds: 500)
        let retries = host.advance(to: clock.time)
        #expect(rawFrames(retries).count == 2)
        #expect(Set(peerRequests(retries).map(\.1.requestID)).count == 300)
    }

    /// A client's batch: each request is handled as if it came alone (kept answers, conflicts),
    /// the answers come back in one batch reply, a malformed item is answered alone and a
    /// batch inside a batch is malformed, and the others still go through.
    @Test func aClientsBatchIsItsRequestsEachAsIfAlone() throws {
        let journal = NoteJournal()
        var host = HostCore(actor: NoteActor(), journal: journal)
        let clock = ManualClock()
        let inner = frame(.batch([frame(register("dave"), id: rid(9))]), id: rid(8))
        let items = [frame(register("alice"), id: rid(1)), frame(register("bob"), id: rid(2)), [0xFF, 0x01], inner]
        let drained = host.drain([.request(alice, frame(.batch(items), id: rid(100)))], at: clock.time)
        let sent = rawFrames(drained)
        #expect(sent.count == 3, "one batch reply and two malformed answers alone: \(sent.map(\.body.typeName))")
        guard let batch = sent.first(where: { $0.requestID == rid(100) }), case .batchReply(let frames) = batch.body else { Issue.record("no batch reply"); return }
        #expect(try frames.map { try codec.decode($0).body } == [.registerReply(username: try Username("alice")), .registerReply(username: try Username("bob"))])
        #expect(sent.filter { code($0) == .malformed }.count == 2)
        #expect(journal.durable == ["registered alice", "registered bob"], "the nested batch's request took effect, or an item did not")
        // Again, in another batch: the kept answer for one, a conflict for the other id.
        let again = host.drain([.request(bob, frame(.batch([frame(register("alice"), id: rid(1)), frame(register("mallory"), id: rid(2))]), id: rid(101)))], at: clock.time)
        let answers = replies(again, to: bob)
        #expect(answers.first?.body == .registerReply(username: try Username("alice")))
        #expect(code(answers.last) == .conflict)
        #expect(journal.durable == ["registered alice", "registered bob"])
        // A batch of nothing, or of more than 256, is malformed as a whole.
        let empty = host.drain([.request(alice, codec.encode(Envelope(requestID: rid(102), body: .batch([]))))], at: clock.time)
        #expect(code(replies(empty, to: alice).first) == .malformed)
    }

    /// A peer that refuses a batch itself (an older peer, a smaller frame limit) gets its requests
    /// again at once, alone, and only alone from then on; nothing waits for the deadline.
    @Test func aBatchThePeerRefusesGoesAgainAlone() throws {
        var host = HostCore(actor: NoteActor(), journal: NoteJournal())
        let clock = ManualClock()
        let sent = rawFrames(host.drain([.request(alice, frame(balance, id: rid(1))), .request(bob, frame(balance, id: rid(2)))], at: clock.time))
        let batch = try #require(sent.first)
        let refused = host.drain([.peerReply(.bank, frame(.error(QuickPayError(.malformed, "envelope carries no known message type", origin: .bank)), id: batch.requestID))], at: clock.time)
        #expect(rawFrames(refused).map(\.requestID) == [rid(1), rid(2)], "the requests went again, alone")
        #expect(refused.logs.contains { if case .batchRefused(.bank, _) = $0 { true } else { false } })
        #expect(host.peersWithoutBatches == [.bank])
        let answered = host.drain([.peerReply(.bank, answer(1)), .peerReply(.bank, answer(2))], at: clock.time)
        #expect(replies(answered, to: alice).count == 1 && replies(answered, to: bob).count == 1)
        let later = host.drain([.request(alice, frame(balance, id: rid(3))), .request(bob, frame(balance, id: rid(4)))], at: clock.time)
        #expect(rawFrames(later).map(\.body.typeName) == ["bank_balance", "bank_balance"])
    }

    /// The chunks of one batch share its id: one answered, the other refused, the refused
    /// chunk's requests (and only those still waiting) go again alone.
    @Test func aRefusedChunkAfterAnAnsweredOneStillGoesAgainAlone() throws {
        var host = HostCore(actor: NoteActor(), journal: NoteJournal())
        let clock = ManualClock()
        let sent = rawFrames(host.drain((1...300).map { .request(alice, frame(balance, id: rid(UInt64($0)))) }, at: clock.time))
        #expect(sent.count == 2 && sent[0].requestID == sent[1].requestID)
        _ = host.drain([.peerReply(.bank, frame(.batchReply((1...256).map { answer(UInt64($0)) }), id: sent[0].requestID))], at: clock.time)
        #expect(host.inFlightCount == 44)
        let refused = host.drain([.peerReply(.bank, frame(.error(QuickPayError(.malformed, "frame over the limit", origin: .bank)), id: sent[1].requestID))], at: clock.time)
        #expect(rawFrames(refused).map(\.requestID) == (257...300).map { rid(UInt64($0)) })
    }

    /// A batch whose group fails answers each of its requests UNAVAILABLE, alone.
    @Test func aFailedGroupAnswersEachRequestOfABatch() {
        let journal = NoteJournal()
        var host = HostCore(actor: NoteActor(), journal: journal)
        journal.state.failNextCommit = true
        let drained = host.drain([.request(alice, frame(.batch([frame(register("alice"), id: rid(1)), frame(register("bob"), id: rid(2))]), id: rid(100)))], at: ManualClock().time)
        let answers = replies(drained, to: alice)
        #expect(answers.map(\.requestID) == [rid(1), rid(2)])
        #expect(answers.allSatisfy { code($0) == .unavailable })
        #expect(journal.durable.isEmpty)
    }
}
