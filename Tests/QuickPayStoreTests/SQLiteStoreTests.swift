import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import Testing
@testable import QuickPayStore

extension Journal {
    /// Commits one batch alone, as a group would.
    func commitAlone(_ batch: Batch) throws { try inGroup { try stage(batch) } }
}

let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)

/// One request through a host core, its group committed: the answer.
func ask<A: ServerActor>(_ core: inout HostCore<A>, _ body: Body, id: RequestID, from client: ClientID = ClientID([1]), at now: Timestamp = t0, milliseconds: Int64 = 0) throws -> Body {
    let codec = WireCodec()
    let drained = core.drain([.request(client, codec.encode(Envelope(requestID: id, body: body)))], at: HostTime(milliseconds: milliseconds, now: now))
    for case .toClient(_, let frame) in drained.frames { return try codec.decode(frame).body }
    throw QuickPayError(.unavailable, "no answer")
}

func temporaryPath(_ name: String) -> String {
    let folder = NSTemporaryDirectory() + "quickpay-store-\(UUID().uuidString)"
    return "\(folder)/\(name)"
}


/// Every actor's and wallet's writer commits with `synchronous = FULL`: the log is synced
/// before a commit returns, so nothing is answered that a power cut could take back. (GRDB's
/// pool sets NORMAL on its writer when it turns WAL on, after the connection's own set-up ran:
/// until 2026-12-06 every store committed so.)
struct DurabilityTests {
    func synchronous(_ pool: DatabasePool) throws -> Int? {
        try pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
    }

    @Test func everyStoresWriterSyncsEachCommit() throws {
        let full = 2
        #expect(try synchronous(try SQLite.open(path: temporaryPath("plain.sqlite"), migrator: DatabaseMigrator())) == full)
        #expect(try synchronous(try SQLiteBankStore(path: temporaryPath("bank.sqlite")).database.pool) == full)
        #expect(try synchronous(try SQLiteMerchantStore(path: temporaryPath("merchant.sqlite")).database.pool) == full)
        #expect(try synchronous(try SQLiteAppServerStore(path: temporaryPath("appserver.sqlite")).database.pool) == full)
        #expect(try synchronous(try SQLiteNetworkProviderStore(path: temporaryPath("nsp.sqlite")).database.pool) == full)
        #expect(try synchronous(try SQLiteWalletStore(path: temporaryPath("wallet.sqlite")).pool) == full)
    }
}

/// SQLite's process-wide set-up (`SQLite.processSetUp`, before the first connection): once it has
/// taken, SQLite keeps no memory statistics (and no global mutex on each allocation). Run alone,
/// the set-up comes first and takes; in a process where SQLite was in use before, it does not,
/// and SQLite counts: either way the two agree.
struct SQLiteSetUpTests {
    @Test func sqliteKeepsNoMemoryStatisticsOnceTheProcessIsSetUp() throws {
        let pool = try SQLite.open(path: temporaryPath("mode.sqlite"), migrator: DatabaseMigrator())
        try pool.write { db in try db.execute(sql: "CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(10000))") }
        #expect(SQLite.countsMemory == !SQLite.processSetUp, "set up: \(SQLite.processSetUp), counts memory: \(SQLite.countsMemory)")
    }
}

struct SQLiteBankStoreTests {
    /// A receiver's mode that is neither online nor offline is a corrupt file, said so: not read
    /// as offline (an online merchant taken for offline would have its vouchers settled with it,
    /// though the bank marked every coin already).
    @Test func aReceiverWithAnUnknownModeIsCorruptionNotOffline() throws {
        let store = try SQLiteBankStore(path: temporaryPath("bank.sqlite"))
        let shop = try ReceiverID("news-stand")
        try store.seed(try AccountID("ACC-NEWS"), deposit: .zero, receiver: (shop, .online))
        #expect(try store.receiver(shop)?.mode == .online)
        try store.database.pool.write { db in try db.execute(sql: "UPDATE receivers SET mode = 'onlin' WHERE id = ?", arguments: [shop.value]) }
        #expect(throws: DatabaseCorruption.self) { try store.receiver(shop) }
        #expect(throws: DatabaseCorruption.self) { try store.allReceivers() }
    }

