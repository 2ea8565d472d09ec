import Testing

@testable import WalvaultServer

/// Every page's template parses and renders inside the layout, and values are escaped.
@Suite struct PagesTests {
    @Test(arguments: ["login", "overview", "backups", "backup", "restore", "job", "exports"])
    func eachPageRenders(name: String) {
        let html = Pages().html(name, ["title": "T", "csrf": "c", "cluster": "main", "subject": "owner"])
        #expect(html.hasPrefix("<!doctype html>") && html.contains("</html>"), "\(name): \(html.prefix(200))")
    }

    @Test func valuesAreEscaped() {
        let html = Pages().html("exports", ["title": "<script>x</script>", "exports": [["id": "a\"><img src=x onerror=alert(1)>", "kind": "dump"]]])
        #expect(!html.contains("<script>x") && !html.contains("<img src=x"), "\(html)")
        #expect(html.contains("&lt;script&gt;"))
    }
}
