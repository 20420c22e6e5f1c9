/// The coin denominations of the paper: Rs 50, 10, 5 and 1. Each voucher (hash chain) is of
/// one denomination; one coin of it is worth the denomination.
public enum Denomination: Int64, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case rs1 = 1
    case rs5 = 5
    case rs10 = 10
    case rs50 = 50

    /// Whole rupees per coin.
    public var rupees: Int64 { rawValue }

    /// The value of one coin.
    public var value: Amount { Amount(paise: rawValue * Amount.paisePerRupee) }

    /// Looks a denomination up by its rupee value; nil for any other number.
    public init?(rupees: Int64) { self.init(rawValue: rupees) }

    /// The value of `count` coins, overflow-checked.
    public func value(ofCoins count: Int) throws(QuickPayError) -> Amount {
        try value.multiplied(by: Int64(count))
    }

    public static func < (lhs: Denomination, rhs: Denomination) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "Rs \(rawValue)" }
}
