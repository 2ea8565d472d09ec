import Synchronization
import Testing
import WalvaultPipeline
import WalvaultSystem
import WalvaultTesting

@testable import WalvaultStores

#if canImport(Glibc)
    import Glibc
#endif

/// The refusals TelegramStore acts on arrive typed; only this mapping reads Telegram's words.
@Suite struct TelegramRefusalTests {
    @Test func tooLargeAndPastTheDeletionWindowAreTyped() {
        #expect(TelegramFailure.refusal(code: 413, description: "Request Entity Too Large") == .tooLarge)
        #expect(TelegramFailure.refusal(code: 400, description: "Bad Request: message can't be deleted for everyone") == .deletionWindowPassed)
        #expect(TelegramFailure.refusal(code: 400, description: "Bad Request: chat not found") == nil)
        #expect(TelegramFailure.refusal(code: 502, description: "Bad Gateway") == nil)
    }
}
