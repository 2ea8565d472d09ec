import WalvaultPipeline

/// The whole validated configuration. Everything here has been checked when the file was read,
/// so commands never meet a half-valid setting in the middle of a push.
public struct WalvaultConfig: Sendable, Equatable {
    public var path: String
    public var cluster: ClusterSettings
    public var compression: CompressionSettings
    public var stores: [StoreSettings]
    public var history: HistorySettings?
    public var encryption: EncryptionSettings?
    public var shipping: ShippingSettings
    public var retention: RetentionSettings?
    public var alerts: AlertSettings?
    public var check: CheckSettings
    public var backup: BackupSettings
    public var performance: PerformanceSettings
    /// `[dashboard]`; nil: `walvault serve` refuses, naming the section.
    public var dashboard: DashboardSettings?
    /// `[[storage]]`: the file trees `walvault files backup` keeps.
    public var storage: [StorageSettings]

    public init(
        path: String, cluster: ClusterSettings, compression: CompressionSettings, stores: [StoreSettings],
        history: HistorySettings? = nil, encryption: EncryptionSettings? = nil, shipping: ShippingSettings = ShippingSettings(),
        retention: RetentionSettings? = nil, alerts: AlertSettings? = nil, check: CheckSettings = CheckSettings(),
        performance: PerformanceSettings = PerformanceSettings(), dashboard: DashboardSettings? = nil,
        backup: BackupSettings = BackupSettings(), storage: [StorageSettings] = []
    ) {
        self.storage = storage
        self.backup = backup
        self.performance = performance
        self.dashboard = dashboard
        self.alerts = alerts
        self.check = check
        self.path = path
        self.cluster = cluster
        self.compression = compression
        self.stores = stores
        self.history = history
        self.encryption = encryption
        self.shipping = shipping
        self.retention = retention
    }

    /// The window for one store: its own `retention_days`, else `[retention] days`; nil without either.
    public func retentionDays(store index: Int) -> Int? {
        (index < stores.count ? stores[index].retentionDays : nil) ?? retention?.days
    }

    public var syncStores: [StoreSettings] { stores.filter { $0.mode == .sync } }
    public var asyncStores: [StoreSettings] { stores.filter { $0.mode == .async } }
}
