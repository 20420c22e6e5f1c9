import Testing
@testable import QuickPayCore

/// A bank, a chain and a voucher signed by that bank, from a fixed seed.
struct VoucherFixture {
    var generator = SeededGenerator(seed: 42)
    let bank: BankSigner
    let keyring: BankKeyring
    let owner: SigningPrivateKey
    let chain: HashChain
    let voucher: SignedVoucher
    let now = Timestamp(secondsSinceEpoch: 1_800_000_000)
    let merchant = try! ReceiverID("merchant-a")

    init() {
        bank = BankSigner(privateKey: .random(using: &generator))
        keyring = BankKeyring([bank.privateKey.publicKey])
        owner = .random(using: &generator)
        chain = HashChain(seed: .random(using: &generator), length: try! ChainLength(20))
        voucher = bank.sign(
            VoucherCommitment(
                voucherID: .random(using: &generator), receiverID: merchant, denomination: .rs10,
                length: chain.length, root: chain.root, expiry: now.adding(seconds: 3600),
                ownerKey: owner.publicKey, keyID: bank.keyID))
    }

    /// The same voucher commitment with one field changed, keeping the original signature.
    func tampered(_ change: (inout Fields) -> Void) -> SignedVoucher {
        let c = voucher.commitment
        var fields = Fields(
            voucherID: c.voucherID, receiverID: c.receiverID, denomination: c.denomination, length: c.length,
            root: c.root, expiry: c.expiry, ownerKey: c.ownerKey, keyID: c.keyID)
        change(&fields)
        return SignedVoucher(
            commitment: VoucherCommitment(
                voucherID: fields.voucherID, receiverID: fields.receiverID, denomination: fields.denomination,
                length: fields.length, root: fields.root, expiry: fields.expiry, ownerKey: fields.ownerKey, keyID: fields.keyID),
            proof: voucher.proof)
    }

    struct Fields {
        var voucherID: VoucherID
        var receiverID: ReceiverID
        var denomination: Denomination
        var length: ChainLength
        var root: Bytes32
        var expiry: Timestamp
        var ownerKey: SigningPublicKey
        var keyID: KeyID
    }
}

struct VoucherTests {
    var fixture = VoucherFixture()

    @Test func signedVoucherVerifies() {
        #expect(thrownCode { try fixture.voucher.verify(keyring: fixture.keyring, receiver: fixture.merchant, now: fixture.now) } == nil)
        #expect(fixture.voucher.commitment.faceValue == Amount(paise: 20_000))
    }

    @Test(arguments: ["voucherID", "receiverID", "denomination", "length", "root", "expiry", "ownerKey"])
    mutating func everyFieldIsTamperDetected(field: String) {
        var generator = SeededGenerator(seed: 99)
        let forged = fixture.tampered { fields in
            switch field {
            case "voucherID": fields.voucherID = .random(using: &generator)
            case "receiverID": fields.receiverID = try! ReceiverID("merchant-b")
            case "denomination": fields.denomination = .rs50
            case "length": fields.length = try! ChainLength(21)
            case "root": fields.root = .random(using: &generator)
            case "expiry": fields.expiry = fields.expiry.adding(seconds: 1)
            case "ownerKey": fields.ownerKey = SigningPrivateKey.random(using: &generator).publicKey
            default: Issue.record("unknown field \(field)")
            }
        }
        #expect(forged.commitment.signingBytes != fixture.voucher.commitment.signingBytes)
        #expect(thrownCode { try fixture.keyring.verify(forged) } == .badSignature)
    }

    @Test func keyIDNamingAnUntrustedKeyIsRejected() {
        let forged = fixture.tampered { $0.keyID = KeyID([1, 2, 3, 4, 5, 6, 7, 8])! }
        #expect(thrownCode { try fixture.keyring.verify(forged) } == .badSignature)
    }

    @Test mutating func voucherSignedByAnotherBankIsRejected() {
        let rogue = BankSigner(privateKey: .random(using: &fixture.generator))
        let c = fixture.voucher.commitment
        let selfMade = rogue.sign(
            VoucherCommitment(
                voucherID: c.voucherID, receiverID: c.receiverID, denomination: c.denomination, length: c.length,
                root: c.root, expiry: c.expiry, ownerKey: c.ownerKey, keyID: rogue.keyID))
        #expect(thrownCode { try fixture.keyring.verify(selfMade) } == .badSignature)
        // Naming the real bank's key id does not help either.
        let borrowedID = SignedVoucher(
            commitment: VoucherCommitment(
                voucherID: c.voucherID, receiverID: c.receiverID, denomination: c.denomination, length: c.length,
                root: c.root, expiry: c.expiry, ownerKey: c.ownerKey, keyID: fixture.bank.keyID),
            signature: rogue.privateKey.sign(selfMade.commitment.signingBytes))
        #expect(thrownCode { try fixture.keyring.verify(borrowedID) } == .badSignature)
    }