    @Test func aLoadSurvivesCloseAndReopen() throws {
        let path = temporaryPath("bank.sqlite")
        let alice = try AccountID("ACC-ALICE")
        let shop = try ReceiverID("chai-stall")
        var generator = SplitMix64(seed: 1)
        let signer = BankSigner(privateKey: .random(using: &generator))
        let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(10))
        let owner = SigningPrivateKey.random(using: &generator)
        var loaded: [SignedVoucher] = []
        do {
            let store = try SQLiteBankStore(path: path)
            try store.seed(alice, deposit: Amount(paise: 100_000), receiver: nil)
            try store.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (shop, .offline))
            var bank = HostCore(actor: BankActor(store: store, signer: signer, random: SplitMix64(seed: 2)), journal: store)
            let request = Body.bankLoad(LoadRequest(
                account: alice, receiverID: shop, chains: [ChainRequest(denomination: .rs5, length: chain.length, root: chain.root, ownerKey: owner.publicKey)]))
            guard case .loadReply(let answer) = try ask(&bank, request, id: RequestID(Bytes16(high: 1, low: 2))) else { Issue.record("no load reply"); return }
            loaded = answer.vouchers
        }
        // A new process opens the same file: the debit, the voucher row and the kept answer are there.
        let reopened = try SQLiteBankStore(path: path)
        #expect(try reopened.balance(.bank(alice)) == Amount(paise: 95_000))
        #expect(try reopened.balance(.voucherFloat) == Amount(paise: 5_000))
        let row = try #require(try reopened.voucher(loaded[0].id))
        #expect(row.commitment == loaded[0].commitment)
        #expect(row.redeemed == .root(chain.root))
        let kept = try #require(try reopened.answer(for: AnswerKey(scope: 0, requestID: RequestID(Bytes16(high: 1, low: 2)))))
        #expect(kept.answer == .loadReply(LoadReply(vouchers: loaded, debited: Amount(paise: 5_000))))
        #expect(kept.permanent)
        // Seeding again changes nothing.
        try reopened.seed(alice, deposit: Amount(paise: 100_000), receiver: nil)
        #expect(try reopened.balance(.bank(alice)) == Amount(paise: 95_000))
    }

    @Test func aCommitThatWouldOverdrawRollsBackWhole() throws {
        let store = try SQLiteBankStore(path: temporaryPath("bank.sqlite"))
        let alice = try AccountID("ACC-ALICE")
        try store.seed(alice, deposit: Amount(paise: 1000), receiver: nil)
        var batch = BankBatch()
        batch.postings = [
            Posting(from: .bank(alice), to: .voucherFloat, amount: Amount(paise: 600)),
            Posting(from: .bank(alice), to: .voucherFloat, amount: Amount(paise: 600)),
        ]
        batch.creditedCodes = [.zero]
        #expect(throws: (any Error).self) { try store.commitAlone(batch) }
        #expect(try store.balance(.bank(alice)) == Amount(paise: 1000))
        #expect(try store.balance(.voucherFloat) == .zero)
        #expect(try store.isCodeCredited(.zero) == false)
    }

    @Test func voucherStatesRoundTrip() throws {
        let store = try SQLiteBankStore(path: temporaryPath("bank.sqlite"))
        var generator = SplitMix64(seed: 3)
        let alice = try AccountID("ACC-ALICE")
        try store.seed(alice, deposit: .zero, receiver: nil)
        let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(4))
        let commitment = VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: try ReceiverID("m"), denomination: .rs50, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: 99), ownerKey: SigningPrivateKey.random(using: &generator).publicKey,
            keyID: SigningPrivateKey.random(using: &generator).publicKey.keyID)
        let unloadID = RequestID.random(using: &generator)
        // Rs 50 x 4 coins, 2 redeemed: a closed voucher refunds the other 2 (Rs 100).
        for state in [BankVoucherState.open, .closing(refundAt: Timestamp(secondsSinceEpoch: 5), destination: .quickPayBalance, unloadID: unloadID), .closed(refunded: Amount(paise: 10_000), unloadID: unloadID)] {
            var batch = BankBatch()
            let row = BankVoucher(commitment: commitment, account: alice, redeemed: ChainPosition(index: 2, value: chain.element(at: 2)), state: state)
            batch.vouchers = [row]
            try store.commitAlone(batch)
            #expect(try store.voucher(commitment.voucherID) == row)
        }
        // A blind voucher first seen at a redemption (no account yet), then closed with no unload
        // id: through the by-id read (SQLite's C API) and the list read (GRDB rows) alike.
        let blind = VoucherCommitment(
            scheme: .blindRSA, voucherID: .random(using: &generator), receiverID: try ReceiverID("m"), denomination: .rs10, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: 99), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: KeyID([1, 2, 3, 4, 5, 6, 7, 8])!)
        for state in [BankVoucherState.open, .closed(refunded: .zero, unloadID: nil)] {
            var batch = BankBatch()
            let row = BankVoucher(commitment: blind, account: nil, redeemed: ChainPosition(index: 4, value: chain.element(at: 4)), state: state)
            batch.vouchers = [row]
            try store.commitAlone(batch)
            #expect(try store.voucher(blind.voucherID) == row)
            #expect(try store.allVouchers().first { $0.commitment.voucherID == blind.voucherID } == row)
        }
        // The store refuses illegal moves: a closed voucher reopened, an index that goes back.
        for illegal in [
            BankVoucher(commitment: commitment, account: alice, redeemed: ChainPosition(index: 2, value: chain.element(at: 2)), state: .open),
            BankVoucher(commitment: commitment, account: alice, redeemed: ChainPosition(index: 1, value: chain.element(at: 1)), state: .closed(refunded: Amount(paise: 15_000), unloadID: unloadID)),
        ] {
            var batch = BankBatch()
            batch.vouchers = [illegal]
            #expect(throws: (any Error).self) { try store.commitAlone(batch) }
        }
    }
}

