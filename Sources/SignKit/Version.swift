/// The version SignKit reports in `--version`, `/v1/health` and, later, in verification reports.
public enum SignKitVersion {
    public static let string = "0.1.0"
}
