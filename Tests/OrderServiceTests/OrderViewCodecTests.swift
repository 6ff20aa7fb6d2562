import Contracts
import Foundation
import Testing

@testable import OrderService

@Suite("The order projection's storage format")
struct OrderViewCodecTests {
    static let bare = OrderState(
        orderId: "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7F", customerId: "cus_42", status: .PENDING, cancellationReason: nil,
        lines: [Line(sku: "SKU-RED-MUG", quantity: 2)], unitPrices: nil, total: nil, currency: nil, shipmentId: nil,
        trackingNumber: nil, paymentId: nil, cancellationRequestedAt: nil, createdAt: "2026-12-06T10:00:00.000Z",
        updatedAt: "2026-12-06T10:00:00.000Z", version: 1)

    static let full = OrderState(
        orderId: "ord_01JD8Z6Q4Y3K5V7W9X1Z3B5D7G", customerId: "cus_ädä", status: .CANCELLED,
        cancellationReason: .customerRequest,
        lines: (1...100).map { Line(sku: "SKU-\($0)", quantity: $0 * 10) },
        unitPrices: Dictionary(uniqueKeysWithValues: (1...100).map { ("SKU-\($0)", Int64($0) * 1_000_000_007) }),
        total: Int64.max, currency: "USD", shipmentId: "shp_1", trackingNumber: "TRK-1", paymentId: "pay_1",
        cancellationRequestedAt: "2026-12-06T10:00:01.000Z", createdAt: "2026-12-06T10:00:00.000Z",
        updatedAt: "2026-12-06T10:00:02.000Z", version: 300)

    @Test(arguments: [bare, full])
    func roundTrips(_ state: OrderState) throws {
        let data = OrderViewCodec.encode(state)
        #expect(data.first == OrderViewCodec.tag)
        #expect(try OrderViewCodec.decode(data) == state)
        // The same state is always the same bytes (prices are written in a fixed order).
        #expect(OrderViewCodec.encode(try OrderViewCodec.decode(data)) == data)
    }

    @Test func everyStatusAndReasonRoundTrips() throws {
        for status in [OrderState.Status.PENDING, .CONFIRMED, .SHIPPED, .CANCELLED] {
            for reason in [nil] + CancellationReason.allCases.map(Optional.some) {
                var state = Self.bare
                state.status = status
                state.cancellationReason = reason
                #expect(try OrderViewCodec.decode(OrderViewCodec.encode(state)) == state)
            }
        }
    }

    @Test func readsRowsWrittenAsJSONBeforeTheFormat() throws {
        let json = try JSONEncoder().encode(Self.full)
        #expect(try OrderViewCodec.decode(json) == Self.full)
    }

    @Test func refusesEveryTruncationAndTrailingBytesWithAnError() throws {
        let data = OrderViewCodec.encode(Self.full)
        for length in 0..<data.count {
            #expect(throws: (any Error).self) { try OrderViewCodec.decode(data.prefix(length)) }
        }
        #expect(throws: OrderViewCodec.Malformed.self) { try OrderViewCodec.decode(data + [0]) }
        #expect(throws: OrderViewCodec.Malformed.self) { try OrderViewCodec.decode(Data([0x00, 0x01])) }
    }

    @Test func aHugeLengthIsRefusedWithoutAllocating() throws {
        // Tag, then an orderId length of 2^63: more than the bytes left.
        let data = Data([OrderViewCodec.tag, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x41])
        #expect(throws: OrderViewCodec.Malformed.self) { try OrderViewCodec.decode(data) }
    }
}
