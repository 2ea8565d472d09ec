import Hummingbird
import Mustache

/// The dashboard's pages: mustache templates compiled into the binary (`Pages/*.mustache`, each
/// page a child of `layout`), HTML-escaped by default, so a name from the database or a store
/// cannot become markup; and the one script and one style sheet, served from the binary too.
struct Pages: Sendable {
    let library: MustacheLibrary

    init() {
        var library = MustacheLibrary()
        let templates: [(String, [UInt8])] = [
            ("layout", PackageResources.layout_mustache), ("login", PackageResources.login_mustache),
            ("overview", PackageResources.overview_mustache), ("backups", PackageResources.backups_mustache),
            ("backup", PackageResources.backup_mustache), ("restore", PackageResources.restore_mustache),
            ("job", PackageResources.job_mustache), ("exports", PackageResources.exports_mustache),
            ("export", PackageResources.export_mustache), ("docs", PackageResources.docs_mustache)
        ]
        for (name, bytes) in templates {
            // The templates are ours and fixed: one that does not parse is a bug the tests catch.
            try! library.register(String(decoding: bytes, as: UTF8.self), named: name)
        }
        self.library = library
    }

    func html(_ name: String, _ values: [String: Any]) -> String {
        library.render(values, withTemplate: name) ?? ""
    }

    func render(_ name: String, _ values: [String: Any]) -> Response {
        let html = html(name, values)
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func asset(_ path: String) -> Response? {
        let (bytes, type): ([UInt8], String)
        switch path {
        case "/static/app.js": (bytes, type) = (PackageResources.app_js, "text/javascript; charset=utf-8")
        case "/static/app.css": (bytes, type) = (PackageResources.app_css, "text/css; charset=utf-8")
        case "/static/favicon.svg": (bytes, type) = (PackageResources.favicon_svg, "image/svg+xml")
        default: return nil
        }
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
