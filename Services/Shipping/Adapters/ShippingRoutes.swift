import Foundation
import Hummingbird
import ServiceKit

/// `GET /shipments/<orderId>`, `POST /shipments/<orderId>/dispatch` (admin).
struct ShippingRoutes: Sendable {
    let handlers: ShippingHandlers

    struct ShipmentBody: Encodable, Sendable {
        let shipment: Shipment

        enum CodingKeys: CodingKey { case orderId, shipmentId, status, carrier, trackingNumber, estimatedDelivery }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(shipment.orderId, forKey: .orderId)
            try c.encode(shipment.shipmentId, forKey: .shipmentId)
            try c.encode(shipment.status.rawValue, forKey: .status)
            try c.encode(shipment.carrier, forKey: .carrier)
            try c.encode(shipment.trackingNumber, forKey: .trackingNumber)
            try c.encode(shipment.estimatedDelivery, forKey: .estimatedDelivery)
        }
    }

    func add(to router: Router<BasicRequestContext>) {
        let handlers = self.handlers
        let service = handlers.service
        router.get("/shipments/:orderId") { _, context -> JSONResponse<ShipmentBody> in
            let orderId = context.parameters.get("orderId") ?? ""
            guard
                let shipment = try await service.read({ db in try ShippingStore.shipment(orderId, in: db) }
                )
            else { throw APIError(.notFound, "no shipment was scheduled for \(orderId)") }
            return JSONResponse(ShipmentBody(shipment: shipment))
        }
        router.post("/shipments/:orderId/dispatch") { request, context -> JSONResponse<ShipmentBody> in
            try HTTPKit.requireAdmin(request, token: service.configuration.adminToken)
            let orderId = context.parameters.get("orderId") ?? ""
            switch try await handlers.dispatch(orderId) {
            case .notScheduled: throw APIError(.notFound, "no shipment was scheduled for \(orderId)")
            case .conflict(let reason): throw APIError(.conflict, reason)
            case .dispatched(let decision): return JSONResponse(ShipmentBody(shipment: decision.state.shipment!))
            }
        }
    }
}
