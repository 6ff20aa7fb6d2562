import Hummingbird
import ServiceKit

/// `GET /accounts/<customerId>`, `PUT /accounts/<customerId>` (admin), `GET /payments/<orderId>`.
struct PaymentRoutes: Sendable {
    let service: ServiceContext

    struct AccountBody: Encodable, Sendable {
        let customerId: String
        let currency: String
        let creditLimit: Int64
        let authorized: Int64
        let captured: Int64
        let available: Int64

        init(_ a: Account) {
            customerId = a.customerId
            currency = a.currency
            creditLimit = a.creditLimit
            authorized = a.authorized
            captured = a.captured
            available = a.available
        }
    }

    struct PutAccount: Decodable, Sendable {
        let currency: String
        let creditLimit: Int64
    }

    struct PaymentBody: Encodable, Sendable {
        let payment: Payment

        enum CodingKeys: CodingKey { case orderId, paymentId, status, amount, currency }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(payment.orderId, forKey: .orderId)
            try c.encode(payment.paymentId, forKey: .paymentId)
            try c.encode(payment.status.rawValue, forKey: .status)
            try c.encode(payment.amount, forKey: .amount)
            try c.encode(payment.currency, forKey: .currency)
        }
    }

    func add(to router: Router<BasicRequestContext>) {
        let service = self.service
        router.get("/accounts/:customerId") { _, context -> JSONResponse<AccountBody> in
            let customerId = try Self.customerId(context)
            guard
                let account = try await service.read({ db in try PaymentStore.account(customerId, in: db) }
                )
            else { throw APIError(.notFound, "no account for \(customerId)") }
            return JSONResponse(AccountBody(account))
        }
        router.put("/accounts/:customerId") { request, context -> JSONResponse<AccountBody> in
            try HTTPKit.requireAdmin(request, token: service.configuration.adminToken)
            let customerId = try Self.customerId(context)
            let body = try await JSONBody.decode(PutAccount.self, from: request)
            guard body.currency == service.configuration.currency else {
                throw APIError.validation(
                    "currency", "must be \(service.configuration.currency), the deployment's currency")
            }
            guard (0...1_000_000_000_000).contains(body.creditLimit) else {
                throw APIError.validation("creditLimit", "must be between 0 and 1000000000000")
            }
            let account = try await service.write { db -> Account in
                // Another instance may be authorising against this account right now.
                try db.lock([LockKey.account(customerId)])
                var account =
                    try PaymentStore.account(customerId, in: db)
                    ?? Account(
                        customerId: customerId, currency: body.currency, creditLimit: 0, authorized: 0, captured: 0)
                account.creditLimit = body.creditLimit
                account.currency = body.currency
                try PaymentStore.save(account, in: db)
                return account
            }
            return JSONResponse(AccountBody(account))
        }
        router.get("/payments/:orderId") { _, context -> JSONResponse<PaymentBody> in
            let orderId = context.parameters.get("orderId") ?? ""
            guard let payment = try await service.read({ db in try PaymentStore.payment(orderId, in: db) })
            else { throw APIError(.notFound, "payment never saw order \(orderId)") }
            return JSONResponse(PaymentBody(payment: payment))
        }
    }

    static func customerId(_ context: BasicRequestContext) throws -> String {
        let id = context.parameters.get("customerId") ?? ""
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
        guard (1...64).contains(id.count), id.allSatisfy(allowed.contains) else {
            throw APIError.validation("customerId", "must be 1-64 characters of A-Z a-z 0-9 _ -")
        }
        return id
    }
}