struct MigrationTests {
    @Test func migrationsRunOnAnEmptyAndOnAnExistingFile() throws {
        for (name, open) in [
            ("bank", { (path: String) throws in _ = try SQLiteBankStore(path: path) }),
            ("merchant", { path in _ = try SQLiteMerchantStore(path: path) }),
            ("appserver", { path in _ = try SQLiteAppServerStore(path: path) }),
            ("wallet", { path in _ = try SQLiteWalletStore(path: path) }),
            ("nsp", { path in _ = try SQLiteNetworkProviderStore(path: path) }),
        ] as [(String, (String) throws -> Void)] {
            let path = temporaryPath("\(name).sqlite")
            try open(path)  // empty file: creates the schema
            try open(path)  // existing file: nothing to do, nothing lost
            let pool = try DatabasePool(path: path)
            let applied = try pool.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }
            let expected = [
                "bank": ["v1", "v2-replies-in-row-order", "v3-answers-unique-roots", "v4-phone-of-record", "v5-blind-vouchers", "v6-blind-roots-may-repeat"],
                "merchant": ["v1", "v2-replies-in-row-order", "v3-answers", "v4-voucher-scheme"],
                "appserver": ["v1", "v2-answers", "v3-challenge-used-by", "v4-owners", "v5-login-locks", "v6-expiry-indexes"], "wallet": ["v1", "v2-pending", "v3-last-receipt-value"], "nsp": ["v1", "v2-answers", "v3-sealed-sms"],
            ]
            #expect(applied == expected[name], "\(name)")
            let journal = try pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(journal == "wal", "\(name)")
        }
    }
}

struct ReplyMigrationTests {
    /// A merchant file of the first schema keeps its cached answers through the v2 migration.
    @Test func answersCachedBeforeTheMigrationAreStillThere() throws {
        let path = temporaryPath("merchant.sqlite")
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let key = RequestID(Bytes16(high: 7, low: 7))
        do {
            let pool = try DatabasePool(path: path)
            try SQLiteMerchantStore.migrator.migrate(pool, upTo: "v1")
            try pool.write { db in
                try db.execute(sql: "INSERT INTO replies (request_id, digest, reply) VALUES (?, ?, ?)", arguments: [key.raw.data, Bytes32.zero.data, Data(Body.ack.serializedBytes())])
            }
        }
        let store = try SQLiteMerchantStore(path: path)
        let kept = try #require(try store.answer(for: AnswerKey(scope: 0, requestID: key)))
        #expect(kept.answer == .ack)
        #expect(kept.digest == Bytes16(high: 0, low: 0))
        #expect(!kept.permanent)
    }
}

