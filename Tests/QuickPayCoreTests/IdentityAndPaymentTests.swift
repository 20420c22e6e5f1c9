import Testing
@testable import QuickPayCore

struct IdentityTests {
    @Test func shapesAreEnforced() {
        #expect(thrownCode { _ = try Username("alice") } == nil)
        #expect(thrownCode { _ = try Username("al") } == .malformed)
        #expect(thrownCode { _ = try Username("Alice") } == .malformed)
        #expect(thrownCode { _ = try Password("short") } == .malformed)
        #expect(thrownCode { _ = try Password(String(repeating: "x", count: 129)) } == .malformed)
        #expect(thrownCode { _ = try PhoneNumber("+919876543210") } == nil)
        #expect(thrownCode { _ = try PhoneNumber("919876543210") } == .malformed)
        #expect(thrownCode { _ = try PhoneNumber("+91-98765") } == .malformed)
        #expect(thrownCode { _ = try AccountID("ACC-001") } == nil)
        #expect(thrownCode { _ = try AccountID("") } == .malformed)
        #expect(thrownCode { _ = try ReceiverID("merchant.a_1-x") } == nil)
        #expect(thrownCode { _ = try ReceiverID("merchant a") } == .malformed)
        #expect(thrownCode { _ = try ReceiverID(String(repeating: "m", count: 33)) } == .malformed)
        #expect(thrownCode { _ = try OneTimeCode("12345a") } == .malformed)
        #expect(thrownCode { _ = try OneTimeCode("1234567") } == .malformed)
    }

    @Test func secretsNeverShowInDescriptions() throws {
        #expect(try Password("hunter2-hunter2").description == "<password>")
        #expect(try OneTimeCode("123456").description == "<otp>")
        #expect(!SessionToken(Bytes16(high: 0xdead_beef, low: 1)).description.contains("deadbeef"))
    }

    @Test func oneTimeCodesAreSixDigitsAndSpreadEvenly() {
        var generator = SeededGenerator(seed: 5)
        var firstDigitCounts = [Int](repeating: 0, count: 10)
        let draws = 20_000
        for _ in 0..<draws {
            let code = OneTimeCode.random(using: &generator)
            #expect(code.digits.utf8.count == 6)
            firstDigitCounts[Int(code.digits.utf8.first! - UInt8(ascii: "0"))] += 1
        }
        // Each leading digit expects 2,000 draws; 5 standard deviations is about +-212.
        for count in firstDigitCounts { #expect(abs(count - draws / 10) < 250) }
    }

    @Test func errorCodesHaveStableUniqueNamesAndNumbers() {
        #expect(Set(ErrorCode.allCases.map(\.name)).count == ErrorCode.allCases.count)
        #expect(ErrorCode.malformed.rawValue == 1 && ErrorCode.replayedCoin.rawValue == 2 && ErrorCode.internal.rawValue == 28)
        for code in ErrorCode.allCases { #expect(ErrorCode(name: code.name) == code) }
        #expect(ErrorCode(name: "NOPE") == nil)
    }
}

struct PaymentShapeTests {
    var generator = SeededGenerator(seed: 11)

    func coin(_ voucher: VoucherID, _ index: Int = 1) -> Coin {
        Coin(voucherID: voucher, index: index, value: .zero)
    }

    @Test mutating func severalVouchersMayPayTogether() throws {
        let ids = (0..<4).map { _ in VoucherID.random(using: &generator) }
        let payment = try Payment(coins: ids.map { coin($0) })
        #expect(payment.coins.count == 4)
    }

    @Test mutating func shapeRulesAreEnforced() {
        let a = VoucherID.random(using: &generator)
        let b = VoucherID.random(using: &generator)
        #expect(thrownCode { _ = try Payment(coins: []) } == .malformed)
        #expect(thrownCode { _ = try Payment(coins: [coin(a, 1), coin(a, 2)]) } == .malformed)
        let many = (0...Payment.maximumCoins).map { _ in coin(VoucherID.random(using: &generator)) }
        #expect(thrownCode { _ = try Payment(coins: many) } == .malformed)
        #expect(thrownCode { _ = try Payment(coins: [coin(a)], order: String(repeating: "x", count: 257)) } == .malformed)
        let fixture = VoucherFixture()
        // A voucher attached that no coin spends.
        #expect(thrownCode { _ = try Payment(coins: [coin(b)], vouchers: [fixture.voucher]) } == .malformed)
        #expect(thrownCode { _ = try Payment(coins: [coin(fixture.voucher.id)], vouchers: [fixture.voucher]) } == nil)
    }
}
