import Contracts
import ServiceTestSupport
import Testing

@testable import InventoryService

@Suite("Inventory decisions")
struct InventoryDecisionTests {
    let mug = Product(sku: "SKU-MUG", name: "Mug", unitPrice: 1250, currency: "USD", onHand: 10, reserved: 0)

    func state(_ products: [Product], cancelled: Bool = false) -> InventoryState {
        InventoryState(
            products: Dictionary(uniqueKeysWithValues: products.map { ($0.sku, $0) }), reservation: nil,
            cancelled: cancelled)
    }

    @Test func reservesAndPricesEveryLine() throws {
        let placed = Fixture.placed()
        let decision = InventoryDecisions.placed(state([mug]), placed)
        #expect(decision.state.products["SKU-MUG"]?.reserved == 2)
        guard case .inventoryReserved(let reserved) = try #require(decision.events.first) else {
            Issue.record("expected inventory.reserved, got \(decision.events)")
            return
        }
        #expect(reserved.data.total == 2500)
        #expect(reserved.data.pricedLines == [PricedLine(sku: "SKU-MUG", quantity: 2, unitPrice: 1250)])
        #expect(reserved.causationid == placed.id)
        // The same trace, the same flags, in a span of its own.
        let parent = try #require(placed.traceparent)
        let child = try #require(reserved.traceparent)
        #expect(child != parent)
        #expect(child.prefix(36) == parent.prefix(36) && child.suffix(3) == parent.suffix(3))
        #expect(TraceParent.isValid(child))
    }

    /// Issue 10 (low): the same SKU on two lines of an event is checked against the stock as their
    /// sum — 6 and 6 of 10 mugs is out of stock, not two reservations that oversell.
    @Test func duplicateSkusInAnEventCountAsTheirSum() throws {
        let oversold = Fixture.placed([Line(sku: "SKU-MUG", quantity: 6), Line(sku: "SKU-MUG", quantity: 6)])
        let refused = InventoryDecisions.placed(state([mug]), oversold)
        #expect(refused.state.products["SKU-MUG"]?.reserved == 0)
        guard case .inventoryRejected(let rejected) = try #require(refused.events.first) else {
            Issue.record("expected inventory.rejected, got \(refused.events)")
            return
        }
        #expect(rejected.data.reason == .outOfStock)
        #expect(rejected.data.lines == [RejectedLine(sku: "SKU-MUG", requested: 12, available: 10)])

        let fits = Fixture.placed([Line(sku: "SKU-MUG", quantity: 3), Line(sku: "SKU-MUG", quantity: 4)])
        let decision = InventoryDecisions.placed(state([mug]), fits)
        #expect(decision.state.products["SKU-MUG"]?.reserved == 7)
        let reserved = try #require(
            decision.events.first.flatMap { if case .inventoryReserved(let e) = $0 { e } else { nil } })
        #expect(reserved.data.pricedLines == [PricedLine(sku: "SKU-MUG", quantity: 7, unitPrice: 1250)])
        #expect(reserved.data.total == 7 * 1250)
        #expect(decision.state.reservation?.lines == [Line(sku: "SKU-MUG", quantity: 7)])
    }

    @Test func unknownSkuWinsOverOutOfStockAndNothingIsReserved() throws {
        var scarce = mug
        scarce.onHand = 1
        let placed = Fixture.placed([Line(sku: "SKU-MUG", quantity: 2), Line(sku: "SKU-GHOST", quantity: 1)])
        let decision = InventoryDecisions.placed(state([scarce]), placed)
        #expect(decision.state.products["SKU-MUG"]?.reserved == 0)
        guard case .inventoryRejected(let rejected) = try #require(decision.events.first) else {
            Issue.record("expected inventory.rejected")
            return
        }
        #expect(rejected.data.reason == .unknownSku)
        #expect(rejected.data.lines == [RejectedLine(sku: "SKU-GHOST", requested: 1, available: 0)])
    }

    @Test func outOfStockNamesOnlyTheShortLines() throws {
        var scarce = mug
        scarce.onHand = 1
        let decision = InventoryDecisions.placed(state([scarce]), Fixture.placed())
        guard case .inventoryRejected(let rejected) = try #require(decision.events.first) else {
            Issue.record("expected inventory.rejected")
            return
        }
        #expect(rejected.data.reason == .outOfStock)
        #expect(rejected.data.lines == [RejectedLine(sku: "SKU-MUG", requested: 2, available: 1)])
    }

    @Test func aCancelledOrderAcquiresNothingAndAReservationIsReleasedOnCancel() {
        #expect(InventoryDecisions.placed(state([mug], cancelled: true), Fixture.placed()).events.isEmpty)
        let reserved = InventoryDecisions.placed(state([mug]), Fixture.placed()).state
        let released = InventoryDecisions.cancelled(reserved, Fixture.cancelled())
        #expect(released.state.products["SKU-MUG"]?.reserved == 0)
        #expect(released.events.map(\.type) == ["troupe.inventory.released.v1"])
        // A second cancellation changes nothing.
        #expect(InventoryDecisions.cancelled(released.state, Fixture.cancelled()).events.isEmpty)
    }

    @Test func dispatchCommitsOrWaitsForTheReservation() {
        guard case .notYet = InventoryDecisions.dispatched(state([mug]), Fixture.dispatched()) else {
            Issue.record("a dispatch before the reservation must wait")
            return
        }
        let reserved = InventoryDecisions.placed(state([mug]), Fixture.placed()).state
        guard case .decided(let committed) = InventoryDecisions.dispatched(reserved, Fixture.dispatched()) else {
            Issue.record("expected a commit")
            return
        }
        #expect(committed.state.products["SKU-MUG"]?.onHand == 8)
        #expect(committed.state.products["SKU-MUG"]?.reserved == 0)
        #expect(committed.events.map(\.type) == ["troupe.inventory.committed.v1"])
    }
}
