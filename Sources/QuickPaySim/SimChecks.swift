import QuickPayActors
import QuickPayAudit
import QuickPayCore
import QuickPayProtocol

/// The simulation's checks: the auditor's invariants on the durable state after every event
/// that changed it, and each customer's history against what the servers hold.
extension SimWorld {
    func violation(_ text: String) {
        note("VIOLATION \(text)")
        violations.append("t=\(now) ms: \(text)")
    }

    /// The auditor's view of what is durable now (a crash would leave exactly this). The bank's
    /// part is rebuilt only when the bank changed, its journal only from where it stopped.
    func auditData(merchantsOnly: Bool = false) -> AuditData {
        let version = servers[.bank]?.version ?? 0
        if cachedBank == nil || cachedBankVersion != version {
            cachedBank = bankAuditData(journalFrom: cachedBank?.journal ?? [])
            cachedBankVersion = version
        }
        var data = cachedBank!
        for (receiver, store) in merchantStores {
            data.merchants[receiver.value] = store.state.durable.vouchers.values.map {
                AuditData.MerchantRow(
                    id: $0.id.raw.hex, lastIndex: $0.last.index, redeemedIndex: $0.redeemedIndex, closed: $0.closed,
                    blind: $0.voucher.commitment.scheme == .blindRSA)
            }
        }
        if merchantsOnly { return data }
        let app = appStore.state.durable
        data.appServer = AuditData.AppServer(
            users: app.users.values.map {
                AuditData.User(username: $0.username.value, account: $0.account.value, phone: $0.phone.value, failedAttempts: $0.failedAttempts, lockedUntil: $0.lockedUntil?.secondsSinceEpoch)
            },
            sessions: app.sessions.values.map { AuditData.Session(username: $0.username.value, expiresAt: $0.expiresAt.secondsSinceEpoch) },
            challenges: app.challenges.values.map { AuditData.Challenge(username: $0.username.value, tries: $0.tries, used: $0.used, registration: $0.registration != nil) })
        data.expectedDepositsPaise = stats.depositedPaise
        data.nowSeconds = time(.appServer).now.secondsSinceEpoch
        return data
    }

    func bankAuditData(journalFrom known: [AuditData.Entry]) -> AuditData {
        var data = AuditData()
        let bank = bankStore.state.durable
        for (account, amount) in bank.balances { data.balances[account.name] = amount.paise }
        // The journal only grows: the entries converted before stay as they are.
        let start = known.count <= bank.entries.count ? known.count : 0
        data.journal = (start == 0 ? [] : known) + bank.entries[start...].map { AuditData.Entry(debit: $0.from.name, credit: $0.to.name, amountPaise: $0.amount.paise) }
        data.accounts = Set(bank.accounts.map(\.value))
        for key in blindKeys?.keys ?? [] { data.blindKeys[key.keyID.description] = (key.denomination.rupees, key.length.value) }
        for (account, phone) in bank.phones { data.phones[account.value] = phone.value }
        for (id, record) in bank.receivers { data.receivers[id.value] = (record.account.value, record.mode.rawValue) }
        data.vouchers = bank.vouchers.values.map { row in
            var state = 0
            var refunded: Int64 = 0
            switch row.state {
            case .open: state = 0
            case .closing: state = 1
            case .closed(let amount, _):
                state = 2
                refunded = amount.paise
            }
            return AuditData.Voucher(
                id: row.commitment.voucherID.raw.hex, account: row.account?.value, receiver: row.commitment.receiverID.value,
                denominationRupees: row.commitment.denomination.rupees, length: row.commitment.length.value, root: row.commitment.root.hex,
                redeemedIndex: row.redeemed.index, state: state, refundedPaise: refunded,
                blindKey: row.commitment.scheme == .blindRSA ? row.commitment.keyID.description : nil)
        }
        return data
    }

    /// The audit, whenever a server's durable state changed.
    /// (A change at a merchant alone is checked against the merchants' rule only: it moves no
    /// money; everything else is checked whole.)
    func auditIfChanged() {
        var changed: Set<NodeID> = []
        for node in nodes {
            let version = servers[node]?.version ?? 0
            if lastAudited[node] != version {
                lastAudited[node] = version
                changed.insert(node)
            }
        }
        guard !changed.isEmpty else { return }
        let onlyMerchants = changed.allSatisfy { if case .merchant = $0 { true } else { false } }
        let report = onlyMerchants ? Auditor.auditMerchants(auditData(merchantsOnly: true)) : Auditor.audit(auditData())
        for check in report.failed { violation("audit \(check.name): \(check.findings.prefix(3).joined(separator: "; "))") }
    }

    // MARK: Histories: what a customer was told against what the servers hold

    /// (Ed25519 only: a blind load leaves no voucher at the bank; the audit's per-key floats
    /// check what it debited.)
    func checkLoaded(_ index: Int, roots: [Bytes32]) {
        guard blindKeys == nil else { return }
        for root in roots {
            guard let row = bankStore.state.durable.vouchers.values.first(where: { $0.commitment.root == root }) else {
                return violation("customer \(index) was given a voucher for root \(root.hex.prefix(8)) the bank does not hold")
            }
            if row.account != customers[index].account { violation("customer \(index)'s voucher \(row.commitment.voucherID) is on \(row.account)") }
        }
    }

    func checkNothingLoaded(_ index: Int, roots: [Bytes32], _ error: QuickPayError) {
        guard blindKeys == nil else { return }
        for root in roots where bankStore.state.durable.vouchers.values.contains(where: { $0.commitment.root == root }) {
            violation("customer \(index)'s load was refused (\(error.code.name)) but the bank signed root \(root.hex.prefix(8))")
        }
    }

