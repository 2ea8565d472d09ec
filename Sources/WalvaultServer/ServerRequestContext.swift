import Hummingbird
import NIOCore

/// Each request's context: the client's address (for login throttling and the audit rows) and,
/// once `OwnerGuard` let it through, who it is.
public struct ServerRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The owner's name, or the JWT subject; set by `OwnerGuard`.
    public var subject: String?
    /// The session's cookie token, when the request came with one.
    public var sessionToken: String?
    /// The session's CSRF token, for the pages to send back.
    public var csrfToken: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The address to throttle and audit: the proxy's X-Forwarded-For only with `trusted_proxy`.
    public func clientAddress(_ request: Request, trustedProxy: Bool) -> String {
        if trustedProxy, let forwarded = request.headers[.init("X-Forwarded-For")!]?.split(separator: ",").first {
            return String(forwarded.filter { !$0.isWhitespace })
        }
        return remoteAddress?.ipAddress ?? "unknown"
    }
}
