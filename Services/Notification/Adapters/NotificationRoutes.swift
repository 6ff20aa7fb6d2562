import Hummingbird
import ServiceKit

/// `GET /notifications?orderId=&limit=&after=`.
struct NotificationRoutes: Sendable {
    let service: ServiceContext

    func add(to router: Router<BasicRequestContext>) {
        let service = self.service
        router.get("/notifications") { request, _ -> JSONResponse<PageResponse<NotificationStore.Item>> in
            let page = try Page(request, cursors: service.store.cursors)
            let orderId = request.uri.queryParameters["orderId"].map(String.init)
            let items = try await service.read { db in
                try NotificationStore.list(orderId: orderId, before: page.after, limit: page.limit + 1, in: db)
            }
            return JSONResponse(PageResponse("notifications", fetched: items, page: page) { $0.notificationId })
        }
    }
}
