import Foundation
import Hummingbird
import ServiceKit

/// `GET /stock/<sku>`, `PUT /stock/<sku>` (admin), `GET /stock`.
struct InventoryRoutes: Sendable {
    let service: ServiceContext

    struct ProductBody: Encodable, Sendable {
        let sku: String
        let name: String
        let unitPrice: Int64
        let currency: String
        let onHand: Int64
        let reserved: Int64
        let available: Int64

        init(_ product: Product) {
            sku = product.sku
            name = product.name
            unitPrice = product.unitPrice
            currency = product.currency
            onHand = product.onHand
            reserved = product.reserved
            available = product.available
        }
    }

    struct PutProduct: Decodable, Sendable {
        let name: String
        let unitPrice: Int64
        let currency: String
        let onHand: Int64
    }

    func add(to router: Router<BasicRequestContext>) {
        let service = self.service
        router.get("/stock/:sku") { _, context -> JSONResponse<ProductBody> in
            let sku = try Self.sku(context)
            guard let product = try await service.read({ db in try InventoryStore.product(sku, in: db) })
            else {
                throw APIError(.notFound, "no product \(sku)")
            }
            return JSONResponse(ProductBody(product))
        }
        router.put("/stock/:sku") { request, context -> JSONResponse<ProductBody> in
            try HTTPKit.requireAdmin(request, token: service.configuration.adminToken)
            let sku = try Self.sku(context)
            let body = try await JSONBody.decode(PutProduct.self, from: request)
            guard (1...200).contains(body.name.count) else {
                throw APIError.validation("name", "must be 1-200 characters")
            }
            guard (0...1_000_000_000).contains(body.unitPrice) else {
                throw APIError.validation("unitPrice", "must be between 0 and 1000000000")
            }
            guard body.currency == service.configuration.currency else {
                throw APIError.validation(
                    "currency", "must be \(service.configuration.currency), the deployment's currency")
            }
            guard (0...1_000_000_000).contains(body.onHand) else {
                throw APIError.validation("onHand", "must be between 0 and 1000000000")
            }
            let product = try await service.write { db -> Product? in
                // Another instance may be reserving this product right now.
                try db.lock([LockKey.product(sku)])
                let existing = try InventoryStore.product(sku, in: db)
                let reserved = existing?.reserved ?? 0
                guard body.onHand >= reserved else { return nil }
                let product = Product(
                    sku: sku, name: body.name, unitPrice: body.unitPrice, currency: body.currency, onHand: body.onHand,
                    reserved: reserved)
                try InventoryStore.save(product, in: db)
                return product
            }
            guard let product else { throw APIError(.conflict, "onHand may not go below what is reserved") }
            return JSONResponse(ProductBody(product))
        }
        router.get("/stock") { request, _ -> JSONResponse<PageResponse<ProductBody>> in
            let page = try Page(request, cursors: service.store.cursors)
            let products = try await service.read { db in
                try InventoryStore.products(after: page.after, limit: page.limit + 1, in: db)
            }
            return JSONResponse(
                PageResponse("items", fetched: products.map(ProductBody.init), page: page) { $0.sku })
        }
    }

    static func sku(_ context: BasicRequestContext) throws -> String {
        let sku = context.parameters.get("sku") ?? ""
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard (1...64).contains(sku.count), sku.allSatisfy(allowed.contains) else {
            throw APIError.validation("sku", "must be 1-64 characters of A-Z 0-9 _ -")
        }
        return sku
    }
}
