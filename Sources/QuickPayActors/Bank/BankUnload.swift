import QuickPayCore
import QuickPayProtocol

/// Customer unload: settle-then-refund. The bank closes the voucher first (online mode: its own
/// redeemed index is final; offline mode: it asks the merchant to settle), then refunds
/// d x (N - final index). If the merchant cannot be reached, the voucher waits in the closing
/// state and is refunded at its deposit deadline. The wallet's unload id is the idempotency key.
extension BankActor {
    mutating func unload(_ request: UnloadRequest, envelope: Envelope, client: ClientID, now: Timestamp) -> [Output] {
        let key = request.authorization.unloadID
        let digest = requestDigest(Envelope(requestID: key, body: .bankUnload(request)))
        return answering(envelope, to: client) {
            // Ownership first: the cached answer of an unload is its owner's business only.
            let row = try ownedVoucher(request)
            if let cached = try store.cachedReply(key) {
                // A zero digest marks a refund made at the deadline (see `tick`): the unload id
                // is signed by the owner key, so the retry that finds it is the same unload.
                guard cached.requestDigest == digest || cached.requestDigest == .zero else {
                    throw QuickPayError(.conflict, "unload id \(key) was used for another request")
                }
                return [.reply(to: client, envelope.reply(cached.reply))]
            }
            switch row.state {
            case .closed:
                throw QuickPayError(.voucherClosed, "voucher \(row.commitment.voucherID) is already closed")
            case .closing(let refundAt, _, let unloadID) where unloadID != key:
                throw QuickPayError(.voucherClosed, "voucher \(row.commitment.voucherID) is already being unloaded (refund at \(refundAt))")
            case .closing(let refundAt, _, _) where settling.contains(row.commitment.voucherID):
                // The same unload again while the merchant is being asked: one Settle at a time;
                // this copy learns only that the refund is on its way.
                let waiting = UnloadReply(voucherID: row.commitment.voucherID, refunded: .zero, finalIndex: row.redeemed.index, pendingUntil: refundAt)
                return [.reply(to: client, envelope.reply(.unloadReply(waiting)))]
            case .open, .closing:
                break
            }
            let receiver = try knownReceiver(row.commitment.receiverID)
            if receiver.mode == .online {
                // Every coin was marked at the bank before the merchant delivered: close now.
                return [.reply(to: client, envelope.reply(try closeAndRefund(row, request: request, digest: digest)))]
            }
            // Offline: persist the closing state first, so a crash or an unreachable merchant
            // still ends in a refund at the deadline, then ask the merchant to settle.
            var closing = row
            let deadline = depositDeadline(row)
            closing.state = .closing(refundAt: deadline, destination: request.authorization.destination, unloadID: key)
            if closing.state != row.state {
                var batch = BankBatch()
                batch.vouchers = [closing]
                try store.commit(batch)
            }
            let settle = Envelope(requestID: .random(using: &random), body: .settle(Settle(voucherID: row.commitment.voucherID)))
            pendingSettles[settle.requestID] = PendingUnload(client: client, envelope: envelope, request: request)
            settling.insert(row.commitment.voucherID)
            return [.request(to: .merchant(receiver.id), settle, deadlineMilliseconds: config.settleDeadlineMilliseconds)]
        }
    }

