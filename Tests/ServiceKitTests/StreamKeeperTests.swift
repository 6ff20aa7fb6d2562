import Contracts
import Messaging
import Testing

@testable import ServiceKit

/// Issue 10.5, the mapping: each service owns its own domain's stream only.
@Suite("Which streams a service owns")
struct StreamKeeperTests {
    @Test func eachServiceOwnsItsDomainsStreamSharesDeadLettersAndOnlyReadsTheRest() {
        let owned = [
            "order": "ORDERS", "inventory": "INVENTORY", "payment": "PAYMENTS", "shipping": "SHIPPING",
            "notification": "NOTIFICATIONS",
        ]
        for (service, own) in owned {
            for definition in StreamDefinition.all {
                let ownership = StreamKeeper.ownership(of: StreamConfiguration(definition), by: service)
                let expected: StreamOwnership =
                    definition.name == own ? .own : definition.name == DeadLetter.stream ? .shared : .others
                #expect(ownership == expected, "\(service) on \(definition.name)")
            }
        }
        // A name that is no producer owns nothing.
        #expect(StreamKeeper.ownership(of: StreamConfiguration(.orders), by: "rogue") == .others)
    }
}