struct SQLiteMerchantAndWalletTests {
    @Test func merchantAndWalletStateSurviveReopen() throws {
        var generator = SplitMix64(seed: 4)
        let signer = BankSigner(privateKey: .random(using: &generator))
        let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(8))
        let ownerSeed = Bytes32.random(using: &generator)
        let voucher = signer.sign(VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: try ReceiverID("shop"), denomination: .rs10, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: 2_000_000_000), ownerKey: SigningPrivateKey(seed: ownerSeed).publicKey, keyID: signer.keyID))
        let merchantPath = temporaryPath("merchant.sqlite")
        let row = MerchantVoucher(voucher: voucher, last: ChainPosition(index: 3, value: chain.element(at: 3)), redeemedIndex: 1, receiptSeed: .random(using: &generator), closed: false)
        let key = AnswerKey(scope: 0, requestID: RequestID(Bytes16(high: 7, low: 7)))
        do {
            let store = try SQLiteMerchantStore(path: merchantPath)
            var batch = MerchantBatch()
            batch.vouchers = [row]
            try store.inGroup {
                try store.stage(batch)
                try store.stageAnswer(AnswerRecord(key: key, digest: Bytes16(high: 0, low: 0), answer: .ack, outcome: .done, permanent: false, createdAt: t0))
            }
        }
        let merchant = try SQLiteMerchantStore(path: merchantPath)
        #expect(try merchant.voucher(voucher.id) == row)
        #expect(try merchant.unredeemed(limit: 10).map(\.id) == [voucher.id])
        #expect(try merchant.answer(for: key)?.answer == .ack)

        let walletPath = temporaryPath("wallet.sqlite")
        let entry = WalletVoucher(voucher: voucher, seed: chain.seed, ownerSeed: ownerSeed, spent: 3, lastReceipt: 3, lastReceiptValue: chain.element(at: 3))
        try SQLiteWalletStore(path: walletPath).save([entry])
        let attributes = try FileManager.default.attributesOfItem(atPath: walletPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try SQLiteWalletStore(path: walletPath).load().vouchers[voucher.id] == entry)

        // Pending operations are saved with the wallet and come back whole.
        var wallet = try SQLiteWalletStore(path: walletPath).load()
        let prepared = try Wallet.prepareLoad(counts: [.rs5: 3], using: &generator)
        wallet.pendingLoad = PendingLoad(requestID: .random(using: &generator), receiver: try ReceiverID("shop"), chains: prepared, state: .unknown)
        let plan = try wallet.planPayment(to: try ReceiverID("shop"), amount: Amount(paise: 2000), now: t0)
        wallet.pendingPayments[try ReceiverID("shop")] = PendingPayment(requestID: .random(using: &generator), receiver: try ReceiverID("shop"), plan: plan, state: .unknown)
        wallet.pendingUnloads[voucher.id] = PendingUnload(voucherID: voucher.id, unloadID: .random(using: &generator), destination: .bankAccount, state: .unknown, pendingUntil: t0)
        try SQLiteWalletStore(path: walletPath).save(wallet)
        let reloaded = try SQLiteWalletStore(path: walletPath).load()
        #expect(reloaded.pendingLoad == wallet.pendingLoad)
        #expect(reloaded.pendingPayments == wallet.pendingPayments)
        #expect(reloaded.pendingUnloads == wallet.pendingUnloads)
    }
}

/// The answer table through SQLite's C API (`RawStatement`): every field of a record comes back
/// as it went in, a second record under the same key replaces the first, and other keys find
/// nothing.
struct AnswerTableTests {
    @Test func everyFieldOfAnAnswerRecordRoundTrips() throws {
        let path = temporaryPath("answers.sqlite")
        let store = try SQLiteMerchantStore(path: path)
        let callerScope = AnswerKey(scope: 0xFEDC_BA98_7654_3210, requestID: RequestID(Bytes16(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10)))
        let global = AnswerKey(scope: 0, requestID: callerScope.requestID)
        let frame = WireCodec().encode(Envelope(requestID: global.requestID, body: .ack))
        let records = [
            AnswerRecord(key: callerScope, digest: Bytes16(high: .max, low: 1), answer: nil, outcome: .refused(.insufficientFunds), permanent: true, createdAt: t0),
            AnswerRecord(key: global, digest: Bytes16(high: 2, low: .max), answer: .ack, outcome: .done, permanent: false, createdAt: t0.adding(seconds: 5), encodedAnswer: frame),
        ]
        try store.inGroup { for record in records { try store.stageAnswer(record) } }
        let reopened = try SQLiteMerchantStore(path: path)
        #expect(try reopened.answer(for: callerScope) == records[0])
        #expect(try reopened.answer(for: global) == records[1])
        // The frame that carried the answer is what is kept, byte for byte.
        let kept = try DatabaseQueue(path: path).read { db in
            try Data.fetchOne(db, sql: "SELECT answer FROM answers WHERE scope = 0 AND request_id = ?", arguments: [global.requestID.raw.data])
        }
        #expect(kept.map { Array($0) } == frame)
        #expect(try reopened.answer(for: AnswerKey(scope: 1, requestID: global.requestID)) == nil)
        let replaced = AnswerRecord(key: global, digest: Bytes16(high: 3, low: 3), answer: .error(QuickPayError(.conflict, "x", origin: .merchant)), outcome: .refused(.conflict), permanent: false, createdAt: t0)
        try reopened.inGroup { try reopened.stageAnswer(replaced) }
        #expect(try reopened.answer(for: global) == replaced)
        #expect(try reopened.answerCount() == 2)
    }
}

