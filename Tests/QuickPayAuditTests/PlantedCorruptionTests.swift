import Crypto
import CryptoExtras
import Foundation
import GRDB
import QuickPayActors
import QuickPayAudit
import QuickPayCore
import QuickPayHostCore
import QuickPayProtocol
import QuickPayStore
import Testing

/// A small deployment's files, made through the real actors, host cores and SQLite stores: alice
/// loads, pays an offline and an online merchant, the offline one redeems, one voucher is
/// unloaded, a user and a session exist; bob loads two blind vouchers for the offline merchant,
/// pays with one (which the merchant redeems) and keeps the other unseen. Each test copies them
/// and plants one corruption.
final class Deployment: @unchecked Sendable {
    static let shared = try! Deployment()
    let folder: String
    let deposits: Int64 = 200_000

    init() throws {
        folder = NSTemporaryDirectory() + "quickpay-audit-\(UUID().uuidString.prefix(8))"
        let t0 = Timestamp(secondsSinceEpoch: 1_800_000_000)
        let time = HostTime(milliseconds: 0, now: t0)
        let codec = WireCodec()
        var g = SplitMix64(seed: 77)
        let bankStore = try SQLiteBankStore(path: "\(folder)/data/bank/bank.sqlite")
        let alice = try AccountID("ACC-ALICE"), chai = try ReceiverID("chai-stall"), news = try ReceiverID("news-stand")
        try bankStore.seed(alice, deposit: Amount(paise: 150_000), receiver: nil, phone: try PhoneNumber("+919800000001"))
        try bankStore.seed(try AccountID("ACC-BOB"), deposit: Amount(paise: 50_000), receiver: nil, phone: try PhoneNumber("+919800000002"))
        try bankStore.seed(try AccountID("ACC-CHAI"), deposit: .zero, receiver: (chai, .offline))
        try bankStore.seed(try AccountID("ACC-NEWS"), deposit: .zero, receiver: (news, .online))
        let signer = BankSigner(privateKey: .random(using: &g))
        // One blind key: Rs 5 x 10.
        let rsa = try _RSA.BlindSigning.PrivateKey<SHA384>(keySize: .bits2048)
        let primitives = try rsa.publicKey.getKeyPrimitives()
        let blindKey = BlindKey(
            denomination: .rs5, length: try ChainLength(10), validFrom: t0.adding(seconds: -60), validUntil: t0.adding(seconds: 86_400),
            expiry: t0.adding(seconds: 30 * 86_400), publicKey: BlindRSA.PublicKey(modulus: Array(primitives.modulus), exponent: Array(primitives.publicExponent)))
        let blindList = try BlindKeyList.sign([blindKey], issuedAt: t0, with: signer.privateKey)
        try bankStore.registerBlindKeys(blindList.keys)
        var bank = HostCore(
            actor: BankActor(
                store: bankStore, signer: signer, blind: try BlindSigner(list: blindList, privateKeysPEM: [rsa.pemRepresentation]), random: SplitMix64(seed: 78)),
            journal: bankStore)
        let merchantStore = try SQLiteMerchantStore(path: "\(folder)/data/merchant-chai-stall/merchant.sqlite")
        var merchant = HostCore(actor: MerchantActor(
            store: merchantStore, config: MerchantConfig(receiverID: chai, mode: .offline), bankKey: signer.privateKey.publicKey, blindKeys: blindList,
            receiptKey: .random(using: &g), random: SplitMix64(seed: 79)), journal: merchantStore)
        func ask<A: ServerActor>(_ core: inout HostCore<A>, _ body: Body, from client: ClientID = ClientID([1])) throws -> Body {
            let drained = core.drain([.request(client, codec.encode(Envelope(requestID: .random(using: &g), body: body)))], at: time)
            for case .toClient(_, let frame) in drained.frames { return try codec.decode(frame).body }
            throw QuickPayError(.internal, "no answer")
        }
        var chains: [(HashChain, SigningPrivateKey, SignedVoucher)] = []
        for receiver in [chai, chai, news] {
            let chain = HashChain(seed: .random(using: &g), length: try ChainLength(10))
            let owner = SigningPrivateKey.random(using: &g)
            guard case .loadReply(let loaded) = try ask(&bank, .bankLoad(LoadRequest(account: alice, receiverID: receiver, chains: [
                ChainRequest(denomination: .rs10, length: chain.length, root: chain.root, ownerKey: owner.publicKey)]))) else { throw QuickPayError(.internal, "load") }
            chains.append((chain, owner, loaded.vouchers[0]))
        }
        for (chain, _, voucher) in chains.prefix(2) {
            for index in [2, 5] {
                _ = try ask(&merchant, .payment(try Payment(coins: [Coin(voucherID: voucher.id, index: index, value: chain.element(at: index))], vouchers: [voucher])))
            }
        }
        // The offline merchant redeems its first voucher's last coin.
        _ = try ask(&bank, .redeem(Redeem(receiverID: chai, coins: [Coin(voucherID: chains[0].2.id, index: 5, value: chains[0].0.element(at: 5))], mode: .offline)))
        try merchantStore.inGroup {
            var row = try merchantStore.voucher(chains[0].2.id)!
            row.redeemedIndex = 5
            var batch = MerchantBatch()
            batch.vouchers = [row]
            try merchantStore.stage(batch)
        }
        // The online merchant's coins are marked at the bank; then alice unloads that voucher.
        let (newsChain, newsOwner, newsVoucher) = chains[2]
        _ = try ask(&bank, .verifyCoins(VerifyCoins(receiverID: news, coins: [Coin(voucherID: newsVoucher.id, index: 3, value: newsChain.element(at: 3))], vouchers: [], mode: .online)))
        _ = try ask(&bank, .bankUnload(UnloadRequest(account: alice, authorization: UnloadAuthorization.sign(
            unloadID: .random(using: &g), voucherID: newsVoucher.id, destination: .bankAccount, ownerKey: newsOwner))))
        // Bob's blind load of two vouchers; one pays 4 coins at the offline merchant, which redeems
        // it (the bank first sees it then); the other stays unseen.
        let bob = try AccountID("ACC-BOB")
        var blindChains: [(HashChain, BlindVoucherRequest)] = []
        for _ in 0..<2 {
            let chain = HashChain(seed: .random(using: &g), length: blindKey.length)
            let request = try BlindVoucherRequest(
                key: blindKey, receiver: chai, root: chain.root, ownerKey: SigningPrivateKey.random(using: &g).publicKey, secret: .random(using: &g))
            blindChains.append((chain, request))
        }
        guard case .loadReply(let blindLoaded) = try ask(&bank, .bankLoad(LoadRequest(
            account: bob, content: .blinded(blindChains.map { BlindedChain(keyID: blindKey.keyID, blindedMessage: $0.1.blindedMessage) })))) else {
            throw QuickPayError(.internal, "blind load")
        }
        let blindVoucher = try blindChains[0].1.finalize(blindLoaded.blindSignatures[0])
        _ = try ask(&merchant, .payment(try Payment(coins: [Coin(voucherID: blindVoucher.id, index: 4, value: blindChains[0].0.element(at: 4))], vouchers: [blindVoucher])))
        guard case .redeemReply(let redeemed) = try ask(&bank, .redeem(Redeem(
            receiverID: chai, coins: [Coin(voucherID: blindVoucher.id, index: 4, value: blindChains[0].0.element(at: 4))], mode: .offline, vouchers: [blindVoucher])),
            from: ClientID([2])), redeemed.totalCredited == Amount(paise: 2000) else { throw QuickPayError(.internal, "blind redeem") }
        try merchantStore.inGroup {
            var row = try merchantStore.voucher(blindVoucher.id)!
            row.redeemedIndex = 4
            var batch = MerchantBatch()
            batch.vouchers = [row]
            try merchantStore.stage(batch)
        }
        let appStore = try SQLiteAppServerStore(path: "\(folder)/data/appserver/appserver.sqlite")
        var batch = AppServerBatch()
        batch.users = [UserRecord(
            username: try Username("alice"), passwordHash: PasswordHasher(rounds: 1000).hash(try Password("correct horse"), salt: .random(using: &g)),
            phone: try PhoneNumber("+919800000001"), account: alice, role: .customer)]
        batch.sessions = [SessionRecord(tokenHash: .random(using: &g), username: try Username("alice"), expiresAt: t0.adding(seconds: 3600))]
        batch.challenges = [ChallengeRecord(id: ChallengeID(.random(using: &g)), username: try Username("alice"), codeMAC: .random(using: &g), expiresAt: t0, tries: 1, used: true, sentAt: t0, resends: 0)]
        try appStore.inGroup { try appStore.stage(batch) }
        try bankStore.checkpoint()
    }

