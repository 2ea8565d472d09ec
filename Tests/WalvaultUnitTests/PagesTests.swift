import Testing

@testable import WalvaultServer

/// Every page's template parses and renders inside the layout, and values are escaped.
@Suite struct PagesTests {
    @Test(arguments: ["login", "overview", "backups", "backup", "restore", "job", "exports", "export", "docs"])
    func eachPageRenders(name: String) {
        let html = Pages().html(name, ["title": "T", "csrf": "c", "cluster": "main", "subject": "owner"])
        #expect(html.hasPrefix("<!doctype html>") && html.contains("</html>"), "\(name): \(html.prefix(200))")
    }

    @Test func valuesAreEscaped() {
        let html = Pages().html("exports", ["title": "<script>x</script>", "exports": [["id": "a\"><img src=x onerror=alert(1)>", "kind": "dump"]]])
        #expect(!html.contains("<script>x") && !html.contains("<img src=x"), "\(html)")
        #expect(html.contains("&lt;script&gt;"))
    }

    @Test func theDocsPageIsTheRepositorysMarkdownWithLinksBetweenPages() throws {
        let backups = try #require(DocsPage.rendered.first { $0.name == "backups" })
        #expect(backups.title == "What walvault backs up, where, for how long, and how to get it back")
        #expect(backups.html.contains("<table>") && backups.html.contains("href=\"/docs/restore\""), "\(backups.html.prefix(400))")
        #expect(DocsPage.rendered.map(\.name) == ["backups", "restore", "encryption", "troubleshooting"])
        #expect(DocsPage.rendered.allSatisfy { !$0.html.contains(".md\"") }, "no link to a file the server does not serve")
    }
}