/// Payments on one voucher within a group write its row once, at the group's end, with the
/// last position; reads inside the group see every step; a failed group writes nothing.
struct CoalescedPositionTests {
    @Test func aVoucherPaidManyTimesInAGroupIsWrittenOnce() throws {
        var generator = SplitMix64(seed: 91)
        let signer = BankSigner(privateKey: .random(using: &generator))
        let chain = HashChain(seed: .random(using: &generator), length: try ChainLength(10))
        let voucher = signer.sign(VoucherCommitment(
            voucherID: .random(using: &generator), receiverID: try ReceiverID("shop"), denomination: .rs1, length: chain.length, root: chain.root,
            expiry: Timestamp(secondsSinceEpoch: 2_000_000_000), ownerKey: SigningPrivateKey.random(using: &generator).publicKey, keyID: signer.keyID))
        let path = temporaryPath("coalesce.sqlite")
        let store = try SQLiteMerchantStore(path: path)
        func row(_ index: Int, redeemed: Int = 0) -> MerchantVoucher {
            MerchantVoucher(voucher: voucher, last: ChainPosition(index: index, value: chain.element(at: index)), redeemedIndex: redeemed, receiptSeed: .zero, closed: false)
        }
        func batch(_ rows: MerchantVoucher...) -> MerchantBatch {
            var batch = MerchantBatch()
            batch.vouchers = rows
            return batch
        }
        try store.inGroup { try store.stage(batch(row(1))) }  // first sight: inserted
        let before = store.positionWrites
        try store.inGroup {
            for index in 2...6 {
                try store.stage(batch(row(index)))
                #expect(try store.voucher(voucher.id)?.last.index == index, "a later step of the group reads what an earlier one staged")
            }
            #expect(try store.unredeemed(limit: 10).first?.last.index == 6, "SQL inside the group sees the staged positions")
        }
        #expect(store.positionWrites - before <= 2, "five payments on one voucher: at most one write for the read and one at the end")
        #expect(try SQLiteMerchantStore(path: path).voucher(voucher.id) == row(6))
        // A group that fails writes nothing, and the cache keeps the committed row.
        struct Planted: Error {}
        #expect(throws: Planted.self) {
            try store.inGroup {
                try store.stage(batch(row(7)))
                throw Planted()
            }
        }
        #expect(try store.voucher(voucher.id) == row(6))
        #expect(try SQLiteMerchantStore(path: path).voucher(voucher.id) == row(6))
        // Without reads in between: exactly one write for many payments.
        let quiet = store.positionWrites
        try store.inGroup { for index in 7...9 { try store.stage(batch(row(index))) } }
        #expect(store.positionWrites - quiet == 1)
        #expect(try SQLiteMerchantStore(path: path).voucher(voucher.id) == row(9))
    }
}

struct SQLiteNetworkProviderStoreTests {
    @Test func undeliveredSMSSurviveARestartAndLeaveOnce() throws {
        let path = temporaryPath("nsp.sqlite")
        let phone = try PhoneNumber("+919800000001")
        let sim = SimCard(phone: phone, secret: Bytes32.sha256(of: Array("a SIM".utf8)))
        let smsID = Bytes16(high: 1, low: 1)
        let sms = QueuedSms(smsID: smsID, phone: phone, sealed: try sim.seal("QuickPay code 123456", smsID: smsID))
        do {
            var batch = NetworkProviderBatch()
            batch.enqueue = [sms]
            batch.records = [SmsRecord(smsID: sms.smsID, phone: phone, delivered: false, fault: nil)]
            try SQLiteNetworkProviderStore(path: path).commitAlone(batch)
        }
        let store = try SQLiteNetworkProviderStore(path: path)
        #expect(try store.queued(for: phone) == [sms])
        #expect(try store.queued(for: phone).first.flatMap { sim.open($0.sealed, smsID: $0.smsID) } == "QuickPay code 123456")
        var delivered = NetworkProviderBatch()
        delivered.delivered = [sms.smsID]
        try store.commitAlone(delivered)
        #expect(try store.queued(for: phone).isEmpty)
        #expect(try store.report(limit: 10) == [SmsRecord(smsID: sms.smsID, phone: phone, delivered: true, fault: nil)])
    }

