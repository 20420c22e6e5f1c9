import Foundation
import GRDB
import QuickPayActors
import QuickPayCore
import QuickPayProtocol
import Testing
@testable import QuickPayStore

func temporaryPath(_ name: String) -> String {
    let folder = NSTemporaryDirectory() + "quickpay-store-\(UUID().uuidString)"
    return "\(folder)/\(name)"
}


struct SQLiteBankStoreTests {
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
            var bank = BankActor(store: store, signer: signer, random: SplitMix64(seed: 2))
            let request = Envelope(requestID: RequestID(Bytes16(high: 1, low: 2)), body: .bankLoad(LoadRequest(
                account: alice, receiverID: shop, chains: [ChainRequest(denomination: .rs5, length: chain.length, root: chain.root, ownerKey: owner.publicKey)])))
            guard case .reply(_, let reply)? = bank.handle(request, from: ClientID([1]), now: Timestamp(secondsSinceEpoch: 1_800_000_000)).first,
                case .loadReply(let answer) = reply.body
            else { Issue.record("no load reply"); return }
            loaded = answer.vouchers
        }
        // A new process opens the same file: the debit, the voucher row and the cached reply are there.
        let reopened = try SQLiteBankStore(path: path)
        #expect(try reopened.balance(.bank(alice)) == Amount(paise: 95_000))
        #expect(try reopened.balance(.voucherFloat) == Amount(paise: 5_000))
        let row = try #require(try reopened.voucher(loaded[0].id))
        #expect(row.commitment == loaded[0].commitment)
        #expect(row.redeemed == .root(chain.root))
        let cached = try #require(try reopened.cachedReply(RequestID(Bytes16(high: 1, low: 2))))
        #expect(cached.reply == .loadReply(LoadReply(vouchers: loaded, debited: Amount(paise: 5_000))))
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
        #expect(throws: (any Error).self) { try store.commit(batch) }
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
        for state in [BankVoucherState.open, .closing(refundAt: Timestamp(secondsSinceEpoch: 5), destination: .quickPayBalance, unloadID: .random(using: &generator)), .closed(refunded: Amount(paise: 250))] {
            var batch = BankBatch()
            let row = BankVoucher(commitment: commitment, account: alice, redeemed: ChainPosition(index: 2, value: chain.element(at: 2)), state: state)
            batch.vouchers = [row]
            try store.commit(batch)
            #expect(try store.voucher(commitment.voucherID) == row)
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
            #expect(applied == (["bank", "merchant"].contains(name) ? ["v1", "v2-replies-in-row-order"] : ["v1"]), "\(name)")
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
        let cached = CachedReply(requestDigest: .zero, reply: .ack)
        do {
            let pool = try DatabasePool(path: path)
            try SQLiteMerchantStore.migrator.migrate(pool, upTo: "v1")
            try pool.write { db in try ReplyCache.store(db, key, cached) }
        }
        let store = try SQLiteMerchantStore(path: path)
        #expect(try store.cachedReply(key) == cached)
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
        do {
            var batch = MerchantBatch()
            batch.vouchers = [row]
            batch.reply = (RequestID(Bytes16(high: 7, low: 7)), CachedReply(requestDigest: .zero, reply: .ack))
            try SQLiteMerchantStore(path: merchantPath).commit(batch)
        }
        let merchant = try SQLiteMerchantStore(path: merchantPath)
        #expect(try merchant.voucher(voucher.id) == row)
        #expect(try merchant.unredeemed(limit: 10).map(\.id) == [voucher.id])
        #expect(try merchant.cachedReply(RequestID(Bytes16(high: 7, low: 7)))?.reply == .ack)

        let walletPath = temporaryPath("wallet.sqlite")
        let entry = WalletVoucher(voucher: voucher, seed: chain.seed, ownerSeed: ownerSeed, spent: 3, lastReceipt: 3)
        try SQLiteWalletStore(path: walletPath).save([entry])
        let attributes = try FileManager.default.attributesOfItem(atPath: walletPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try SQLiteWalletStore(path: walletPath).load().vouchers[voucher.id] == entry)
    }
}

struct SQLiteNetworkProviderStoreTests {
    @Test func undeliveredSMSSurviveARestartAndLeaveOnce() throws {
        let path = temporaryPath("nsp.sqlite")
        let phone = try PhoneNumber("+919800000001")
        let sms = SmsDelivery(smsID: Bytes16(high: 1, low: 1), phone: phone, text: "QuickPay code 123456")
        do {
            var batch = NetworkProviderBatch()
            batch.enqueue = [sms]
            batch.records = [SmsRecord(smsID: sms.smsID, phone: phone, delivered: false, fault: nil)]
            try SQLiteNetworkProviderStore(path: path).commit(batch)
        }
        let store = try SQLiteNetworkProviderStore(path: path)
        #expect(try store.queued(for: phone) == [sms])
        var delivered = NetworkProviderBatch()
        delivered.delivered = [sms.smsID]
        try store.commit(delivered)
        #expect(try store.queued(for: phone).isEmpty)
        #expect(try store.report(limit: 10) == [SmsRecord(smsID: sms.smsID, phone: phone, delivered: true, fault: nil)])
    }
}

/// Group commit: many steps, one transaction; each step still atomic on its own.
struct GroupCommitTests {
    func posting(_ alice: AccountID, _ paise: Int64) -> BankBatch {
        var batch = BankBatch()
        batch.postings = [Posting(from: .bank(alice), to: .voucherFloat, amount: Amount(paise: paise))]
        return batch
    }

    @Test func stepsInAGroupSeeEachOtherAndAFailedStepRollsBackAlone() throws {
        let path = temporaryPath("bank.sqlite")
        let store = try SQLiteBankStore(path: path)
        let alice = try AccountID("ACC-ALICE")
        try store.seed(alice, deposit: Amount(paise: 1000), receiver: nil)
        try store.inGroup {
            try store.commit(posting(alice, 300))
            // The next step reads what the first wrote, inside the same transaction.
            #expect(try store.balance(.bank(alice)) == Amount(paise: 700))
            // A step that would overdraw fails alone.
            #expect(throws: (any Error).self) { try store.commit(posting(alice, 800)) }
            try store.commit(posting(alice, 200))
        }
        // Durable: a second connection (another process) sees both good steps.
        let reopened = try SQLiteBankStore(path: path)
        #expect(try reopened.balance(.bank(alice)) == Amount(paise: 500))
        #expect(try reopened.balance(.voucherFloat) == Amount(paise: 500))
    }

    @Test func aGroupThatFailsLeavesNothing() throws {
        let path = temporaryPath("bank.sqlite")
        let store = try SQLiteBankStore(path: path)
        let alice = try AccountID("ACC-ALICE")
        try store.seed(alice, deposit: Amount(paise: 1000), receiver: nil)
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try store.inGroup {
                try store.commit(posting(alice, 300))
                try store.commit(posting(alice, 100))
                throw Stop()
            }
        }
        #expect(try SQLiteBankStore(path: path).balance(.bank(alice)) == Amount(paise: 1000))
        #expect(try store.balance(.bank(alice)) == Amount(paise: 1000))
    }
}
