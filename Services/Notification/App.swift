import ServiceKit

/// `notification-service`: tells customers what happened to their orders.
@main
struct NotificationService {
    static func main() async {
        await ServiceMain.run(
            NotificationApp.descriptor, migrations: NotificationStore.migrations,
            postgresMigrations: NotificationStore.postgresMigrations, build: NotificationApp.build)
    }
}