    /// ATTACKS 30: whoever reads the provider's files finds no code; the files are the owner's alone.
    @Test func aQueuedCodeIsNotReadableAtRest() throws {
        let folder = temporaryPath("nsp-at-rest")
        let path = "\(folder)/nsp.sqlite"
        let phone = try PhoneNumber("+919800000001")
        let sim = SimCard(phone: phone, secret: Bytes32.sha256(of: Array("a SIM".utf8)))
        let store = try SQLiteNetworkProviderStore(path: path)
        var batch = NetworkProviderBatch()
        for n in 0..<20 {
            let smsID = Bytes16(high: 2, low: UInt64(n))
            batch.enqueue.append(QueuedSms(smsID: smsID, phone: phone, sealed: try sim.seal("QuickPay code 9876\(String(format: "%02d", n)) for login ABCD", smsID: smsID)))
        }
        try store.commitAlone(batch)
        var bytes: [UInt8] = []
        for file in [path, path + "-wal"] { bytes += (FileManager.default.contents(atPath: file).map(Array.init) ?? []) }
        #expect(bytes.count > 4096)
        let text = String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        #expect(!text.contains("9876"))
        #expect(!text.contains("QuickPay code"))
        // A planted plaintext row is found by the same search: the search can fail.
        let plantedPath = temporaryPath("nsp-planted.sqlite")
        let planted = try SQLiteNetworkProviderStore(path: plantedPath)
        var plain = NetworkProviderBatch()
        plain.enqueue = [QueuedSms(smsID: Bytes16(high: 3, low: 3), phone: phone, sealed: Array("QuickPay code 987600".utf8))]
        try planted.commitAlone(plain)
        let plantedBytes = [plantedPath, plantedPath + "-wal"].flatMap { FileManager.default.contents(atPath: $0).map(Array.init) ?? [] }
        #expect(String(decoding: plantedBytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains("987600"))
        for file in [path, path + "-wal"] where FileManager.default.fileExists(atPath: file) {
            let mode = (try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == 0o600, "\(file) has mode \(String(mode, radix: 8))")
        }
        let folderMode = (try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        #expect(folderMode == 0o700)
    }
}

/// Group commit: many steps, one transaction, all of it or none of it.
struct GroupCommitTests {
    func posting(_ alice: AccountID, _ paise: Int64) -> BankBatch {
        var batch = BankBatch()
        batch.postings = [Posting(from: .bank(alice), to: .voucherFloat, amount: Amount(paise: paise))]
        return batch
    }

    @Test func stepsInAGroupSeeEachOtherAndCommitTogether() throws {
        let path = temporaryPath("bank.sqlite")
        let store = try SQLiteBankStore(path: path)
        let alice = try AccountID("ACC-ALICE")
        try store.seed(alice, deposit: Amount(paise: 1000), receiver: nil)
        try store.inGroup {
            try store.stage(posting(alice, 300))
            // The next step reads what the first wrote, inside the same transaction.
            #expect(try store.balance(.bank(alice)) == Amount(paise: 700))
            try store.stage(posting(alice, 200))
        }
        // Durable: a second connection (another process) sees both steps.
        let reopened = try SQLiteBankStore(path: path)
        #expect(try reopened.balance(.bank(alice)) == Amount(paise: 500))
        #expect(try reopened.balance(.voucherFloat) == Amount(paise: 500))
    }

    /// A batch the store refuses (an overdraft) fails the group: the host then answers every
    /// request of it UNAVAILABLE, and none of it is left.
    @Test func aRefusedBatchOrAFailedGroupLeavesNothing() throws {
        let path = temporaryPath("bank.sqlite")
        let store = try SQLiteBankStore(path: path)
        let alice = try AccountID("ACC-ALICE")
        try store.seed(alice, deposit: Amount(paise: 1000), receiver: nil)
        #expect(throws: (any Error).self) {
            try store.inGroup {
                try store.stage(posting(alice, 300))
                try store.stage(posting(alice, 800))
            }
        }
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try store.inGroup {
                try store.stage(posting(alice, 300))
                throw Stop()
            }
        }
        #expect(try SQLiteBankStore(path: path).balance(.bank(alice)) == Amount(paise: 1000))
        #expect(try store.balance(.bank(alice)) == Amount(paise: 1000))
    }

    @Test func nothingIsStagedOutsideAGroup() throws {
        let store = try SQLiteBankStore(path: temporaryPath("bank.sqlite"))
        let alice = try AccountID("ACC-ALICE")
        try store.seed(alice, deposit: Amount(paise: 1000), receiver: nil)
        #expect(throws: (any Error).self) { try store.stage(posting(alice, 300)) }
    }
}

