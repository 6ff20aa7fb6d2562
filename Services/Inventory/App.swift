import ServiceKit

/// `inventory-service`: owns the catalogue and the stock; reserves, releases and commits.
@main
struct InventoryService {
    static func main() async {
        await ServiceMain.run(
            InventoryApp.descriptor, migrations: InventoryStore.migrations,
            postgresMigrations: InventoryStore.postgresMigrations, build: InventoryApp.build)
    }
}