    /// A copy of the files, to corrupt.
    func copy() throws -> String {
        let target = NSTemporaryDirectory() + "quickpay-audit-copy-\(UUID().uuidString.prefix(8))"
        try FileManager.default.copyItem(atPath: folder, toPath: target)
        return target
    }
}

struct PlantedCorruptionTests {
    func audit(_ folder: String) throws -> Auditor.Report {
        var data = try SQLiteEvidence.read(SQLiteEvidence.find(in: [folder]))
        data.expectedDepositsPaise = Deployment.shared.deposits
        data.nowSeconds = 1_800_000_000
        return Auditor.audit(data)
    }

    func sql(_ folder: String, _ file: String, _ statements: String) throws {
        let queue = try DatabaseQueue(path: "\(folder)/data/\(file)")
        try queue.write { try $0.execute(sql: statements) }
    }

    @Test func theCleanFilesPassEveryCheck() throws {
        let report = try audit(try Deployment.shared.copy())
        #expect(report.holds, "\(report.text)")
        #expect(report.checks.count == 12)
    }

    /// Every kind of planted corruption is caught, by the check named for it.
    @Test(arguments: [
        ("a journal entry changed", "bank/bank.sqlite", "UPDATE ledger_entries SET amount = amount + 100 WHERE id = (SELECT MAX(id) FROM ledger_entries)", "balances-match-journal"),
        ("a journal entry deleted", "bank/bank.sqlite", "DELETE FROM ledger_entries WHERE id = (SELECT MAX(id) FROM ledger_entries)", "balances-match-journal"),
        ("a balance nudged by one paisa", "bank/bank.sqlite", "UPDATE ledger_balances SET balance = balance + 1 WHERE account = 'bank:ACC-BOB'", "ledger-sums-to-zero"),
        ("a balance taken below zero", "bank/bank.sqlite", """
            INSERT INTO ledger_entries (debit, credit, amount) VALUES ('bank:ACC-BOB', 'bank:ACC-ALICE', 60000);
            UPDATE ledger_balances SET balance = balance - 60000 WHERE account = 'bank:ACC-BOB';
            UPDATE ledger_balances SET balance = balance + 60000 WHERE account = 'bank:ACC-ALICE'
            """, "no-negative-balance"),
        ("money minted from the deposits account", "bank/bank.sqlite", """
            INSERT INTO ledger_entries (debit, credit, amount) VALUES ('external:deposits', 'bank:ACC-BOB', 100);
            UPDATE ledger_balances SET balance = balance - 100 WHERE account = 'external:deposits';
            UPDATE ledger_balances SET balance = balance + 100 WHERE account = 'bank:ACC-BOB'
            """, "conservation"),
        ("a redeemed index lowered", "bank/bank.sqlite", "UPDATE vouchers SET redeemed_index = redeemed_index - 1 WHERE receiver = 'chai-stall' AND redeemed_index > 0", "float-matches-vouchers"),
        ("a closed voucher reopened", "bank/bank.sqlite", "UPDATE vouchers SET state = 0 WHERE state = 2", "voucher-credit-at-most-face"),
        ("a refund doubled", "bank/bank.sqlite", "UPDATE vouchers SET refunded = refunded * 2 WHERE state = 2", "voucher-credit-at-most-face"),
        ("a merchant credited without coins", "bank/bank.sqlite", """
            INSERT INTO ledger_entries (debit, credit, amount) VALUES ('float:vouchers', 'qp:ACC-CHAI', 1000);
            UPDATE ledger_balances SET balance = balance - 1000 WHERE account = 'float:vouchers';
            UPDATE ledger_balances SET balance = balance + 1000 WHERE account = 'qp:ACC-CHAI'
            """, "merchants-credited-for-coins"),
        ("a voucher's coins credited twice", "bank/bank.sqlite", """
            INSERT INTO ledger_entries (debit, credit, amount) SELECT debit, credit, amount FROM ledger_entries WHERE credit = 'qp:ACC-CHAI';
            UPDATE ledger_balances SET balance = balance + (SELECT SUM(amount) FROM ledger_entries WHERE credit = 'qp:ACC-CHAI') / 2 WHERE account = 'qp:ACC-CHAI';
            UPDATE ledger_balances SET balance = balance - (SELECT SUM(amount) FROM ledger_entries WHERE credit = 'qp:ACC-CHAI') / 2 WHERE account = 'float:vouchers'
            """, "merchants-credited-for-coins"),
        ("one chain behind two vouchers", "bank/bank.sqlite", """
            DROP INDEX vouchers_root;
            UPDATE vouchers SET root = (SELECT root FROM vouchers WHERE scheme = 1 ORDER BY id LIMIT 1) WHERE id = (SELECT id FROM vouchers WHERE scheme = 1 ORDER BY id LIMIT 1 OFFSET 1)
            """, "unique-roots"),
        ("a merchant row behind its coins at the bank", "merchant-chai-stall/merchant.sqlite", "UPDATE vouchers SET last_index = 4, redeemed_index = 4 WHERE redeemed_index = 5", "merchants-hold-what-the-bank-credited"),
        ("a merchant holding a voucher the bank never issued", "merchant-chai-stall/merchant.sqlite", "UPDATE vouchers SET id = randomblob(16) WHERE redeemed_index = 0", "merchants-hold-what-the-bank-credited"),
        // Two loaded, one seen: a second one seen is the unseen one as far as anyone can tell; a
        // third is a voucher no load paid for.
        ("blind vouchers beyond the loads", "bank/bank.sqlite", """
            INSERT INTO vouchers (id, account, scheme, receiver, denomination, length, root, expiry, owner_key, key_id, redeemed_index, redeemed_value, state)
              SELECT randomblob(16), NULL, 2, receiver, denomination, length, randomblob(32), expiry, owner_key, key_id, 0, randomblob(32), 0
              FROM vouchers, (SELECT 1 UNION ALL SELECT 2) WHERE scheme = 2
            """, "blind-floats-match-loads"),
        ("a blind key's float paid out with no voucher", "bank/bank.sqlite", """
            INSERT INTO ledger_entries (debit, credit, amount) SELECT account, 'bank:ACC-BOB', 500 FROM ledger_balances WHERE account LIKE 'float:key:%';
            UPDATE ledger_balances SET balance = balance - 500 WHERE account LIKE 'float:key:%';
            UPDATE ledger_balances SET balance = balance + 500 WHERE account = 'bank:ACC-BOB'
            """, "blind-floats-match-loads"),
        ("a blind voucher's redeemed index lowered", "bank/bank.sqlite", "UPDATE vouchers SET redeemed_index = redeemed_index - 1 WHERE scheme = 2", "blind-floats-match-loads"),
        ("a merchant holding a blind voucher redeemed that the bank never saw", "merchant-chai-stall/merchant.sqlite", "UPDATE vouchers SET id = randomblob(16) WHERE scheme = 2", "merchants-hold-what-the-bank-credited"),
        ("a session of an unknown user", "appserver/appserver.sqlite", "INSERT INTO sessions (token_hash, username, expires_at) VALUES (randomblob(32), 'ghost', 1900000000)", "app-server-consistent"),
        ("a live session of a locked-out user", "appserver/appserver.sqlite", "UPDATE users SET locked_until = 1800000900 WHERE username = 'alice'", "app-server-consistent"),
        ("a user on an account the bank does not hold", "appserver/appserver.sqlite", "UPDATE users SET account = 'ACC-NOBODY'", "app-server-consistent"),
        ("a user whose phone is not the bank's phone for the account", "appserver/appserver.sqlite", "UPDATE users SET phone = '+919899999999' WHERE username = 'alice'", "app-server-consistent"),
        ("the bank's phones of record erased", "bank/bank.sqlite", "UPDATE accounts SET phone = NULL", "app-server-consistent"),
    ])
    func aPlantedCorruptionIsCaughtByName(_ name: String, _ file: String, _ statements: String, _ check: String) throws {
        let folder = try Deployment.shared.copy()
        try sql(folder, file, statements)
        let report = try audit(folder)
        #expect(report.failed.map(\.name).contains(check), "\(name): \(report.text)")
    }
}

/// `quickpay audit` itself, the executable: exit 0 on clean files, 1 naming the failed check.
struct AuditCommandTests {
    func quickpay(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = root.appendingPathComponent(".build/debug/quickpay")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func theCommandPassesCleanFilesAndFailsACorruptedOne() throws {
        let folder = try Deployment.shared.copy()
        let clean = try quickpay(["audit", folder, "--deposits-rupees", "2000", "--now", "1800000000"])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.output.contains("12 of 12 checks hold"), "\(clean.output)")
        let queue = try DatabaseQueue(path: "\(folder)/data/bank/bank.sqlite")
        try queue.write { try $0.execute(sql: "UPDATE ledger_balances SET balance = balance + 1 WHERE account = 'bank:ACC-BOB'") }
        let corrupted = try quickpay(["audit", folder, "--deposits-rupees", "2000", "--now", "1800000000"])
        #expect(corrupted.status == 1, "\(corrupted.output)")
        #expect(corrupted.output.contains("FAIL ledger-sums-to-zero"), "\(corrupted.output)")
    }
}
