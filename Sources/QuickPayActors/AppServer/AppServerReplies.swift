import QuickPayCore
import QuickPayProtocol

extension AppServerActor {
    public mutating func handlePeerReply(_ reply: Envelope?, requestID: RequestID, from peer: PeerName, now: Timestamp) -> Step<AppServerBatch> {
        guard let waiting = pending.removeValue(forKey: requestID) else { return .none }
        switch waiting {
        case .register(let client, let envelope, let request):
            return answering(envelope, to: client) {
                switch reply?.body {
                case .accountOwner(let phone)?:
                    return try registrationOwner(phone, request: request, envelope: envelope, client: client, now: now)
                case .error(let error)? where error.code == .unknownAccount:
                    throw Self.notYourAccount(request)
                case .error(let error)?: throw error
                default: throw QuickPayError(.unavailable, "the bank did not confirm the account")
                }
            }
        case .login(let client, let envelope, let challenge):
            guard case .smsAccepted? = reply?.body else {
                return .reply(to: client, envelope.fail(QuickPayError(.unavailable, "the code could not be sent; try again")))
            }
            return .reply(to: client, envelope.reply(.loginChallenge(challenge)))
        case .forward(let client, let envelope):
            guard let reply else {
                return .reply(to: client, envelope.fail(QuickPayError(.unavailable, "the bank did not answer in time; retry with the same request id")))
            }
            var outputs: [Output] = [.reply(to: client, envelope.reply(reply.body))]
            if case .loadReply(let loaded) = reply.body {
                for voucher in loaded.vouchers {
                    outputs.append(.push(to: client, Envelope(requestID: .random(using: &random), body: .voucherNotice(voucher))))
                }
            }
            return Step(outputs: outputs)
        case .prepaid(let client, let envelope, var code, let username):
            return answering(envelope, to: client) {
                switch reply?.body {
                case .balanceReply(let balances)?:
                    code.redeemedBy = username
                    var batch = AppServerBatch()
                    batch.codes = [code]
                    let answer = Body.prepaidRedeemReply(PrepaidRedeemReply(credited: code.amount, quickPay: balances.quickPay))
                    return Step(commit: batch, outputs: [.reply(to: client, envelope.reply(answer))], label: "prepaid_redeem")
                case .error(let error)?: throw error
                default: throw QuickPayError(.unavailable, "the bank did not answer in time; retry with the same request id")
                }
            }
        }
    }

    /// The operator's command (control endpoint only): `count` codes of `amount` each. The codes
    /// are returned once; only their SHA-256 is stored. 20 characters of base32: 100 random bits.
    public mutating func issuePrepaidCodes(count: Int, amount: Amount) throws -> ([String], Step<AppServerBatch>) {
        guard (1...PrepaidIssue.maximumCount).contains(count) else { throw QuickPayError(.limitExceeded, "1 to \(PrepaidIssue.maximumCount) codes at a time") }
        try TransferLimits.check(amount)
        let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var codes: [String] = []
        var batch = AppServerBatch()
        for _ in 0..<count {
            let characters = (0..<20).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
            let code = "QP-" + stride(from: 0, to: 20, by: 5).map { String(characters[$0..<$0 + 5]) }.joined(separator: "-")
            codes.append(code)
            batch.codes.append(PrepaidCodeRecord(codeHash: Bytes32.sha256(of: Array(code.utf8)), amount: amount, redeemedBy: nil))
        }
        return (codes, Step(commit: batch, label: "prepaid_issue"))
    }
}

extension Optional {
    func orThrow() throws -> Wrapped {
        guard let self else { throw QuickPayError(.malformed, "a required field is missing") }
        return self
    }
}
