import GRDB
import Hummingbird
import ServiceKit

/// `GET /notifications?orderId=&limit=&after=`.
struct NotificationRoutes: Sendable {
    let runtime: ServiceRuntime

    struct Item: Encodable, Sendable {
        let notificationId: String
        let orderId: String
        let customerId: String
        let template: String
        let channels: [String]
        let status: String
        let sentAt: String
    }

    func add(to router: Router<BasicRequestContext>) {
        let runtime = self.runtime
        router.get("/notifications") { request, _ -> JSONResponse<PageResponse<Item>> in
            let page = try Page(request, cursors: runtime.store.cursors)
            let orderId = request.uri.queryParameters["orderId"].map(String.init)
            let items = try await runtime.store.writer.read { db -> [Item] in
                var sql = "SELECT * FROM notification WHERE notificationId < ?"
                var arguments: [any DatabaseValueConvertible] = [page.after ?? "ntf_~"]
                if let orderId {
                    sql += " AND orderId = ?"
                    arguments.append(orderId)
                }
                sql += " ORDER BY notificationId DESC LIMIT ?"
                arguments.append(page.limit + 1)
                return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                    Item(
                        notificationId: row["notificationId"], orderId: row["orderId"], customerId: row["customerId"],
                        template: row["template"],
                        channels: (row["channels"] as String).split(separator: ",").map(String.init),
                        status: row["status"], sentAt: row["sentAt"])
                }
            }
            return JSONResponse(PageResponse("notifications", fetched: items, page: page) { $0.notificationId })
        }
    }
}
