import Hummingbird
import WalvaultKit
import WalvaultSystem

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Every answer the API gives: JSON, and for a refusal or failure one object with the problem, the
/// fix and the stable code (the status comes from `ErrorRegistry`).
enum APIResponse {
    /// The API's JSON: sorted keys, snake_case.
    static func encode<Value: Encodable>(_ value: Value) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func json<Value: Encodable>(_ value: Value, status: HTTPResponse.Status = .ok) -> Response {
        let body = encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    struct ProblemBody: Encodable {
        let problem: String
        let fix: String
        let code: String
    }

    static func problem(_ error: any Error) -> Response {
        let code = ErrorCodes.of(error)
        let status = HTTPResponse.Status(code: ErrorRegistry.entry(code).httpStatus)
        if let problem = error as? any Problem {
            return json(ProblemBody(problem: problem.problem, fix: problem.fix, code: code), status: status)
        }
        return json(ProblemBody(problem: "the server failed", fix: "the server's log has the details", code: code), status: status)
    }

    static func refused(_ code: String, _ problem: String, fix: String) -> Response {
        self.problem(CommandError(problem: problem, fix: fix, errorCode: code))
    }
}
