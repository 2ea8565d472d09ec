/// `[dashboard]`: where `walvault serve` listens and where the owner's credentials live. The files
/// hold secrets (a password hash, the TOTP secret, the metrics token), so the config names them
/// and never holds them.
public struct DashboardSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var ownerPasswordFile: String
    public var totpSecretFile: String
    /// The host application's JWT public key (RS256 or ES256, PEM); nil: only owner logins.
    public var jwtPublicKeyFile: String?
    /// The bearer token for `GET /metrics`; nil: no metrics endpoint.
    public var metricsTokenFile: String?
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    public var sampleMinutes: Int
    /// Honour X-Forwarded-For and X-Forwarded-Proto from a reverse proxy in front.
    public var trustedProxy: Bool

    public static let defaultListen = "127.0.0.1:8085"
    public static let defaultOwnerPasswordFile = "/etc/walvault/owner.hash"
    public static let defaultTOTPSecretFile = "/etc/walvault/owner.totp"

    public init(
        host: String = "127.0.0.1", port: Int = 8085, ownerPasswordFile: String = Self.defaultOwnerPasswordFile,
        totpSecretFile: String = Self.defaultTOTPSecretFile, jwtPublicKeyFile: String? = nil, metricsTokenFile: String? = nil,
        tlsCertificateFile: String? = nil, tlsKeyFile: String? = nil, sampleMinutes: Int = 15, trustedProxy: Bool = false
    ) {
        self.host = host
        self.port = port
        self.ownerPasswordFile = ownerPasswordFile
        self.totpSecretFile = totpSecretFile
        self.jwtPublicKeyFile = jwtPublicKeyFile
        self.metricsTokenFile = metricsTokenFile
        self.tlsCertificateFile = tlsCertificateFile
        self.tlsKeyFile = tlsKeyFile
        self.sampleMinutes = sampleMinutes
        self.trustedProxy = trustedProxy
    }

    public var usesTLS: Bool { tlsCertificateFile != nil }

    /// Whether `host` is a loopback address: anything else without TLS is worth a warning.
    public var listensOnLoopback: Bool { host == "127.0.0.1" || host == "::1" || host == "localhost" }

    /// Bytes are compared, not strings: in this module `String.contains(String)` would resolve to
    /// Foundation's and link ICU into archive-push (scripts/check-binary.sh).
    /// `host:port`, `[v6]:port` or `:port`; nil when it is none of them or the port is out of range.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].utf8.contains(UInt8(ascii: ":")) else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port), !host.utf8.contains(UInt8(ascii: " ")) else { return nil }
        return (host.isEmpty ? "0.0.0.0" : String(host), port)
    }
}
