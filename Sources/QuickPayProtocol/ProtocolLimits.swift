/// The wire's limits, in one place (docs/PROTOCOL.md, "Limits").
public enum ProtocolLimits {
    /// The only envelope version this build speaks.
    public static let version: UInt32 = 1
    /// Frames above this are refused before decoding (DESIGN.md: 64 KiB default).
    public static let defaultMaximumFrameBytes = 64 * 1024
    public static let maximumErrorMessageBytes = 512
}