/// Request ids that move money take effect once at any age (defect 2 of "Effects, not calls").
struct PermanentRequestIDTests {
    struct Bank {
        var core: HostCore<BankActor>
        let store: SQLiteBankStore
        let alice = try! AccountID("ACC-ALICE")
        let shop = try! ReceiverID("chai-stall")
        var generator = SplitMix64(seed: 21)

        init(path: String) throws {
            store = try SQLiteBankStore(path: path)
            try store.seed(alice, deposit: Amount(paise: 100_000), receiver: nil)
            try store.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (shop, .offline))
            var keys = SplitMix64(seed: 20)
            core = HostCore(actor: BankActor(store: store, signer: BankSigner(privateKey: .random(using: &keys)), random: SplitMix64(seed: 22)), journal: store)
        }

        mutating func load(_ chain: HashChain, owner: SigningPrivateKey) -> Body {
            .bankLoad(LoadRequest(account: alice, receiverID: shop, chains: [ChainRequest(denomination: .rs10, length: chain.length, root: chain.root, ownerKey: owner.publicKey)]))
        }
    }

    /// A load resumed two days later, after its answer was pruned: the same vouchers, debited once.
    @Test func aLoadRetriedPastRetentionIsDebitedOnce() throws {
        var bank = try Bank(path: temporaryPath("bank.sqlite"))
        let chain = HashChain(seed: .random(using: &bank.generator), length: try ChainLength(5))
        let owner = SigningPrivateKey.random(using: &bank.generator)
        let id = RequestID(Bytes16(high: 7, low: 7))
        guard case .loadReply(let first) = try ask(&bank.core, bank.load(chain, owner: owner), id: id) else { Issue.record("no load"); return }
        // Two days on, the retention prune runs.
        let later = t0.adding(seconds: 2 * 86_400)
        _ = bank.core.advance(to: HostTime(milliseconds: 0, now: later))
        _ = bank.core.advance(to: HostTime(milliseconds: 5_000, now: later))
        #expect(try bank.store.answer(for: AnswerKey(scope: 0, requestID: id))?.answer == nil, "the answer is still kept: nothing was pruned")
        guard case .loadReply(let again) = try ask(&bank.core, bank.load(chain, owner: owner), id: id, at: later, milliseconds: 6_000) else {
            Issue.record("the retry was not answered with the vouchers")
            return
        }
        #expect(again.vouchers.map(\.commitment) == first.vouchers.map(\.commitment))
        #expect(try bank.store.balance(.bank(bank.alice)) == Amount(paise: 95_000), "debited twice")
        #expect(try bank.store.allVouchers().count == 1)
    }

    /// One chain, two request ids: the second is refused, nothing signed twice.
    @Test func aRootIsSignedOnce() throws {
        var bank = try Bank(path: temporaryPath("bank.sqlite"))
        let chain = HashChain(seed: .random(using: &bank.generator), length: try ChainLength(5))
        let owner = SigningPrivateKey.random(using: &bank.generator)
        _ = try ask(&bank.core, bank.load(chain, owner: owner), id: RequestID(Bytes16(high: 1, low: 1)))
        let second = try ask(&bank.core, bank.load(chain, owner: owner), id: RequestID(Bytes16(high: 2, low: 2)))
        guard case .error(let error) = second else { Issue.record("the same root was loaded twice"); return }
        #expect(error.code == .conflict)
        #expect(try bank.store.allVouchers().count == 1)
        #expect(try bank.store.balance(.bank(bank.alice)) == Amount(paise: 95_000))
        // The store's own index refuses a second row on one root, whatever the actor does.
        var row = try #require(try bank.store.allVouchers().first)
        row = BankVoucher(
            commitment: VoucherCommitment(
                voucherID: .random(using: &bank.generator), receiverID: row.commitment.receiverID, denomination: row.commitment.denomination,
                length: row.commitment.length, root: row.commitment.root, expiry: row.commitment.expiry, ownerKey: row.commitment.ownerKey, keyID: row.commitment.keyID),
            account: row.account, redeemed: row.redeemed, state: .open)
        var batch = BankBatch()
        batch.vouchers = [row]
        #expect(throws: (any Error).self) { try bank.store.commitAlone(batch) }
    }

    /// Seeding cannot change a receiver's mode behind the operator's back.
    @Test func reseedingWithAnotherModeIsRefused() throws {
        let store = try SQLiteBankStore(path: temporaryPath("bank.sqlite"))
        let shop = try ReceiverID("chai-stall")
        try store.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (shop, .offline))
        try store.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (shop, .offline))
        #expect(throws: SeedConflict.self) { try store.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (shop, .online)) }
        #expect(try store.receiver(shop)?.mode == .offline)
    }
}

