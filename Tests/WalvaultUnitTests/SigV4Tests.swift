import Testing
import WalvaultPipeline
import WalvaultStores
import WalvaultTesting

/// The signer against published vectors: the AWS SigV4 test suite (service "service") and the
/// Amazon S3 documentation's GET example.
@Suite struct SigV4Tests {
    func signer(_ key: String, _ secret: String, service: String) -> SigV4 {
        let bytes = Array(secret.utf8)
        return SigV4(accessKeyID: key, secret: bytes.withUnsafeBytes { SecretBytes(copying: $0) }, region: "us-east-1", service: service)
    }

    var suite: SigV4 { signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", service: "service") }
    let suiteHeaders = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]

    @Test func getVanilla() {
        let signed = suite.sign(
            method: "GET", path: "/", query: [], headers: suiteHeaders, payloadHash: SigV4.emptyPayloadSHA256, timestamp: "20150830T123600Z")
        #expect(signed.stringToSign.hasSuffix("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"))
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        )
    }

    @Test func getWithAQueryAndPostVanilla() {
        let query = suite.sign(
            method: "GET", path: "/", query: [("Param1", "value1")], headers: suiteHeaders,
            payloadHash: SigV4.emptyPayloadSHA256, timestamp: "20150830T123600Z")
        #expect(query.authorization.hasSuffix("Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"))
        let post = suite.sign(
            method: "POST", path: "/", query: [], headers: suiteHeaders, payloadHash: SigV4.emptyPayloadSHA256, timestamp: "20150830T123600Z")
        #expect(post.authorization.hasSuffix("Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"))
    }

    @Test func theS3DocumentationsGetObjectExample() {
        let s3 = signer("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", service: "s3")
        let signed = s3.sign(
            method: "GET", path: "/test.txt", query: [],
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", SigV4.emptyPayloadSHA256), ("x-amz-date", "20130524T000000Z")
            ],
            payloadHash: SigV4.emptyPayloadSHA256, timestamp: "20130524T000000Z")
        #expect(
            signed.authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
        #expect(!signed.authorization.contains("wJalrXUtnFEMI"), "the secret never appears in what is sent")
    }

    /// What curl 7.88 gets wrong: the query sorted and encoded, a valueless parameter as "name=".
    @Test func queriesAreSortedAndEncodedAndValuelessParametersSigned() {
        let signed = suite.sign(
            method: "POST", path: "/bucket/a%20key", query: [("uploads", ""), ("b", "x y"), ("a", "2"), ("a", "1")],
            headers: suiteHeaders, payloadHash: SigV4.emptyPayloadSHA256, timestamp: "20150830T123600Z")
        #expect(signed.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "a=1&a=2&b=x%20y&uploads=")
        #expect(SigV4.uriEncode("pg/main/wal/0000000100000000/x-1.zst", keepSlashes: true) == "pg/main/wal/0000000100000000/x-1.zst")
        #expect(SigV4.uriEncode("a+b c/d~e") == "a%2Bb%20c%2Fd~e")
        #expect(SigV4.timestamp(1_795_428_000_999_999) == "20261123T100000Z")
    }
}
