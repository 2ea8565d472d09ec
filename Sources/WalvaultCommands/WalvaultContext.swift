import WalvaultConfig
import WalvaultStores

/// A loaded config and the stores it names, built once per process.
public struct WalvaultContext {
    public let config: WalvaultConfig
    public let stores: [Store]

    public init(config: WalvaultConfig, stores: [Store]) {
        self.config = config
        self.stores = stores
    }

    public static func load(configPath: String) throws -> WalvaultContext {
        let config = try ConfigLoader.load(path: configPath)
        return WalvaultContext(config: config, stores: config.stores.map(makeStore))
    }

    public static func makeStore(_ settings: StoreSettings) -> Store {
        switch settings.kind {
        case .local(let path): return LocalStore(name: settings.name, root: path)
        }
    }
}
