import Testing
@testable import QuickPayCore

struct AmountTests {
    /// Values near the edges of Int64 as well as ordinary ones.
    static func samples(count: Int, seed: UInt64) -> [Int64] {
        var generator = SeededGenerator(seed: seed)
        let edges: [Int64] = [0, 1, -1, 100, .max, .min, .max - 1, .min + 1, .max / 2, .min / 2, .max / 100, .max / 100 + 1]
        return edges + (0..<count).map { position in
            switch position % 3 {
            case 0: Int64.random(in: .min ... .max, using: &generator)
            case 1: Int64.random(in: -1_000_000...1_000_000, using: &generator)
            default: Int64.max - Int64.random(in: 0...1000, using: &generator)
            }
        }
    }

    @Test func additionNeverOverflowsSilently() {
        let values = Self.samples(count: 300, seed: 1)
        for a in values {
            for b in values.prefix(60) {
                let (expected, overflow) = a.addingReportingOverflow(b)
                let result = Result { () throws(QuickPayError) in try Amount(paise: a).adding(Amount(paise: b)) }
                switch result {
                case .success(let sum): #expect(!overflow && sum.paise == expected)
                case .failure(let error): #expect(overflow && error.code == .amountOutOfRange)
                }
            }
        }
    }

    @Test func subtractionNeverOverflowsSilently() {
        let values = Self.samples(count: 300, seed: 2)
        for a in values {
            for b in values.prefix(60) {
                let (expected, overflow) = a.subtractingReportingOverflow(b)
                let result = Result { () throws(QuickPayError) in try Amount(paise: a).subtracting(Amount(paise: b)) }
                switch result {
                case .success(let difference): #expect(!overflow && difference.paise == expected)
                case .failure(let error): #expect(overflow && error.code == .amountOutOfRange)
                }
            }
        }
    }

    @Test func multiplicationNeverOverflowsSilently() {
        let values = Self.samples(count: 300, seed: 3)
        for a in values {
            for count in [0, 1, 2, 5, 10, 50, 1000, Int64.max, -1] + values.prefix(20) {
                let (expected, overflow) = a.multipliedReportingOverflow(by: count)
                let result = Result { () throws(QuickPayError) in try Amount(paise: a).multiplied(by: count) }
                switch result {
                case .success(let product): #expect(!overflow && product.paise == expected)
                case .failure(let error): #expect(overflow && error.code == .amountOutOfRange)
                }
            }
        }
    }

    @Test func sumOfManyOverflowsOnlyWhenTheTotalDoes() throws {
        #expect(thrownCode { _ = try Amount.sum([Amount(paise: .max), Amount(paise: 1)]) } == .amountOutOfRange)
        #expect(try Amount.sum([Amount(paise: .max), Amount(paise: -1), Amount(paise: 1)]) == Amount(paise: .max))
        #expect(try Amount.sum((1...100).map { Amount(paise: Int64($0)) }) == Amount(paise: 5050))
    }

    @Test func rupeesConvertToPaiseWithOverflowCheck() throws {
        #expect(try Amount.rupees(37) == Amount(paise: 3700))
        #expect(thrownCode { _ = try Amount.rupees(.max / 10) } == .amountOutOfRange)
    }

    @Test func descriptionShowsRupeesAndPaise() {
        #expect(Amount(paise: 3705).description == "Rs 37.05")
        #expect(Amount(paise: -50).description == "-Rs 0.50")
        #expect(Amount(paise: Int64.min).description == "-Rs 92233720368547758.08")
    }

    @Test func denominationValues() throws {
        #expect(Denomination.allCases.map(\.rupees) == [1, 5, 10, 50])
        #expect(Denomination.rs50.value == Amount(paise: 5000))
        #expect(try Denomination.rs10.value(ofCoins: 7) == Amount(paise: 7000))
        #expect(Denomination(rupees: 2) == nil)
    }

    @Test func transferLimitsAreOneToOneThousandRupees() {
        #expect(thrownCode { try TransferLimits.check(Amount(paise: 99)) } == .limitExceeded)
        #expect(thrownCode { try TransferLimits.check(Amount(paise: 100)) } == nil)
        #expect(thrownCode { try TransferLimits.check(Amount(paise: 100_000)) } == nil)
        #expect(thrownCode { try TransferLimits.check(Amount(paise: 100_001)) } == .limitExceeded)
        #expect(thrownCode { try TransferLimits.check(Amount(paise: -500)) } == .limitExceeded)
    }
}