    func checkPaid(_ payment: PendingPayment) {
        guard let store = merchantStores[payment.receiver] else { return }
        for coin in payment.plan.payment.coins {
            let last = store.state.durable.vouchers[coin.voucherID]?.last.index ?? 0
            if last < coin.index { violation("\(payment.receiver) gave receipts for coin \(coin.index) of \(coin.voucherID) and holds only \(last)") }
        }
    }

    func checkNothingTaken(_ payment: PendingPayment, _ error: QuickPayError) {
        guard let store = merchantStores[payment.receiver] else { return }
        for coin in payment.plan.payment.coins {
            let last = store.state.durable.vouchers[coin.voucherID]?.last.index ?? 0
            if last >= coin.index { violation("\(payment.receiver) refused a payment (\(error.code.name)) and holds its coin \(coin.index) of \(coin.voucherID)") }
        }
    }

    func checkRefunded(_ reply: UnloadReply) {
        guard let row = bankStore.state.durable.vouchers[reply.voucherID], case .closed(let refunded, _) = row.state, refunded == reply.refunded else {
            return violation("voucher \(reply.voucherID) was answered refunded \(reply.refunded), the bank does not hold that")
        }
    }

    // MARK: Liveness: heal everything, finish every operation, strand nothing

    /// A customer past its operations finishes what is pending and unloads the rest.
    func finish(_ index: Int) {
        let customer = customers[index]
        if customer.wallet.pendingLoad != nil { return load(index) }
        if let racing = customer.racingLoad {
            guard let session = customer.session else { return endOperation(index, counts: false) }
            return sendRacingLoad(index, racing, session: session) { [self] in endOperation(index, counts: false) }
        }
        if let receiver = customer.wallet.pendingPayments.keys.sorted().first {
            let pending = customer.wallet.pendingPayments[receiver]!
            customer.wallet.markSent(pending.plan)
            return sendPayment(index, pending, newConnection: true) { [self] in endOperation(index, counts: false) }
        }
        guard faultsOn == false else { return endOperation(index, counts: false) }
        // A refresh under way (its unload, a held refund, the refresh itself) is finished first.
        if customer.wallet.pendingRefresh != nil || !customer.wallet.heldRefunds.isEmpty
            || customer.wallet.pendingUnloads.values.contains(where: { $0.destination == .refresh })
        {
            return refresh(index, counts: false)
        }
        if !customer.wallet.pendingUnloads.isEmpty || customer.wallet.vouchers.values.contains(where: { $0.remaining > 0 }) {
            guard let session = customer.session else { return endOperation(index, counts: false) }
            let unloads = customer.wallet.beginUnloads(destination: .bankAccount)
            return sendUnloads(index, unloads, session: session) { [self] in
                // A refund the bank still waits on: ask again in a while, not at once.
                endOperation(index, counts: false)
            }
        }
        customer.finished = true
        customer.busy = false
    }

    var allCustomersDone: Bool { customers.allSatisfy { $0.done >= config.operations } }

    func startLiveness() {
        faultsOn = false
        note("liveness: faults off, links healed, every server up")
        for link in cut.sorted(by: { "\($0.a)\($0.b)" < "\($1.a)\($1.b)" }) { cut.remove(link) }
        for node in nodes where servers[node]?.isUp == false {
            servers[node]?.restart()
            scheduleTimer(node)
        }
    }

    /// Nothing stranded: every wallet settled, every coin merchants took credited, the float empty.
    var settled: Bool {
        guard customers.allSatisfy(\.finished) else { return false }
        let merchantsDone = merchantStores.values.allSatisfy { store in store.state.durable.vouchers.values.allSatisfy { $0.redeemedIndex == $0.last.index } }
        return merchantsDone && floats == .zero && held == .zero
    }

    /// Refunds the bank holds for refreshes not yet taken.
    var held: Amount {
        (try? Amount.sum(bankStore.state.durable.balances.filter { if case .refreshHolding = $0.key { true } else { false } }.map(\.value))) ?? .zero
    }

    /// Every voucher float: Ed25519 vouchers' and each blind key's.
    var floats: Amount {
        (try? Amount.sum(bankStore.state.durable.balances.filter { if case .voucherFloat = $0.key { true } else if case .blindFloat = $0.key { true } else { false } }.map(\.value))) ?? .zero
    }

    func strandedReport() -> [String] {
        var lines: [String] = []
        if floats != .zero { lines.append("\(floats) left in the floats") }
        if held != .zero { lines.append("\(held) held for refreshes never taken") }
        for customer in customers {
            if customer.wallet.pendingLoad != nil { lines.append("customer \(customer.index): a load still pending") }
            if !customer.wallet.pendingPayments.isEmpty { lines.append("customer \(customer.index): \(customer.wallet.pendingPayments.count) payments still pending") }
            if !customer.wallet.pendingUnloads.isEmpty { lines.append("customer \(customer.index): \(customer.wallet.pendingUnloads.count) unloads still pending") }
            if customer.wallet.pendingRefresh != nil || !customer.wallet.heldRefunds.isEmpty {
                lines.append("customer \(customer.index): a refresh still pending or a refund still held (\(customer.wallet.heldRefunds.count))")
            }
        }
        for row in bankStore.state.durable.vouchers.values.sorted(by: { $0.commitment.voucherID.raw.hex < $1.commitment.voucherID.raw.hex }) {
            if case .closed = row.state { continue }
            guard row.redeemed.index < row.commitment.length.value else { continue }
            lines.append("voucher \(row.commitment.voucherID) of \(row.account?.value ?? "no account yet") still \(row.state), redeemed to \(row.redeemed.index) of \(row.commitment.length.value)")
        }
        return lines
    }
}