    @Test func voucherForAnotherReceiverIsRejected() {
        #expect(thrownCode { try fixture.voucher.verify(keyring: fixture.keyring, receiver: try ReceiverID("merchant-b"), now: fixture.now) } == .wrongReceiver)
    }

    @Test func expiredVoucherIsRejected() {
        let expiry = fixture.voucher.commitment.expiry
        #expect(thrownCode { try fixture.voucher.verify(keyring: fixture.keyring, receiver: fixture.merchant, now: expiry) } == .expired)
        #expect(thrownCode { try fixture.voucher.verify(keyring: fixture.keyring, receiver: fixture.merchant, now: expiry.adding(seconds: -1)) } == nil)
    }

    @Test func signingBytesHaveTheDocumentedLayout() {
        let bytes = fixture.voucher.commitment.signingBytes
        let label = Array("QuickPay/voucher/v1".utf8) + [0]
        #expect(Array(bytes.prefix(label.count)) == label)
        // label+0, version, scheme, id 16, receiver 1+10, denomination 2, length 2, root 32,
        // expiry 8, owner key 32, key id 8.
        #expect(bytes.count == label.count + 1 + 1 + 16 + 11 + 2 + 2 + 32 + 8 + 32 + 8)
        #expect(bytes[label.count] == 1 && bytes[label.count + 1] == 1)
    }

    @Test func signingIsDeterministic() {
        #expect(fixture.bank.sign(fixture.voucher.commitment) == fixture.voucher)
    }
}

struct ReceiptAndUnloadTests {
    var fixture = VoucherFixture()

    @Test mutating func receiptRootSignatureVerifiesAndTamperingFails() throws {
        let merchantKey = SigningPrivateKey.random(using: &fixture.generator)
        let receiptChain = HashChain(seed: .random(using: &fixture.generator), length: fixture.chain.length)
        let commitment = ReceiptCommitment(voucherID: fixture.voucher.id, receiverID: fixture.merchant, length: receiptChain.length, root: receiptChain.root)
        let signed = SignedReceiptCommitment.sign(commitment, with: merchantKey)
        #expect(thrownCode { try signed.verify() } == nil)
        let moved = SignedReceiptCommitment(
            commitment: ReceiptCommitment(voucherID: fixture.voucher.id, receiverID: fixture.merchant, length: receiptChain.length, root: .random(using: &fixture.generator)),
            merchantKey: signed.merchantKey, signature: signed.signature)
        #expect(thrownCode { try moved.verify() } == .badSignature)
        // A receipt for coin i is r_i and checks with the same verifier as coins.
        let receipt = Receipt(voucherID: fixture.voucher.id, index: 3, value: receiptChain.element(at: 3))
        #expect(try ChainVerifier.verify(receipt.position, after: .root(commitment.root), length: commitment.length) == 3)
    }

    @Test mutating func unloadSignedByTheOwnerKeyVerifies() {
        let request = RequestID.random(using: &fixture.generator)
        let authorization = UnloadAuthorization.sign(unloadID: request, voucherID: fixture.voucher.id, destination: .bankAccount, ownerKey: fixture.owner)
        #expect(thrownCode { try authorization.verify(against: fixture.voucher.commitment) } == nil)
    }

    @Test mutating func unloadSignedByAnyoneElseOrAlteredIsRejected() {
        let request = RequestID.random(using: &fixture.generator)
        let stranger = SigningPrivateKey.random(using: &fixture.generator)
        let forged = UnloadAuthorization.sign(unloadID: request, voucherID: fixture.voucher.id, destination: .bankAccount, ownerKey: stranger)
        #expect(thrownCode { try forged.verify(against: fixture.voucher.commitment) } == .badSignature)
        let genuine = UnloadAuthorization.sign(unloadID: request, voucherID: fixture.voucher.id, destination: .bankAccount, ownerKey: fixture.owner)
        let redirected = UnloadAuthorization(unloadID: request, voucherID: fixture.voucher.id, destination: .quickPayBalance, signature: genuine.signature)
        #expect(thrownCode { try redirected.verify(against: fixture.voucher.commitment) } == .badSignature)
        let replayed = UnloadAuthorization(unloadID: .random(using: &fixture.generator), voucherID: fixture.voucher.id, destination: .bankAccount, signature: genuine.signature)
        #expect(thrownCode { try replayed.verify(against: fixture.voucher.commitment) } == .badSignature)
    }
}
