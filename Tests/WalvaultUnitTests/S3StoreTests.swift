import Dispatch
import Synchronization
import Testing
import WalvaultConfig
import WalvaultHTTP
import WalvaultKit
import WalvaultShipping
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultStores

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct S3PureTests {
    @Test func addressingStyles() {
        let path = S3Addressing(endpoint: "http://127.0.0.1:9000", bucket: "b", prefix: "pg", pathStyle: true)
        let target = path.target(objectKey: path.objectKey("main/wal/a b+c"), query: [("uploadId", "x/y"), ("partNumber", "2")])
        #expect(target.host == "127.0.0.1:9000")
        #expect(target.path == "/b/pg/main/wal/a%20b%2Bc")
        #expect(target.url == "http://127.0.0.1:9000/b/pg/main/wal/a%20b%2Bc?partNumber=2&uploadId=x%2Fy")
        let virtual = S3Addressing(endpoint: "https://s3.us-west-004.backblazeb2.com", bucket: "acme", prefix: "", pathStyle: false)
        let listing = virtual.target(objectKey: nil, query: [("list-type", "2"), ("prefix", "main/")])
        #expect(listing.url == "https://acme.s3.us-west-004.backblazeb2.com/?list-type=2&prefix=main%2F")
        #expect(listing.path == "/")
        #expect(path.storeKey("pg/main/x") == "main/x")
        #expect(path.storeKey("other/x") == nil)
        #expect(virtual.display("main/x") == "s3://acme/main/x")
    }

    @Test func errorKinds() {
        #expect(S3Failure.kind(status: 503, code: "SlowDown") == .transient)
        #expect(S3Failure.kind(status: 500, code: "InternalError") == .transient)
        #expect(S3Failure.kind(status: 429, code: nil) == .transient)
        #expect(S3Failure.kind(status: 400, code: "RequestTimeout") == .transient)
        #expect(S3Failure.kind(status: 409, code: "ConditionalRequestConflict") == .transient)
        #expect(S3Failure.kind(status: 501, code: "NotImplemented") == .permanent)
        #expect(S3Failure.kind(status: 403, code: "SignatureDoesNotMatch") == .auth)
        #expect(S3Failure.kind(status: 403, code: "InvalidAccessKeyId") == .auth)
        #expect(S3Failure.kind(status: 403, code: "AccessDenied") == .auth)
        #expect(S3Failure.kind(status: 404, code: "NoSuchKey") == .notFound)
        #expect(S3Failure.kind(status: 404, code: "NoSuchBucket") == .permanent)
        #expect(S3Failure.kind(status: 412, code: "PreconditionFailed") == .conflict)
        #expect(S3Failure.kind(status: 400, code: "InvalidArgument") == .permanent)
    }

    @Test func errorAnswersKeepCodeAndMessageButNothingElse() {
        let body = Array(
            """
            <?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The signature does not match</Message>\
            <AWSAccessKeyId>AKIAKEYMARKER</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256 MARKER</StringToSign></Error>
            """.utf8)
        let error = S3Failure.error(store: "b2", action: "PUT", object: "s3://acme/k", status: 403, body: body, bucket: "acme")
        #expect(error.description.hasPrefix("store \"b2\": PUT s3://acme/k failed: HTTP 403 SignatureDoesNotMatch: The signature does not match; "))
        #expect(!error.description.contains("MARKER"))
        #expect(error.kind == .auth)
        // Not XML at all (a proxy's HTML page): the status still speaks.
        let html = S3Failure.error(
            store: "b2", action: "GET", object: "s3://acme/k", status: 502, body: Array("<html><body>Bad gateway".utf8), bucket: "acme")
        #expect(html.kind == .transient)
        #expect(html.description.contains("HTTP 502"))
    }

    @Test func timestamps() {
        #expect(S3Time.iso8601("2026-11-24T13:41:50.123Z") == 1_795_527_710_123_000)
        #expect(S3Time.iso8601("2026-11-24T13:41:50Z") == 1_795_527_710_000_000)
        #expect(S3Time.httpDate("Tue, 24 Nov 2026 13:41:50 GMT") == 1_795_527_710_000_000)
        #expect(S3Time.iso8601("2026-13-24T13:41:50Z") == nil)
        #expect(S3Time.iso8601("yesterday") == nil)
        #expect(S3Time.httpDate("Tue, 24 Nov 2026 13:41:50 PST") == nil)
    }

    @Test func xmlIsParsedByLibxml2AndEntitiesAreNotExpanded() throws {
        let root = try XMLElement.parse(
            Array(
                """
                <?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>false</IsTruncated>\
                <Contents><Key>a&amp;b</Key><Size>3</Size></Contents><Contents><Key><![CDATA[c<d]]></Key><Size>4</Size></Contents></ListBucketResult>
                """.utf8), what: "a listing")
        #expect(root.name == "ListBucketResult")
        #expect(root.children("Contents").compactMap { $0.value("Key") } == ["a&b", "c<d"])
        #expect(throws: HTTPError.self) { _ = try XMLElement.parse(Array("<a><b></a>".utf8), what: "x") }
        #expect(throws: HTTPError.self) { _ = try XMLElement.parse([], what: "x") }
        let hostile = try XMLElement.parse(
            Array(
                """
                <?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>
                """.utf8), what: "x")
        #expect(!hostile.text.contains("root:"))
    }
}
