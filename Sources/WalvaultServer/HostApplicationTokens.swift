import JWTKit
import WalvaultKit
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The host application's JWTs (`[dashboard] jwt_public_key_file`): its users are already signed
/// in there, and only its `owner` role may see walvault. jwt-kit checks the signature with the one
/// key configured, whatever the token's header claims, so `alg: none` and an HS256 token keyed
/// with the public key's PEM both fail on the signature; an expired token fails on `exp`, which is
/// required. The role is ours to check: anything but `owner` is authenticated yet forbidden.
public struct HostApplicationTokens: Sendable {
    struct Claims: JWTPayload {
        let sub: SubjectClaim?
        let exp: ExpirationClaim
        let role: String?

        func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
    }

    public enum Verdict: Equatable, Sendable {
        case owner(subject: String)
        /// 401: not a token of the host application's, or no longer valid.
        case invalid(String)
        /// 403: a valid token of another role.
        case forbidden(role: String)
    }

    let keys: JWTKeyCollection
    public let algorithm: String

    /// The PEM public key: RSA (RS256, at least 2048 bits) or P-256 (ES256); anything else is
    /// refused by name at the server's start.
    public static func load(pem: String, path: String) async throws -> HostApplicationTokens {
        let keys = JWTKeyCollection()
        if let rsa = try? Insecure.RSA.PublicKey(pem: pem) {
            await keys.add(rsa: rsa, digestAlgorithm: .sha256)
            return HostApplicationTokens(keys: keys, algorithm: "RS256")
        }
        if let ecdsa = try? ES256PublicKey(pem: pem) {
            await keys.add(ecdsa: ecdsa)
            return HostApplicationTokens(keys: keys, algorithm: "ES256")
        }
        throw CommandError(
            problem: "\(path) (dashboard.jwt_public_key_file) is not an RSA (2048 bits or more) or P-256 public key in PEM",
            fix: "give the host application's public key: -----BEGIN PUBLIC KEY----- … (RS256 or ES256)", errorCode: "config.invalid")
    }

    public static func load(path: String) async throws -> HostApplicationTokens {
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readSmallFile(path, limit: 64 * 1024)
        } catch {
            throw CommandError(
                problem: "cannot read \(path) (dashboard.jwt_public_key_file): \(error)", fix: "check the path and its mode",
                errorCode: "config.invalid")
        }
        return try await load(pem: String(decoding: bytes, as: UTF8.self), path: path)
    }

    public func verify(_ token: String) async -> Verdict {
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch let error as JWTError where error.errorType == .claimVerificationFailure {
            return .invalid("the token has expired")
        } catch {
            return .invalid("the token is not signed with the host application's \(algorithm) key, or has no expiry")
        }
        guard claims.role == "owner" else { return .forbidden(role: claims.role ?? "none") }
        return .owner(subject: claims.sub?.value ?? "owner")
    }
}
