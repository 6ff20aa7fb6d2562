import Contracts
import Synchronization

/// The event handler of each stream a service reads, registered by `consumer(of:)`.
final class HandlerRegistry: Sendable {
    typealias Handle = EventConsumer<AnyEvent>.HandleBatch
    private let handlers = Mutex<[String: Handle]>([:])

    subscript(stream: String) -> Handle? {
        get { handlers.withLock { $0[stream] } }
        set { handlers.withLock { $0[stream] = newValue } }
    }
}
