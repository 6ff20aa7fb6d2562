// The test targets' helpers are the local-process library the tools use as well (a real nats-server
// on a free port, processes run and stopped by their PID): `import TestSupport` brings it in.
@_exported import LocalProcesses

/// The error the helpers throw, by the name the tests know it by.
public typealias TestSupportError = LocalProcessError
