import CQREncode

/// The otpauth:// URI as a QR code an authenticator app scans off the terminal: libqrencode makes
/// the symbol, and each text line carries two rows of modules in Unicode half blocks. Colours are
/// set explicitly (black on white) so the code scans on dark and light terminals alike.
public enum TerminalQRCode {
    /// The light border the QR specification asks for, in modules.
    static let quietZone = 4

    /// The symbol's modules, row by row, true for dark; nil if libqrencode refuses the text.
    public static func modules(_ text: String) -> [[Bool]]? {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        return (0..<width).map { row in (0..<width).map { column in code.pointee.data[row * width + column] & 1 == 1 } }
    }

    /// Lines to print, with the quiet zone around the symbol.
    public static func lines(_ text: String) -> [String]? {
        guard let symbol = modules(text) else { return nil }
        let size = symbol.count + 2 * quietZone
        func dark(_ row: Int, _ column: Int) -> Bool {
            let r = row - quietZone
            let c = column - quietZone
            return r >= 0 && r < symbol.count && c >= 0 && c < symbol.count && symbol[r][c]
        }
        return stride(from: 0, to: size, by: 2).map { row in
            let cells = (0..<size).map { column -> String in
                switch (dark(row, column), dark(row + 1, column)) {
                case (false, false): return " "
                case (true, true): return "█"
                case (true, false): return "▀"
                case (false, true): return "▄"
                }
            }
            return "\u{1B}[30;47m" + cells.joined() + "\u{1B}[0m"
        }
    }
}
