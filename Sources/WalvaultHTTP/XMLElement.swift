#if canImport(Glibc)
    import Glibc
#endif

/// A parsed XML document as a small tree: what S3 answers (listings, errors, multipart uploads)
/// is a few kilobytes to a megabyte, read whole. Parsing is libxml2's (its xmlReader API), loaded
/// on first use like libcurl; network access and entity substitution are off, so a hostile
/// answer can neither fetch nor expand anything.
public final class XMLElement: CustomStringConvertible {
    /// The local name, without a namespace prefix: `ListBucketResult`, `Contents`, `Key`.
    public let name: String
    /// The text directly inside, concatenated (CDATA included).
    public internal(set) var text = ""
    public internal(set) var children: [XMLElement] = []

    init(name: String) { self.name = name }

    public func child(_ name: String) -> XMLElement? { children.first { $0.name == name } }
    public func children(_ name: String) -> [XMLElement] { children.filter { $0.name == name } }
    /// The text of the first child called `name`.
    public func value(_ name: String) -> String? { child(name)?.text }

    public var description: String { "<\(name)>" }

    /// The root element of `bytes`; an `HTTPError` naming `what` when it is not well-formed XML.
    public static func parse(_ bytes: [UInt8], what: String) throws -> XMLElement {
        let xml = try LibXML2.shared.get()
        let reader = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    xml.readerForMemory($0, Int32(buffer.count), nil, "UTF-8", LibXML2.safeOptions)
                }
            } ?? nil
        }
        let malformed = HTTPError(
            kind: .permanent, problem: "\(what) is not well-formed XML", fix: "check that the endpoint is an S3-compatible service")
        guard let reader else { throw malformed }
        defer { xml.freeTextReader(reader) }

        var stack: [XMLElement] = []
        var root: XMLElement?
        while true {
            let step = xml.read(reader)
            if step == 0 { break }
            guard step == 1 else { throw malformed }
            switch xml.nodeType(reader) {
            case 1:  // element
                let element = XMLElement(name: xml.constLocalName(reader).map { String(cString: $0) } ?? "")
                if let parent = stack.last { parent.children.append(element) } else if root == nil { root = element }
                if xml.isEmptyElement(reader) != 1 { stack.append(element) }
            case 3, 4:  // text, CDATA
                if let value = xml.constValue(reader) { stack.last?.text += String(cString: value) }
            case 15:  // end of element
                _ = stack.popLast()
            default:
                break
            }
        }
        guard let root, stack.isEmpty else { throw malformed }
        return root
    }
}

/// The part of libxml2 the parser uses, resolved from `libxml2.so.2` at first use.
struct LibXML2: @unchecked Sendable {
    typealias Reader = OpaquePointer
    let readerForMemory: @convention(c) (UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32) -> Reader?
    let read: @convention(c) (Reader?) -> Int32
    let nodeType: @convention(c) (Reader?) -> Int32
    let isEmptyElement: @convention(c) (Reader?) -> Int32
    let constLocalName: @convention(c) (Reader?) -> UnsafePointer<CChar>?
    let constValue: @convention(c) (Reader?) -> UnsafePointer<CChar>?
    let freeTextReader: @convention(c) (Reader?) -> Void

    /// XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING: no fetching, nothing printed to
    /// stderr; entities are left unexpanded (no XML_PARSE_NOENT).
    static let safeOptions: Int32 = 2048 | 32 | 64

    static let shared: Result<LibXML2, HTTPError> = load()

    private static func load() -> Result<LibXML2, HTTPError> {
        guard let handle = dlopen("libxml2.so.2", RTLD_NOW | RTLD_LOCAL) else {
            let why = dlerror().map { String(cString: $0) } ?? "unknown error"
            return .failure(HTTPError(kind: .permanent, problem: "cannot load libxml2 (\(why))", fix: "install it: apt-get install libxml2"))
        }
        func symbol<T>(_ name: String, as _: T.Type) -> T? {
            dlsym(handle, name).map { unsafeBitCast($0, to: T.self) }
        }
        guard
            let readerForMemory = symbol(
                "xmlReaderForMemory",
                as: (@convention(c) (UnsafePointer<CChar>?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int32) -> Reader?).self),
            let read = symbol("xmlTextReaderRead", as: (@convention(c) (Reader?) -> Int32).self),
            let nodeType = symbol("xmlTextReaderNodeType", as: (@convention(c) (Reader?) -> Int32).self),
            let isEmptyElement = symbol("xmlTextReaderIsEmptyElement", as: (@convention(c) (Reader?) -> Int32).self),
            let constLocalName = symbol("xmlTextReaderConstLocalName", as: (@convention(c) (Reader?) -> UnsafePointer<CChar>?).self),
            let constValue = symbol("xmlTextReaderConstValue", as: (@convention(c) (Reader?) -> UnsafePointer<CChar>?).self),
            let freeTextReader = symbol("xmlFreeTextReader", as: (@convention(c) (Reader?) -> Void).self)
        else {
            return .failure(
                HTTPError(kind: .permanent, problem: "the installed libxml2 lacks functions walvault needs", fix: "install libxml2 2.9 or later"))
        }
        return .success(
            LibXML2(
                readerForMemory: readerForMemory, read: read, nodeType: nodeType, isEmptyElement: isEmptyElement,
                constLocalName: constLocalName, constValue: constValue, freeTextReader: freeTextReader))
    }
}