    public mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> [Output] {
        guard let pending = pendingSettles.removeValue(forKey: requestID) else { return [] }
        settling.remove(pending.request.authorization.voucherID)
        let key = pending.request.authorization.unloadID
        let digest = requestDigest(Envelope(requestID: key, body: .bankUnload(pending.request)))
        return answering(pending.envelope, to: pending.client) {
            guard var row = try store.voucher(pending.request.authorization.voucherID) else {
                throw QuickPayError(.unknownVoucher, "voucher vanished during settle")
            }
            // Only a voucher still closing for this very unload may be refunded here: a refund
            // already made (at the deadline, say) answers from the cache, never twice.
            guard case .closing(_, _, let closingFor) = row.state, closingFor == key else {
                if let cached = try store.cachedReply(key) { return [.reply(to: pending.client, pending.envelope.reply(cached.reply))] }
                throw QuickPayError(.voucherClosed, "voucher \(row.commitment.voucherID) is no longer closing for this unload")
            }
            guard case .settleReply(let settled)? = reply?.body, settled.voucherID == row.commitment.voucherID else {
                // The merchant did not answer (or answered nonsense): the refund waits for the deadline.
                guard case .closing(let refundAt, _, _) = row.state else {
                    throw QuickPayError(.voucherClosed, "voucher \(row.commitment.voucherID) is already closed")
                }
                let waiting = UnloadReply(voucherID: row.commitment.voucherID, refunded: .zero, finalIndex: row.redeemed.index, pendingUntil: refundAt)
                return [.reply(to: pending.client, pending.envelope.reply(.unloadReply(waiting)))]
            }
            // Credit the merchant for what it holds beyond what it redeemed, if that checks out;
            // a bad settle coin credits nothing more (the merchant loses it, the owner does not).
            var batch = BankBatch()
            // A settle answer is a merchant's claim like a redemption: only before the deadline.
            if settled.last.index > row.redeemed.index, now < depositDeadline(row),
                let steps = try? ChainVerifier.verify(settled.last, after: row.redeemed, length: row.commitment.length)
            {
                let value = try row.commitment.denomination.value(ofCoins: steps)
                let receiver = try knownReceiver(row.commitment.receiverID)
                batch.postings.append(Posting(from: .voucherFloat, to: .quickPay(receiver.account), amount: value))
                row.redeemed = settled.last
            }
            let reply = try refund(&row, request: pending.request, digest: digest, into: &batch)
            try store.commit(batch)
            return [.reply(to: pending.client, pending.envelope.reply(reply))]
        }
    }

    /// Refunds closing vouchers whose deposit deadline has passed.
    public mutating func tick(now: Timestamp) -> [Output] {
        _ = try? store.pruneReplies(olderThanSeconds: config.replyRetentionSeconds)
        guard let due = try? store.closingVouchers(dueBy: now) else { return [] }
        for var row in due where !settling.contains(row.commitment.voucherID) {
            guard case .closing(_, let destination, let unloadID) = row.state else { continue }
            var batch = BankBatch()
            let refund = row.unredeemedValue
            batch.postings = [Posting(from: .voucherFloat, to: destinationAccount(destination, row.account), amount: refund)]
            row.state = .closed(refunded: refund)
            batch.vouchers = [row]
            // The answer a retry of that unload gets from now on. The request is not stored, so
            // its digest is unknown here: a zero digest tells `unload` to match on the id alone.
            let reply = UnloadReply(voucherID: row.commitment.voucherID, refunded: refund, finalIndex: row.redeemed.index, pendingUntil: nil)
            batch.reply = (unloadID, CachedReply(requestDigest: .zero, reply: .unloadReply(reply)))
            try? store.commit(batch)
        }
        return []
    }

    func ownedVoucher(_ request: UnloadRequest) throws -> BankVoucher {
        guard let row = try store.voucher(request.authorization.voucherID) else {
            throw QuickPayError(.unknownVoucher, "no voucher \(request.authorization.voucherID)")
        }
        guard row.account == request.account else {
            throw QuickPayError(.forbidden, "voucher \(row.commitment.voucherID) was not loaded by this account")
        }
        try request.authorization.verify(against: row.commitment)
        return row
    }

    func closeAndRefund(_ row: BankVoucher, request: UnloadRequest, digest: Bytes32) throws -> Body {
        var row = row
        var batch = BankBatch()
        let reply = try refund(&row, request: request, digest: digest, into: &batch)
        try store.commit(batch)
        return reply
    }

    func refund(_ row: inout BankVoucher, request: UnloadRequest, digest: Bytes32, into batch: inout BankBatch) throws -> Body {
        let refund = row.unredeemedValue
        if refund > .zero {
            batch.postings.append(Posting(from: .voucherFloat, to: destinationAccount(request.authorization.destination, row.account), amount: refund))
        }
        row.state = .closed(refunded: refund)
        batch.vouchers.append(row)
        let reply = Body.unloadReply(UnloadReply(voucherID: row.commitment.voucherID, refunded: refund, finalIndex: row.redeemed.index, pendingUntil: nil))
        batch.reply = (request.authorization.unloadID, CachedReply(requestDigest: digest, reply: reply))
        return reply
    }

    func destinationAccount(_ destination: UnloadDestination, _ account: AccountID) -> LedgerAccount {
        destination == .bankAccount ? .bank(account) : .quickPay(account)
    }
}
