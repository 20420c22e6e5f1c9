/// Money in integer paise (1 rupee = 100 paise). Never floating point; every operation is
/// overflow-checked and reports overflow as `AMOUNT_OUT_OF_RANGE`.
public struct Amount: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let paise: Int64

    public init(paise: Int64) { self.paise = paise }

    public static let zero = Amount(paise: 0)
    public static let paisePerRupee: Int64 = 100

    /// Whole rupees, overflow-checked.
    public static func rupees(_ rupees: Int64) throws(QuickPayError) -> Amount {
        let (paise, overflow) = rupees.multipliedReportingOverflow(by: paisePerRupee)
        guard !overflow else { throw QuickPayError(.amountOutOfRange, "Rs \(rupees) does not fit in paise") }
        return Amount(paise: paise)
    }

    public func adding(_ other: Amount) throws(QuickPayError) -> Amount {
        let (sum, overflow) = paise.addingReportingOverflow(other.paise)
        guard !overflow else { throw QuickPayError(.amountOutOfRange, "\(self) + \(other) overflows") }
        return Amount(paise: sum)
    }

    public func subtracting(_ other: Amount) throws(QuickPayError) -> Amount {
        let (difference, overflow) = paise.subtractingReportingOverflow(other.paise)
        guard !overflow else { throw QuickPayError(.amountOutOfRange, "\(self) - \(other) overflows") }
        return Amount(paise: difference)
    }

    public func multiplied(by count: Int64) throws(QuickPayError) -> Amount {
        let (product, overflow) = paise.multipliedReportingOverflow(by: count)
        guard !overflow else { throw QuickPayError(.amountOutOfRange, "\(self) x \(count) overflows") }
        return Amount(paise: product)
    }

    /// The sum of many amounts, overflow-checked.
    public static func sum(_ amounts: some Sequence<Amount>) throws(QuickPayError) -> Amount {
        var total = Amount.zero
        for amount in amounts { total = try total.adding(amount) }
        return total
    }

    public static func < (lhs: Amount, rhs: Amount) -> Bool { lhs.paise < rhs.paise }

    /// `Rs 12.05`, `-Rs 0.50`.
    public var description: String {
        let sign = paise < 0 ? "-" : ""
        let magnitude = paise.magnitude
        let rupees = magnitude / 100
        let rest = magnitude % 100
        return "\(sign)Rs \(rupees).\(rest < 10 ? "0" : "")\(rest)"
    }
}

/// The paper's transfer limits: one transfer (a load, an unload, a withdrawal) moves at least
/// Re 1 and at most Rs 1000.
public enum TransferLimits {
    public static let minimum = Amount(paise: 100)
    public static let maximum = Amount(paise: 100_000)

    /// Throws `LIMIT_EXCEEDED` unless `minimum <= amount <= maximum`.
    public static func check(_ amount: Amount) throws(QuickPayError) {
        guard amount >= minimum else {
            throw QuickPayError(.limitExceeded, "\(amount) is below the minimum transfer of \(minimum)")
        }
        guard amount <= maximum else {
            throw QuickPayError(.limitExceeded, "\(amount) is above the maximum transfer of \(maximum)")
        }
    }
}
