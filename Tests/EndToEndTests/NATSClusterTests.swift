import Contracts
import Foundation
import Messaging
import TestSupport
import Testing

/// docs/deployment.md ("On a NATS cluster"): the five services on a cluster of three NATS nodes,
/// every stream kept in three replicas, each service given all three URLs. While a load of mixed
/// orders runs, one node is killed (`kill -9`) and brought back, then another together with a
/// service; every order terminates and every guarantee of docs/architecture.md holds (checked by
/// `withCluster` over the streams and the APIs).
@Suite("The saga on a three-node NATS cluster", .serialized, .timeLimit(.minutes(4)))
struct NATSClusterTests {
    @Test func losingANodeAndThenANodeAndAServiceUnderLoadLosesNothing() async throws {
        try await withCluster(dispatchDelay: "300ms", environment: ChaosTests.environment, natsNodes: 3) { cluster in
            // Every stream the services made keeps three copies, all in the cluster's answer.
            let connection = try await cluster.nats.connect(name: "e2e-replicas")
            for stream in StreamDefinition.all.map(\.name) + [DeadLetter.stream] {
                let state = try await connection.streamState(stream)
                #expect(state.replicas == 3 && state.peers == 3, "\(stream): \(state)")
            }
            await connection.close()
            async let placed = cluster.placeLoad(count: 60, interval: .milliseconds(100))
            // The second node, then the first (which every service's URL list names first) with
            // shipping: each down for two seconds while orders flow.
            for (index, service) in [(1, nil), (0, "shipping")] as [(Int, String?)] {
                try await Task.sleep(for: .seconds(1.5))
                let node = cluster.natsNodes[index]
                try await Blocking.run { node.kill() }
                if let service { try await cluster.stopServiceAsync(service, signal: SIGKILL) }
                try await Task.sleep(for: .seconds(2))
                try await Blocking.run { try node.start() }
                if let service { try cluster.start(service) }
            }
            let ids = await placed
            #expect(ids.count == 60, "every order is eventually accepted (the client retries)")
            try await cluster.waitForAllFinal(ids, timeout: 120)
            return ids
        }
    }
}
