import Testing
import WalvaultKit
import WalvaultServer
import WalvaultTesting

/// The host application's JWTs, both key kinds: only a valid, unexpired token of role `owner`
/// gets in; every other role is forbidden; forgeries and expired tokens are not tokens at all.
@Suite struct HostApplicationTokensTests {
    static let nonOwnerRoles = ["admin", "moderator", "user", "viewer"]

    @Test func anRS256OwnerGetsInAndEveryOtherRoleIsForbidden() async throws {
        let tokens = try await HostApplicationTokens.load(pem: TestKeys.rsaPublic, path: "app-jwt.pem")
        #expect(tokens.algorithm == "RS256")
        #expect(await tokens.verify(try await TestTokens.rs256(role: "owner")) == .owner(subject: "alice@shop.example"))
        for role in Self.nonOwnerRoles {
            #expect(await tokens.verify(try await TestTokens.rs256(role: role)) == .forbidden(role: role), "\(role)")
        }
    }

    @Test func anES256OwnerGetsInAndEveryOtherRoleIsForbidden() async throws {
        let tokens = try await HostApplicationTokens.load(pem: TestKeys.ecPublic, path: "app-jwt.pem")
        #expect(tokens.algorithm == "ES256")
        #expect(await tokens.verify(try await TestTokens.es256(role: "owner", sub: "bob")) == .owner(subject: "bob"))
        for role in Self.nonOwnerRoles {
            #expect(await tokens.verify(try await TestTokens.es256(role: role)) == .forbidden(role: role), "\(role)")
        }
        // An RS256 token means nothing to an ES256 key.
        #expect(
            await tokens.verify(try await TestTokens.rs256(role: "owner"))
                == .invalid("the token is not signed with the host application's ES256 key, or has no expiry"))
    }

    @Test func forgeriesAndExpiredTokensAreNotTokens() async throws {
        let tokens = try await HostApplicationTokens.load(pem: TestKeys.rsaPublic, path: "app-jwt.pem")
        let notOurs = HostApplicationTokens.Verdict.invalid("the token is not signed with the host application's RS256 key, or has no expiry")
        #expect(await tokens.verify(try await TestTokens.rs256(role: "owner", expiresIn: -60)) == .invalid("the token has expired"))
        #expect(await tokens.verify(try await TestTokens.rs256(role: "owner", privateKey: TestKeys.otherRSAPrivate)) == notOurs)
        #expect(await tokens.verify(TestTokens.unsigned()) == notOurs)
        #expect(await tokens.verify(try await TestTokens.hs256KeyedWithThePublicKey()) == notOurs)
        #expect(await tokens.verify("not.a.token") == notOurs)
        #expect(await tokens.verify("") == notOurs)
        // A valid signature over a payload without exp is refused too: every token must expire.
        #expect(await tokens.verify(try await TestTokens.rs256WithoutExpiry()) == notOurs)
    }

    @Test func aKeyThatIsNeitherIsRefusedByName() async {
        await #expect {
            _ = try await HostApplicationTokens.load(
                pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", path: "/etc/walvault/app-jwt.pem")
        } throws: { error in
            (error as? CommandError)?.problem.hasPrefix("/etc/walvault/app-jwt.pem (dashboard.jwt_public_key_file) is not an RSA") == true
        }
    }
}
