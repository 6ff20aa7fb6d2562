import ServiceKit

/// `order-service`: takes orders, keeps each order's events as its truth, confirms, ships, cancels.
@main
struct OrderService {
    static func main() async {
        await ServiceMain.run(
            OrderApp.descriptor, migrations: OrderStore.migrations,
            postgresMigrations: OrderStore.postgresMigrations, build: OrderApp.build)
    }
}
