import ServiceKit

/// `payment-service`: owns the accounts; authorizes, voids and captures.
@main
struct PaymentService {
    static func main() async {
        await ServiceMain.run(
            PaymentApp.descriptor, migrations: PaymentStore.migrations,
            postgresMigrations: PaymentStore.postgresMigrations, build: PaymentApp.build)
    }
}
