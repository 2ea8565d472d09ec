import Testing
import WalvaultServer

/// The enrolment's QR code: the lines drawn at the terminal carry exactly libqrencode's modules,
/// inside a light quiet zone, with the finder patterns a scanner looks for in three corners.
@Suite struct TerminalQRCodeTests {
    static let uri = "otpauth://totp/walvault:owner?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=walvault&algorithm=SHA1&digits=6&period=30"

    /// The drawn lines read back into modules: each character is two rows.
    static func readBack(_ lines: [String]) -> [[Bool]] {
        var rows: [[Bool]] = []
        for line in lines {
            #expect(line.hasPrefix("\u{1B}[30;47m") && line.hasSuffix("\u{1B}[0m"), "black on white, reset at the end")
            let cells = Array(line.dropFirst("\u{1B}[30;47m".count).dropLast("\u{1B}[0m".count))
            var top: [Bool] = []
            var bottom: [Bool] = []
            for cell in cells {
                switch cell {
                case " ": (top, bottom) = (top + [false], bottom + [false])
                case "█": (top, bottom) = (top + [true], bottom + [true])
                case "▀": (top, bottom) = (top + [true], bottom + [false])
                case "▄": (top, bottom) = (top + [false], bottom + [true])
                default: Issue.record("unexpected character \(cell)")
                }
            }
            rows += [top, bottom]
        }
        return rows
    }

    @Test func theLinesAreTheSymbolInsideItsQuietZone() throws {
        let symbol = try #require(TerminalQRCode.modules(Self.uri))
        let width = symbol.count
        #expect(width >= 21 && (width - 17) % 4 == 0, "a QR symbol is 17 + 4 × version modules wide, not \(width)")
        let drawn = Self.readBack(try #require(TerminalQRCode.lines(Self.uri)))
        let size = width + 8
        #expect(drawn.allSatisfy { $0.count == size })
        #expect(drawn.count == size + size % 2)
        for row in 0..<drawn.count {
            for column in 0..<size {
                let inside = (4..<(4 + width)).contains(row) && (4..<(4 + width)).contains(column)
                #expect(drawn[row][column] == (inside && symbol[row - 4][column - 4]), "module \(row), \(column)")
            }
        }
    }

    @Test func theThreeFinderPatternsAreWhereAScannerLooks() throws {
        let symbol = try #require(TerminalQRCode.modules(Self.uri))
        let width = symbol.count
        func finder(at top: Int, _ left: Int) -> Bool {
            (0..<7).allSatisfy { r in
                (0..<7).allSatisfy { c in
                    let ring = max(abs(r - 3), abs(c - 3))
                    return symbol[top + r][left + c] == (ring != 2)
                }
            }
        }
        #expect(finder(at: 0, 0) && finder(at: 0, width - 7) && finder(at: width - 7, 0))
        #expect(!finder(at: width - 7, width - 7), "the fourth corner holds data, not a finder")
    }

    @Test func aTextTooLongForAnyQRCodeGivesNoLines() {
        #expect(TerminalQRCode.lines(String(repeating: "x", count: 8000)) == nil)
    }
}
