import Hummingbird
import Ink
import WalvaultDocs

/// The dashboard's Docs page: `docs/*.md` (compiled in as `WalvaultDocs`), rendered once with Ink,
/// links between the files turned into links between the pages.
enum DocsPage {
    struct Rendered: Sendable {
        let name: String
        let title: String
        let html: String
    }

    static let rendered: [Rendered] = {
        let parser = MarkdownParser()
        return Docs.all.map { document in
            var html = parser.html(from: document.markdown)
            for other in Docs.all { html = html.replacing("href=\"\(other.name).md", with: "href=\"/docs/\(other.name)") }
            let title = document.markdown.split(separator: "\n").first { $0.hasPrefix("# ") }.map { String($0.dropFirst(2)) } ?? document.name
            return Rendered(name: document.name, title: title, html: html)
        }
    }()
}

extension DashboardServer {
    func addDocsRoutes(to router: Router<ServerRequestContext>) {
        router.get("/docs") { _, requestContext in docsPage("backup-strategy", requestContext) }
        router.get("/docs/:name") { _, requestContext in docsPage(requestContext.parameters.get("name") ?? "", requestContext) }
    }

    func docsPage(_ name: String, _ requestContext: ServerRequestContext) -> Response {
        guard let document = DocsPage.rendered.first(where: { $0.name == name }) else {
            return APIResponse.refused("store.not_found", "no document \(name)", fix: "/docs lists them")
        }
        var values = base(document.title, requestContext)
        values["documents"] = DocsPage.rendered.map { ["name": $0.name, "title": $0.title] }
        values["html"] = document.html
        return pages.render("docs", values)
    }
}
