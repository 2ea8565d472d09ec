extension String.UTF8View {
    /// Byte search without Foundation: in a module that imports it (through TOMLKit),
    /// String.contains(String) resolves to Foundation's range(of:) and links ICU's 36 MB into
    /// every archive-push.
    public func contains(subsequence needle: String) -> Bool {
        let hay = Array(self), pattern = Array(needle.utf8)
        guard pattern.count <= hay.count else { return pattern.isEmpty }
        for start in 0...(hay.count - pattern.count) where hay[start..<start + pattern.count].elementsEqual(pattern) { return true }
        return false
    }
}
