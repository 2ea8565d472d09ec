import Hummingbird

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the router did not match, answered from the API's own description (`openapi.json`): a
/// described path asked with another method is 405 with `Allow`, anything else a JSON 404. Only
/// after `OwnerGuard`: a stranger learns nothing about which paths exist.
struct DescribedRoutes<Context: RequestContext>: RouterMiddleware {
    /// Path templates as segments (nil: a `{parameter}`), with their methods.
    let routes: [(segments: [String?], methods: [String])]

    /// Only the paths and their methods are read from the description.
    private struct Description: Decodable {
        struct Anything: Decodable {
            init(from decoder: any Decoder) throws {}
        }
        let paths: [String: [String: Anything]]
    }

    init(openAPI: [UInt8] = PackageResources.openapi_json) {
        let paths = (try? JSONDecoder().decode(Description.self, from: Data(openAPI)))?.paths ?? [:]
        routes = paths.map { path, operations in
            let segments = path.split(separator: "/").map { $0.hasPrefix("{") ? nil : String($0) }
            let methods = operations.keys.map { $0.uppercased() }.sorted()
            return (segments, methods.contains("GET") ? (methods + ["HEAD"]).sorted() : methods)
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let asked = request.uri.path.split(separator: "/").map(String.init)
            if let route = routes.first(where: { route in
                route.segments.count == asked.count && zip(route.segments, asked).allSatisfy { $0.0 == nil || $0.0 == $0.1 }
            }) {
                var response = APIResponse.refused(
                    "input.invalid", "\(request.method) is not a method of \(request.uri.path)",
                    fix: "use \(route.methods.joined(separator: ", ")); GET /api/openapi.json describes the API")
                response.status = .methodNotAllowed
                response.headers[.allow] = route.methods.joined(separator: ", ")
                return response
            }
            return APIResponse.refused(
                "store.not_found", "no such path: \(request.uri.path)", fix: "GET /api/openapi.json describes the API")
        }
    }
}