/// Wrong passwords per (client key, username) survive a restart, a cleared count is gone, and
/// a record quiet for a day, its lockout over, is forgotten.
struct SQLiteLoginLockTests {
    @Test func aLockIsKeptAcrossReopeningAndAClearedOneRemoved() throws {
        let path = temporaryPath("appserver.sqlite")
        let key = Bytes32.sha256(of: Array("a client key".utf8))
        let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
        var batch = AppServerBatch()
        batch.loginLocks = [LoginLockRecord(keyHash: key, username: "alice", failures: 0, lockouts: 1, until: t0.adding(seconds: 900), lastFailure: t0)]
        try SQLiteAppServerStore(path: path).commitAlone(batch)
        let reopened = try SQLiteAppServerStore(path: path)
        #expect(try reopened.loginLock(keyHash: key, username: "alice") == batch.loginLocks[0])
        #expect(try reopened.loginLock(keyHash: key, username: "bob") == nil)
        batch.loginLocks = [LoginLockRecord(keyHash: key, username: "alice", failures: 0, lockouts: 0, until: nil, lastFailure: t0)]
        try reopened.commitAlone(batch)
        #expect(try SQLiteAppServerStore(path: path).loginLock(keyHash: key, username: "alice") == nil)
    }

    @Test func aQuietRecordIsForgottenAndALiveLockoutKept() throws {
        let store = try SQLiteAppServerStore(path: temporaryPath("appserver.sqlite"))
        let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let key = Bytes32.sha256(of: Array("a client key".utf8))
        var batch = AppServerBatch()
        batch.loginLocks = [
            LoginLockRecord(keyHash: key, username: "quiet", failures: 3, lockouts: 0, until: nil, lastFailure: t0),
            LoginLockRecord(keyHash: key, username: "locked", failures: 0, lockouts: 5, until: t0.adding(seconds: 3 * 86_400), lastFailure: t0),
            LoginLockRecord(keyHash: key, username: "recent", failures: 2, lockouts: 0, until: nil, lastFailure: t0.adding(seconds: 86_000)),
        ]
        try store.commitAlone(batch)
        var forget = AppServerBatch()
        forget.forgetLoginLocksBefore = t0.adding(seconds: 3600)
        try store.commitAlone(forget)
        #expect(try store.loginLock(keyHash: key, username: "quiet") == nil)
        #expect(try store.loginLock(keyHash: key, username: "locked") != nil)
        #expect(try store.loginLock(keyHash: key, username: "recent") != nil)
    }

    /// Each login leaves a challenge and a session: expired ones go (sessions at once,
    /// challenges after their retention), a thousand at a time, live ones stay.
    @Test func expiredSessionsAndChallengesAreDeleted() throws {
        let store = try SQLiteAppServerStore(path: temporaryPath("appserver.sqlite"))
        let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let user = try Username("alice")
        var batch = AppServerBatch()
        for index in 0..<1_005 {
            batch.sessions.append(SessionRecord(tokenHash: Bytes32.sha256(of: Array("s\(index)".utf8)), username: user, expiresAt: t0.adding(seconds: Int64(index % 2 == 0 ? -10 : 600))))
        }
        for index in 0..<4 {
            batch.challenges.append(ChallengeRecord(
                id: ChallengeID(Bytes16(high: 7, low: UInt64(index))), username: user, codeMAC: .zero, expiresAt: t0.adding(seconds: Int64(index < 2 ? -7200 : 60)),
                tries: 0, used: false, sentAt: t0, resends: 0))
        }
        try store.commitAlone(batch)
        #expect(try store.allSessions().count == 1_005)
        var forget = AppServerBatch()
        forget.forgetExpired = (sessionsBefore: t0, challengesBefore: t0.adding(seconds: -3600))
        try store.commitAlone(forget)
        #expect(try store.allSessions().count == 502, "503 expired, the 502 live kept")
        #expect(try store.allSessions().allSatisfy { $0.expiresAt > t0 })
        #expect(try store.allChallenges().map(\.id.raw.low).sorted() == [2, 3], "the two expired before the retention go")
    }

}
