import JWTKit

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// JWTs as the host application signs them, and as an attacker forges them, for the tests of
/// `jwt_public_key_file`.
public enum TestTokens {
    struct Claims: JWTPayload {
        let sub: SubjectClaim
        let exp: ExpirationClaim
        let role: String

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static func claims(role: String, sub: String, expiresIn: TimeInterval) -> Claims {
        Claims(sub: SubjectClaim(value: sub), exp: ExpirationClaim(value: Date().addingTimeInterval(expiresIn)), role: role)
    }

    public static func rs256(
        role: String, sub: String = "alice@shop.example", expiresIn: TimeInterval = 600, privateKey: String = TestKeys.rsaPrivate
    ) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: privateKey), digestAlgorithm: .sha256)
        return try await keys.sign(claims(role: role, sub: sub, expiresIn: expiresIn))
    }

    public static func es256(role: String, sub: String = "alice@shop.example", expiresIn: TimeInterval = 600) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: TestKeys.ecPrivate))
        return try await keys.sign(claims(role: role, sub: sub, expiresIn: expiresIn))
    }

    struct ClaimsWithoutExpiry: JWTPayload {
        let sub: SubjectClaim
        let role: String

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// Properly signed, but valid for ever: no `exp`.
    public static func rs256WithoutExpiry(role: String = "owner") async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(rsa: try Insecure.RSA.PrivateKey(pem: TestKeys.rsaPrivate), digestAlgorithm: .sha256)
        return try await keys.sign(ClaimsWithoutExpiry(sub: SubjectClaim(value: "alice"), role: role))
    }

    /// The old confusion attack: HS256, keyed with the public key's PEM as the shared secret.
    public static func hs256KeyedWithThePublicKey(role: String = "owner", publicKey: String = TestKeys.rsaPublic) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: publicKey), digestAlgorithm: .sha256)
        return try await keys.sign(claims(role: role, sub: "mallory", expiresIn: 600))
    }

    /// `alg: none` and no signature.
    public static func unsigned(role: String = "owner") -> String {
        func part(_ json: String) -> String {
            Data(json.utf8).base64EncodedString().replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
        }
        let exp = Int(Date().timeIntervalSince1970) + 600
        return part("{\"alg\":\"none\",\"typ\":\"JWT\"}") + "." + part("{\"sub\":\"mallory\",\"exp\":\(exp),\"role\":\"\(role)\"}") + "."
    }
}
