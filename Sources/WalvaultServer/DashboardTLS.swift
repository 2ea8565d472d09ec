import HummingbirdTLS
import NIOSSL
import WalvaultConfig
import WalvaultKit

/// `tls_certificate_file` and `tls_key_file`: read and tried once at start, so that a wrong path,
/// a key that is not the certificate's or an unreadable file stops `walvault serve` with one line
/// instead of failing every browser's handshake later.
public enum DashboardTLS {
    public static func configuration(_ settings: DashboardSettings) throws -> TLSConfiguration? {
        guard let certificateFile = settings.tlsCertificateFile, let keyFile = settings.tlsKeyFile else { return nil }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw refusal(
                "[dashboard] tls_certificate_file \(certificateFile): cannot be read as a PEM certificate chain",
                "check that it exists, that the server's user can read it and that it begins with -----BEGIN CERTIFICATE-----")
        }
        guard !chain.isEmpty else {
            throw refusal("[dashboard] tls_certificate_file \(certificateFile): holds no certificate", "give the PEM file of the certificate chain")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            // Never the key's bytes: only its path.
            throw refusal(
                "[dashboard] tls_key_file \(keyFile): cannot be read as an unencrypted PEM private key",
                "check that it exists, that only the server's user can read it and that it has no passphrase")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        do {
            _ = try NIOSSLContext(configuration: tls)
        } catch {
            throw refusal(
                "[dashboard] tls_key_file \(keyFile) is not the private key of tls_certificate_file \(certificateFile)",
                "give the key the certificate was issued for")
        }
        return tls
    }

    private static func refusal(_ problem: String, _ fix: String) -> CommandError {
        CommandError(problem: problem, fix: fix, errorCode: "config.invalid")
    }
}
