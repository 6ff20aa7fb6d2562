import ServiceKit

/// `shipping-service`: schedules shipments, decides cancellations, owns dispatch.
@main
struct ShippingService {
    static func main() async {
        await ServiceMain.run(
            ShippingApp.descriptor, migrations: ShippingStore.migrations,
            postgresMigrations: ShippingStore.postgresMigrations, build: ShippingApp.build)
    }
}
