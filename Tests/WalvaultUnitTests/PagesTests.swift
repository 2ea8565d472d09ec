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
        let backups = try #require(DocsPage.rendered.first { $0.name == "backup-strategy" })
        #expect(backups.title == "Backup strategy: what walvault backs up, where, for how long, at what cost, and how to get it back")
        #expect(backups.html.contains("<table>") && backups.html.contains("href=\"/docs/restore\""), "\(backups.html.prefix(400))")
        #expect(
            DocsPage.rendered.map(\.name) == [
                "backup-strategy", "admin-guide", "restore", "cloud-setup", "disaster-recovery", "encryption", "troubleshooting"
            ])
        // Every command is a code block (Ink reads fenced blocks only), the runbook's marked ones
        // included, and the page goes on after them to its last section.
        let runbook = try #require(DocsPage.rendered.first { $0.name == "disaster-recovery" })
        #expect(runbook.html.contains("<h2>A corrupted backup</h2>") && runbook.html.contains("walvault verify"), "\(runbook.html.suffix(600))")
        #expect(runbook.html.components(separatedBy: "<pre><code").count == 7, "\(runbook.html)")
        #expect(runbook.html.contains("<pre><code class=\"language-sh runbook=dead-server-s3 user=postgres\">walvault --config"))
        for name in ["restore", "cloud-setup"] {
            let page = try #require(DocsPage.rendered.first { $0.name == name })
            #expect(page.html.components(separatedBy: "<pre><code").count >= 4, "\(name): \(page.html)")
        }
        #expect(DocsPage.rendered.allSatisfy { !$0.html.contains(".md\"") }, "no link to a file the server does not serve")
    }
}
