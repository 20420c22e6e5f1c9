import QuickPayCore
import QuickPayProtocol

/// Customer unload: settle-then-refund. The bank closes the voucher first (online mode: its own
/// redeemed index is final; offline mode: it asks the merchant to settle), then refunds
/// d x (N - final index). The wallet's signed unload id identifies the unload, and the voucher
/// row keeps it: a retry is answered from the row, at any age.
///
/// An offline merchant that does not answer is asked again with backoff (2 s, 4 s, ... up to
/// 10 min) until it answers or the voucher's deposit deadline passes; then the bank refunds
/// what is unredeemed. Whoever waits on an unanswered Settle hears that the refund is pending.
extension BankActor {
    /// Unload requests waiting on one Settle, at most.
    static let maximumWaitingPerSettle = 16

    mutating func unload(_ request: UnloadRequest, envelope: Envelope, client: ClientID, now: Timestamp) throws -> Step<BankBatch> {
        let key = request.authorization.unloadID
        // Ownership first: even the answer to an unload is its owner's business only.
        // Whether the bank knew the voucher before this unload (a blind one may be first seen here).
        let known = try store.voucher(request.authorization.voucherID) != nil
        var row = try ownedVoucher(request, now: now)
        let waiting = WaitingUnload(client: client, envelope: envelope)
        switch row.state {
        case .closed(_, let unloadID):
            guard unloadID == key else { throw QuickPayError(.voucherClosed, "voucher \(row.commitment.voucherID) is already closed") }
            return .reply(to: client, envelope.reply(unloadAnswer(row)))
        case .closing(_, _, let unloadID) where unloadID != key:
            throw QuickPayError(.voucherClosed, "voucher \(row.commitment.voucherID) is already being unloaded")
        case .closing(_, let destination, _) where destination != request.authorization.destination:
            throw QuickPayError(.conflict, "unload \(key) of voucher \(row.commitment.voucherID) was asked with another destination")
        case .closing:
            // The same unload again: it waits on the merchant's answer, asked now if not already.
            return askToSettle(row, waiting: waiting, now: now)
        case .open:
            var batch = BankBatch()
            guard let receiver = try store.receiver(row.commitment.receiverID) else {
                // A blind voucher can name any receiver (the bank never saw it at load): one the
                // bank does not know reached no merchant, so it is refunded whole, now.
                guard row.commitment.scheme == .blindRSA else { throw QuickPayError(.unknownReceiver, "no receiver \(row.commitment.receiverID)") }
                if row.account == nil, request.authorization.destination != .refresh { row.account = request.account }
                var closed = row
                let answer = refund(&closed, destination: request.authorization.destination, unloadID: key, into: &batch)
                return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(answer))])
            }
            // A blind voucher is linked to an account here, by its owner's signature: the
            // refund goes to the account the owner named (PROTOCOL.md, section 7.5).
            if row.account == nil, request.authorization.destination != .refresh { row.account = request.account }
            if receiver.mode == .online, known {
                // Every coin was marked at the bank before the merchant delivered: close now.
                // Not so for a blind voucher the bank first sees here: it never marked a coin of
                // it, and the merchant may have taken its coins offline before it turned online
                // (the bank could not refuse that change for vouchers it had never seen): settle.
                var closed = row
                let answer = refund(&closed, destination: request.authorization.destination, unloadID: key, into: &batch)
                return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(answer))])
            }
            // Offline: the closing state is committed with the Settle, so a crash or an
            // unreachable merchant still ends in a refund (at the latest at the deadline).
            var closing = row
            closing.state = .closing(refundAt: depositDeadline(row), destination: request.authorization.destination, unloadID: key)
            batch.vouchers = [closing]
            var step = askToSettle(closing, waiting: waiting, now: now)
            step.commit = batch
            return step
        }
    }

    /// Attaches `waiting` to the voucher's Settle in flight, or sends one now.
    mutating func askToSettle(_ row: BankVoucher, waiting: WaitingUnload?, now: Timestamp) -> Step<BankBatch> {
        let id = row.commitment.voucherID
        if let inFlight = settles[id]?.inFlight, pendingSettles[inFlight] != nil {
            guard let waiting else { return .none }
            if pendingSettles[inFlight]!.waiting.count < Self.maximumWaitingPerSettle {
                pendingSettles[inFlight]!.waiting.append(waiting)
                return .none
            }
            return .reply(to: waiting.client, waiting.envelope.reply(unloadAnswer(row)))
        }
        let settle = Envelope(requestID: .random(using: &random), body: .settle(Settle(voucherID: id)))
        pendingSettles[settle.requestID] = PendingSettle(voucherID: id, waiting: waiting.map { [$0] } ?? [])
        settles[id, default: SettleSchedule(nextAt: now)].inFlight = settle.requestID
        return Step(outputs: [.request(to: .merchant(row.commitment.receiverID), settle, deadlineMilliseconds: config.settleDeadlineMilliseconds)])
    }

    public mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> Step<BankBatch> {
        guard let pending = pendingSettles.removeValue(forKey: requestID) else { return .none }
        let id = pending.voucherID
        settles[id]?.inFlight = nil
        let row: BankVoucher
        do {
            guard let found = try store.voucher(id) else { return .none }
            row = found
        } catch {
            scheduleSettleAgain(id, now: now)
            return answer(pending.waiting, .error(QuickPayError(.unavailable, "storage: \(error); the refund is still pending")))
        }
        guard case .closing(_, let destination, let unloadID) = row.state else {
            // Refunded meanwhile (at the deadline): the row holds the answer.
            settles[id] = nil
            return answer(pending.waiting, unloadAnswer(row))
        }
        guard case .settleReply(let settled)? = reply?.body, settled.voucherID == id else {
            // No answer (or nonsense): ask again later; the refund waits at most for the deadline.
            scheduleSettleAgain(id, now: now)
            return answer(pending.waiting, unloadAnswer(row))
        }
        var batch = BankBatch()
        var closed = row
        // The merchant's settle coin is a claim like a redemption: credited if it checks out and
        // comes before the deadline; a bad one credits nothing (the merchant loses it, not the owner).
        if settled.last.index > row.redeemed.index, now < depositDeadline(row),
            let steps = try? ChainVerifier.verify(settled.last, after: row.redeemed, length: row.commitment.length),
            let value = try? row.commitment.denomination.value(ofCoins: steps),
            let receiver = try? knownReceiver(row.commitment.receiverID)
        {
            batch.postings.append(Posting(from: row.float, to: .quickPay(receiver.account), amount: value))
            closed.redeemed = settled.last
        }
        let body = refund(&closed, destination: destination, unloadID: unloadID, into: &batch)
        settles[id] = nil
        var step = answer(pending.waiting, body)
        step.commit = batch
        step.label = "unload_refund"
        return step
    }

    mutating func scheduleSettleAgain(_ id: VoucherID, now: Timestamp) {
        var schedule = settles[id] ?? SettleSchedule(nextAt: now)
        schedule.unanswered += 1
        let shift = min(schedule.unanswered - 1, 30)
        let backoff = min(config.settleFirstBackoffSeconds << Int64(shift), config.settleMaximumBackoffSeconds)
        schedule.nextAt = now.adding(seconds: backoff)
        settles[id] = schedule
    }

    /// Refunds closing vouchers whose deposit deadline has passed, and asks the merchants of the
    /// others to settle when their turn comes (after a restart, at once).
    public mutating func tick(now: Timestamp) -> Step<BankBatch> {
        guard let closing = try? store.closingVouchers(limit: 1024) else { return .none }
        var batch = BankBatch()
        var outputs: [Output] = []
        var inFlight = pendingSettles.count
        for row in closing {
            guard case .closing(let refundAt, let destination, let unloadID) = row.state else { continue }
            let id = row.commitment.voucherID
            if settles[id]?.inFlight != nil { continue }
            if refundAt <= now {
                var closed = row
                _ = refund(&closed, destination: destination, unloadID: unloadID, into: &batch)
                settles[id] = nil
            } else if settles[id].map({ $0.nextAt <= now }) ?? true, inFlight < config.maximumSettlesInFlight {
                outputs += askToSettle(row, waiting: nil, now: now).outputs
                inFlight += 1
            }
        }
        return Step(commit: batch.isEmpty ? nil : batch, outputs: outputs, label: "deadline_refund")
    }

    /// The operator's `resettle`: ask the merchants of closing vouchers (one, or all) again now.
    public mutating func resettle(_ voucher: VoucherID?, now: Timestamp) throws -> Int {
        var count = 0
        for row in try store.closingVouchers(limit: 1024) where voucher == nil || row.commitment.voucherID == voucher {
            let id = row.commitment.voucherID
            guard settles[id]?.inFlight == nil else { continue }
            settles[id] = SettleSchedule(nextAt: now)
            count += 1
        }
        return count
    }

    func answer(_ waiting: [WaitingUnload], _ body: Body) -> Step<BankBatch> {
        Step(outputs: waiting.map { .reply(to: $0.client, $0.envelope.reply(body)) })
    }

    /// What an unload of this voucher is told, from its row alone.
    func unloadAnswer(_ row: BankVoucher) -> Body {
        switch row.state {
        case .closed(let refunded, _):
            .unloadReply(UnloadReply(voucherID: row.commitment.voucherID, refunded: refunded, finalIndex: row.redeemed.index, pendingUntil: nil))
        case .closing(let refundAt, _, _):
            .unloadReply(UnloadReply(voucherID: row.commitment.voucherID, refunded: .zero, finalIndex: row.redeemed.index, pendingUntil: refundAt))
        case .open:
            .error(QuickPayError(.unavailable, "voucher \(row.commitment.voucherID) is not being unloaded"))
        }
    }

    /// The voucher an unload names, if the request proves it is the asker's: for an Ed25519
    /// voucher, the account that loaded it and the owner key's signature; for a blind voucher
    /// (which no account loaded, as far as the bank knows), the owner key's signature over the
    /// asking account, and, once an unload linked it, that account.
    func ownedVoucher(_ request: UnloadRequest, now: Timestamp) throws -> BankVoucher {
        guard let row = try knownOrFirstSeen(request.authorization.voucherID, attached: request.voucher, now: now) else {
            throw QuickPayError(.unknownVoucher, "no voucher \(request.authorization.voucherID)")
        }
        if row.commitment.scheme == .blindRSA, request.authorization.destination == .refresh {
            // A refresh names no account: the refund is held for the owner key's next request.
            try request.authorization.verify(against: row.commitment, account: nil)
            return row
        }
        guard let account = request.account else { throw QuickPayError(.unknownAccount, "an unload names the account asking") }
        if row.commitment.scheme == .blindRSA {
            try request.authorization.verify(against: row.commitment, account: account)
            guard row.account == nil || row.account == account else {
                throw QuickPayError(.forbidden, "voucher \(row.commitment.voucherID) is being unloaded to another account")
            }
            return row
        }
        guard request.authorization.destination != .refresh else {
            throw QuickPayError(.malformed, "only blind vouchers are refreshed; an Ed25519 voucher's refund goes to its account")
        }
        guard row.account == account else {
            throw QuickPayError(.forbidden, "voucher \(row.commitment.voucherID) was not loaded by this account")
        }
        try request.authorization.verify(against: row.commitment)
        return row
    }

    func refund(_ row: inout BankVoucher, destination: UnloadDestination, unloadID: RequestID, into batch: inout BankBatch) -> Body {
        guard destination == .refresh || row.account != nil else {
            // Never reached (an unload to an account names it first); refused rather than closing
            // the voucher with its refund paid nowhere.
            return .error(QuickPayError(.internal, "voucher \(row.commitment.voucherID) has no account to refund to"))
        }
        let refund = row.unredeemedValue
        if refund > .zero, destination == .refresh {
            batch.postings.append(Posting(from: row.float, to: .refreshHolding(row.commitment.voucherID), amount: refund))
        } else if refund > .zero, let account = row.account {
            batch.postings.append(Posting(from: row.float, to: destinationAccount(destination, account), amount: refund))
        }
        row.state = .closed(refunded: refund, unloadID: unloadID)
        batch.vouchers.append(row)
        return unloadAnswer(row)
    }

    func destinationAccount(_ destination: UnloadDestination, _ account: AccountID) -> LedgerAccount {
        destination == .bankAccount ? .bank(account) : .quickPay(account)
    }
}
