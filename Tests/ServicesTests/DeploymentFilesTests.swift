import Foundation
import ServiceKit
import TestSupport
import Testing
import Yams

@testable import InventoryService
@testable import NotificationService
@testable import OrderService
@testable import PaymentService
@testable import ShippingService

/// No container runtime can pull an image on the machines this suite runs on, so the container,
/// compose and Kubernetes files are checked against the code instead (docs/deployment.md): every
/// `TROUPE_*` variable they set is a setting of that service and has a value the service accepts,
/// ports and probe paths are the ones it serves, every service is there, and the NATS permissions
/// are the ones `make up` gives. Each check below fails when the file or the code drifts.
@Suite("The deployment files agree with the code")
struct DeploymentFilesTests {
    static let descriptors = [
        OrderApp.descriptor, InventoryApp.descriptor, PaymentApp.descriptor, ShippingApp.descriptor,
        NotificationApp.descriptor,
    ]

    static let root = Repository.root

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    static func specs(_ descriptor: ServiceDescriptor) -> [SettingSpec] {
        ServiceConfiguration.specs(service: descriptor.name, defaultPort: descriptor.defaultPort) + descriptor.settings
    }

    /// The problems the service would print at start with `environment` (and nothing else) set;
    /// a variable that is no setting of the service is one too.
    static func problems(_ descriptor: ServiceDescriptor, _ environment: [String: String]) -> [String] {
        let known = Set(specs(descriptor).map(\.environment))
        var problems = environment.keys.filter { !known.contains($0) }.sorted().map { "\($0) is no setting" }
        do {
            let settings = try Settings(specs: specs(descriptor), arguments: [], environment: environment)
            var reader = SettingsReader(settings)
            _ = ServiceConfiguration.read(&reader, service: descriptor.name)
            if descriptor.name == "shipping" { _ = try ShippingApp.policy(settings) }
            try reader.finish()
        } catch let error as SettingsError {
            problems += error.problems
        } catch {
            problems.append("\(error)")
        }
        return problems
    }

    // MARK: The container image

    struct Containerfile {
        var stages: [[(instruction: String, argument: String)]] = []
        var args: [String: String] = [:]

        init(_ text: String) {
            // Continuation lines joined, comments dropped.
            let joined = text.replacingOccurrences(of: "\\\n", with: " ")
            for line in joined.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard !line.isEmpty, !line.hasPrefix("#") else { continue }
                let instruction = String(line.prefix { $0 != " " }).uppercased()
                let argument = line.dropFirst(instruction.count).trimmingCharacters(in: .whitespaces)
                if instruction == "FROM" { stages.append([]) }
                if instruction == "ARG", stages.isEmpty, let equals = argument.firstIndex(of: "=") {
                    args[String(argument[..<equals])] = String(argument[argument.index(after: equals)...])
                }
                if !stages.isEmpty { stages[stages.count - 1].append((instruction, argument)) }
            }
        }

        func all(_ instruction: String, stage: Int) -> [String] {
            stages[stage].filter { $0.instruction == instruction }.map(\.argument)
        }

        /// The runtime stage's `ENV` as a dictionary.
        var environment: [String: String] {
            var environment: [String: String] = [:]
            for argument in all("ENV", stage: stages.count - 1) {
                for pair in argument.split(separator: " ") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    if parts.count == 2 { environment[parts[0]] = parts[1] }
                }
            }
            return environment
        }
    }

    static func containerfile() throws -> Containerfile {
        Containerfile(try text("deploy/container/Containerfile"))
    }

    @Test func theImageBuildsEveryServiceOnTheOfficialSwiftImageAndRunsItSlimAndNonRoot() throws {
        let file = try Self.containerfile()
        try #require(file.stages.count == 2)
        #expect(file.all("FROM", stage: 0) == ["${SWIFT_IMAGE} AS build"])
        #expect(file.args["SWIFT_IMAGE"]?.hasPrefix("docker.io/library/swift:") == true)
        #expect(file.all("FROM", stage: 1) == ["${RUNTIME_IMAGE}"])
        #expect(file.args["RUNTIME_IMAGE"]?.hasSuffix("-slim") == true)
        // The service is the build argument: every service, and nothing else, is accepted.
        let check = try #require(file.all("RUN", stage: 0).first { $0.contains("case") })
        let accepted = check.components(separatedBy: "in ").dropFirst().first?.components(separatedBy: ")").first?
            .split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(accepted.map(Set.init) == Set(Self.descriptors.map(\.name)))
        #expect(
            file.all("RUN", stage: 0).contains { $0.contains("--static-swift-stdlib --product \"${SERVICE}-service\"") }
        )
        // Every folder a target of Package.swift lives in is copied into the build.
        let manifest = try Self.text("Package.swift")
        let folders = Set(
            manifest.components(separatedBy: "path: \"").dropFirst().compactMap { $0.split(separator: "/").first }
                .map(String.init))
        let copied = Set(file.all("COPY", stage: 0).compactMap { $0.split(separator: " ").first.map(String.init) })
        #expect(folders.subtracting(copied).isEmpty, "not copied: \(folders.subtracting(copied))")
        // Non-root, by number (Kubernetes' runAsNonRoot can only check a number).
        let user = try #require(file.all("USER", stage: 1).last)
        let uid = try #require(Int(user.split(separator: ":")[0]))
        #expect(uid != 0)
        // Port, probe and volume are the service's own settings.
        let environment = file.environment
        let port = try #require(environment["TROUPE_HTTP_PORT"])
        #expect(file.all("EXPOSE", stage: 1) == [port])
        let health = try #require(file.all("HEALTHCHECK", stage: 1).first)
        #expect(health.contains("http://127.0.0.1:\(port)/health/live"))
        #expect(file.all("VOLUME", stage: 1) == ["[\"\(environment["TROUPE_DATA_DIR"] ?? "?")\"]"])
        #expect(file.all("ENTRYPOINT", stage: 1) == ["[\"/usr/local/bin/troupe-service\"]"])
        for descriptor in Self.descriptors {
            #expect(Self.problems(descriptor, environment).isEmpty, "\(descriptor.name)")
        }
    }

    @Test func theContainerBuildLeavesOutWhatItDoesNotNeed() throws {
        for name in [".containerignore", ".dockerignore"] {
            let ignored = Set(try Self.text(name).split(separator: "\n").map(String.init))
            #expect(ignored.isSuperset(of: [".build", ".troupe", "dist", ".git"]), "\(name)")
        }
    }

    // MARK: Compose

    /// `${VAR:-default}` is its default; `${VAR:?message}` (the operator must set it) a valid token.
    static func interpolated(_ value: String) -> String {
        guard value.hasPrefix("${"), value.hasSuffix("}") else { return value }
        let inner = value.dropFirst(2).dropLast()
        if let range = inner.range(of: ":-") { return String(inner[range.upperBound...]) }
        if inner.contains(":?") { return "an-operator-chosen-token-0123456789" }
        return ""
    }

    static func compose() throws -> [String: Any] {
        try #require(try Yams.load(yaml: try text("deploy/compose.yaml")) as? [String: Any])
    }

    @Test func composeRunsNATSWithJetStreamAndEveryServiceFromTheImage() throws {
        let compose = try Self.compose()
        let services = try #require(compose["services"] as? [String: Any])
        #expect(Set(services.keys) == Set(Self.descriptors.map(\.name) + ["nats"]))
        let nats = try #require(services["nats"] as? [String: Any])
        #expect((nats["command"] as? [String])?.contains("--jetstream") == true)
        #expect((nats["healthcheck"] as? [String: Any]) != nil)
        let image = try Self.containerfile().environment
        for descriptor in Self.descriptors {
            let service = try #require(services[descriptor.name] as? [String: Any], "\(descriptor.name)")
            let build = try #require(service["build"] as? [String: Any])
            #expect((build["args"] as? [String: String])?["SERVICE"] == descriptor.name)
            let dockerfile = try #require(build["dockerfile"] as? String)
            #expect(
                FileManager.default.fileExists(
                    atPath: Self.root.appendingPathComponent("deploy").appendingPathComponent(
                        build["context"] as? String ?? "?"
                    )
                    .appendingPathComponent(dockerfile).path), "\(descriptor.name)")
            // The variables: the image's, then compose's, with what the operator leaves unset at its default.
            let raw = try #require(service["environment"] as? [String: Any])
            let environment = raw.mapValues { Self.interpolated("\($0)") }
            #expect(
                Self.problems(descriptor, image.merging(environment) { _, new in new }).isEmpty,
                "\(descriptor.name): \(Self.problems(descriptor, image.merging(environment) { _, new in new }))")
            #expect(environment["TROUPE_NATS_URL"] == "nats://nats:4222")
            // Published on the port `make up` uses, to the port the image listens on.
            #expect(
                service["ports"] as? [String] == ["127.0.0.1:\(descriptor.defaultPort):\(image["TROUPE_HTTP_PORT"]!)"])
            let volumes = try #require(service["volumes"] as? [String])
            #expect(volumes == ["\(descriptor.name)-data:\(image["TROUPE_DATA_DIR"]!)"])
            #expect((compose["volumes"] as? [String: Any])?.keys.contains("\(descriptor.name)-data") == true)
            #expect(service["read_only"] as? Bool == true)
            let dependsOn = try #require(service["depends_on"] as? [String: Any])
            #expect((dependsOn["nats"] as? [String: String])?["condition"] == "service_healthy")
        }
    }

    /// `compose.scaled.yaml` over `compose.yaml`: PostgreSQL with a database per service, every
    /// service's store in its database, and a second instance of each on the same database, on the
    /// port + 1000, waiting for NATS and PostgreSQL.
    @Test func theScaledComposeFileAddsPostgreSQLAndASecondInstanceOfEveryService() throws {
        let scaled = try #require(try Yams.load(yaml: try Self.text("deploy/compose.scaled.yaml")) as? [String: Any])
        let services = try #require(scaled["services"] as? [String: Any])
        let base = try #require(try Self.compose()["services"] as? [String: Any])
        let image = try Self.containerfile().environment
        let postgres = try #require(services["postgres"] as? [String: Any])
        #expect((postgres["healthcheck"] as? [String: Any]) != nil)
        let initSQL = try Self.text("deploy/postgres-init.sql")
        #expect(
            (postgres["volumes"] as? [String])?.contains(
                "./postgres-init.sql:/docker-entrypoint-initdb.d/troupe.sql:ro") == true)
        // `${VAR}` inside a value: the operator's choice, any valid text.
        func resolved(_ value: Any?) -> String {
            "\(value ?? "")".replacingOccurrences(of: "${TROUPE_POSTGRES_PASSWORD}", with: "chosen-password")
        }
        for descriptor in Self.descriptors {
            let name = descriptor.name
            #expect(initSQL.contains("CREATE DATABASE troupe_\(name);"), "\(name)")
            // The first instance: compose.yaml's service, with its database added.
            let first = try #require(services[name] as? [String: Any], "\(name)")
            let url = resolved((first["environment"] as? [String: Any])?["TROUPE_DATABASE_URL"])
            #expect(url == "postgres://troupe:chosen-password@postgres:5432/troupe_\(name)", "\(name)")
            let firstDependsOn = try #require(first["depends_on"] as? [String: Any])
            #expect((firstDependsOn["postgres"] as? [String: String])?["condition"] == "service_healthy")
            var environment = image.merging(
                ((base[name] as? [String: Any])?["environment"] as? [String: Any] ?? [:]).mapValues {
                    Self.interpolated("\($0)")
                }
            ) { _, new in new }
            environment["TROUPE_DATABASE_URL"] = url
            #expect(
                Self.problems(descriptor, environment).isEmpty, "\(name): \(Self.problems(descriptor, environment))")
            // The second: the same service, the same database, on the port + 1000, a volume of its own.
            let second = try #require(services["\(name)-2"] as? [String: Any], "\(name)-2")
            #expect((second["extends"] as? [String: String]) == ["file": "compose.yaml", "service": name])
            #expect(resolved((second["environment"] as? [String: Any])?["TROUPE_DATABASE_URL"]) == url)
            #expect(second["ports"] as? [String] == ["127.0.0.1:\(descriptor.defaultPort + 1000):8080"], "\(name)")
            #expect(second["volumes"] as? [String] == ["\(name)-2-data:/var/lib/troupe/data"], "\(name)")
            #expect((scaled["volumes"] as? [String: Any])?.keys.contains("\(name)-2-data") == true)
            let dependsOn = try #require(second["depends_on"] as? [String: Any])
            #expect(Set(dependsOn.keys) == ["nats", "postgres"], "\(name)")
        }
    }

    @Test func aVariableThatIsNoSettingIsCaught() {
        // The check the files rely on: it must refuse what the service would refuse.
        #expect(!Self.problems(PaymentApp.descriptor, ["TROUPE_PAYMENT_LIMIT": "1"]).isEmpty)
        #expect(!Self.problems(ShippingApp.descriptor, ["TROUPE_SHIPPING_DISPATCH_DELAY": "soon"]).isEmpty)
        #expect(!Self.problems(OrderApp.descriptor, ["TROUPE_HTTP_PORT": "eighty"]).isEmpty)
        #expect(Self.problems(OrderApp.descriptor, ["TROUPE_HTTP_PORT": "8080"]).isEmpty)
    }

    // MARK: Kubernetes

    /// Every document of the base's resources.
    static func kubernetesBase() throws -> [[String: Any]] {
        let kustomization = try #require(
            try Yams.load(yaml: try text("deploy/kubernetes/base/kustomization.yaml")) as? [String: Any])
        var documents: [[String: Any]] = []
        for resource in try #require(kustomization["resources"] as? [String]) {
            for document in try Yams.load_all(yaml: try text("deploy/kubernetes/base/\(resource)")) {
                documents.append(try #require(document as? [String: Any]))
            }
        }
        return documents
    }

    static func find(_ documents: [[String: Any]], _ kind: String, _ name: String) -> [String: Any]? {
        documents.first {
            $0["kind"] as? String == kind && ($0["metadata"] as? [String: Any])?["name"] as? String == name
        }
    }

    @Test func kubernetesRunsEveryServiceWithItsProbesItsStoreAndNoRoot() throws {
        let documents = try Self.kubernetesBase()
        let image = try Self.containerfile().environment
        let imagePort = try #require(Int(image["TROUPE_HTTP_PORT"] ?? ""))
        for descriptor in Self.descriptors {
            let name = "troupe-\(descriptor.name)"
            let deployment = try #require(Self.find(documents, "Deployment", name), "\(name)")
            let spec = try #require(deployment["spec"] as? [String: Any])
            #expect(spec["replicas"] as? Int == 1)
            let pod = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
            let podSecurity = try #require(pod["securityContext"] as? [String: Any])
            #expect(podSecurity["runAsNonRoot"] as? Bool == true)
            #expect((podSecurity["runAsUser"] as? Int ?? 0) != 0)
            let container = try #require((pod["containers"] as? [[String: Any]])?.first)
            #expect((container["image"] as? String)?.hasPrefix("\(name):") == true)
            let security = try #require(container["securityContext"] as? [String: Any])
            #expect(security["readOnlyRootFilesystem"] as? Bool == true)
            #expect(security["allowPrivilegeEscalation"] as? Bool == false)
            let resources = try #require(container["resources"] as? [String: Any])
            for key in ["requests", "limits"] {
                let amounts = try #require(resources[key] as? [String: Any], "\(name) \(key)")
                #expect(amounts["cpu"] != nil && amounts["memory"] != nil, "\(name) \(key)")
            }
            // Ports and probes: the port the image listens on, the service's health paths.
            let ports = try #require(container["ports"] as? [[String: Any]])
            #expect(
                ports.count == 1 && ports[0]["containerPort"] as? Int == imagePort
                    && ports[0]["name"] as? String == "http")
            for (probe, path) in [("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")] {
                let get = try #require(
                    (container[probe] as? [String: Any])?["httpGet"] as? [String: Any], "\(name) \(probe)")
                #expect(get["path"] as? String == path && get["port"] as? String == "http", "\(name) \(probe)")
            }
            let service = try #require(Self.find(documents, "Service", name))
            let servicePorts = try #require((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]])
            #expect(servicePorts.map { $0["targetPort"] as? String } == ["http"])
            // The variables: the image's, the config maps', the secrets'.
            var environment = image
            for source in container["envFrom"] as? [[String: Any]] ?? [] {
                let reference = try #require((source["configMapRef"] as? [String: Any])?["name"] as? String)
                let map = try #require(
                    Self.find(documents, "ConfigMap", reference), "\(name): no ConfigMap \(reference)")
                for (key, value) in map["data"] as? [String: Any] ?? [:] { environment[key] = "\(value)" }
            }
            for variable in container["env"] as? [[String: Any]] ?? [] {
                let key = try #require(variable["name"] as? String)
                let reference = try #require(
                    ((variable["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: Any]))
                let secret = try #require(Self.find(documents, "Secret", reference["name"] as? String ?? "?"))
                let value = (secret["stringData"] as? [String: Any])?[reference["key"] as? String ?? "?"]
                environment[key] = try #require(value as? String, "\(name): \(key) refers to nothing")
            }
            // The store on the volume, the NATS identity from the service's secret.
            let mounts = try #require(container["volumeMounts"] as? [[String: Any]])
            let volumes = try #require(pod["volumes"] as? [[String: Any]])
            func volume(at path: String) -> [String: Any]? {
                guard
                    let mount = mounts.first(where: {
                        let mounted = $0["mountPath"] as? String ?? "?"
                        return path == mounted || path.hasPrefix("\(mounted)/")
                    })
                else { return nil }
                return volumes.first { $0["name"] as? String == mount["name"] as? String }
            }
            let data = try #require(volume(at: environment["TROUPE_DATA_DIR"] ?? "?"), "\(name): store not on a volume")
            let claim = try #require((data["persistentVolumeClaim"] as? [String: Any])?["claimName"] as? String)
            #expect(Self.find(documents, "PersistentVolumeClaim", claim) != nil)
            let credentials = try #require(volume(at: environment["TROUPE_NATS_CREDENTIALS"] ?? "?"), "\(name)")
            let secretVolume = try #require(credentials["secret"] as? [String: Any])
            let secret = try #require(Self.find(documents, "Secret", secretVolume["secretName"] as? String ?? "?"))
            let file = try #require((environment["TROUPE_NATS_CREDENTIALS"] ?? "").split(separator: "/").last)
            let items = try #require(secretVolume["items"] as? [[String: Any]])
            let key = try #require(items.first { $0["path"] as? String == String(file) }?["key"] as? String)
            let identity = try #require((secret["stringData"] as? [String: Any])?[key] as? String)
            let user = try JSONSerialization.jsonObject(with: Data(identity.utf8)) as? [String: String]
            #expect(user?["user"] == descriptor.name && user?["password"] != nil)
            // What the pod would read there, read by the service's own settings reader.
            let mounted = FileManager.default.temporaryDirectory.appendingPathComponent("troupe-k8s-\(UUID()).json")
            try Data(identity.utf8).write(to: mounted)
            defer { try? FileManager.default.removeItem(at: mounted) }
            environment["TROUPE_NATS_CREDENTIALS"] = mounted.path
            #expect(
                Self.problems(descriptor, environment).isEmpty, "\(name): \(Self.problems(descriptor, environment))")
        }
    }

    @Test func theOverlayChangesOnlyWhatTheBaseHas() throws {
        let overlay = try #require(
            try Yams.load(yaml: try Self.text("deploy/kubernetes/overlays/nats-cluster/kustomization.yaml"))
                as? [String: Any])
        #expect(overlay["resources"] as? [String] == ["../../base"])
        let documents = try Self.kubernetesBase()
        for patch in try #require(overlay["patches"] as? [[String: Any]]) {
            let target = try #require(patch["target"] as? [String: String])
            let document = try #require(Self.find(documents, target["kind"] ?? "?", target["name"] ?? "?"))
            let operations = try #require(try Yams.load(yaml: patch["patch"] as? String ?? "") as? [[String: Any]])
            for operation in operations {
                let path = try #require(operation["path"] as? String).split(separator: "/").map(String.init)
                #expect(path.count == 2 && (document[path[0]] as? [String: Any])?[path[1]] != nil, "\(path)")
                if path.last == "TROUPE_STREAM_REPLICAS" {
                    #expect(
                        Self.problems(OrderApp.descriptor, ["TROUPE_STREAM_REPLICAS": "\(operation["value"] ?? "")"])
                            .isEmpty)
                }
            }
        }
    }

    /// `overlays/scaled`: two instances of every service, each given its database's URL from its
    /// Secret (a URL the service accepts), no SQLite volume, updates one pod at a time; every patch
    /// names something the base has.
    @Test func theScaledOverlayRunsTwoInstancesOfEveryServiceOnItsDatabase() throws {
        let overlay = try #require(
            try Yams.load(yaml: try Self.text("deploy/kubernetes/overlays/scaled/kustomization.yaml"))
                as? [String: Any])
        #expect(overlay["resources"] as? [String] == ["../nats-cluster"])
        let documents = try Self.kubernetesBase()
        let patches = try #require(overlay["patches"] as? [[String: Any]])
        for descriptor in Self.descriptors {
            let name = "troupe-\(descriptor.name)"
            func operations(_ kind: String) throws -> [[String: Any]] {
                let patch = try #require(
                    patches.first { ($0["target"] as? [String: String]) == ["kind": kind, "name": name] },
                    "\(kind) \(name)")
                return try #require(try Yams.load(yaml: patch["patch"] as? String ?? "") as? [[String: Any]])
            }
            let deployment = try #require(Self.find(documents, "Deployment", name))
            let changes = try operations("Deployment")
            let value = { (path: String) in changes.first { $0["path"] as? String == path }?["value"] }
            #expect(value("/spec/replicas") as? Int == 2, "\(name)")
            #expect((value("/spec/strategy") as? [String: Any])?["type"] as? String == "RollingUpdate", "\(name)")
            let variable = try #require(value("/spec/template/spec/containers/0/env/-") as? [String: Any], "\(name)")
            #expect(variable["name"] as? String == "TROUPE_DATABASE_URL")
            let reference = ((variable["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: String])
            #expect(reference == ["name": name, "key": "database-url"], "\(name)")
            // The volume replaced is the store's, the first of the base's pod.
            let pod = try #require(
                ((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
            let volumes = try #require(pod["volumes"] as? [[String: Any]])
            #expect(volumes.first?["name"] as? String == "data", "\(name)")
            #expect((value("/spec/template/spec/volumes/0") as? [String: Any])?["emptyDir"] != nil, "\(name)")
            // The Secret's URL is one the service takes.
            #expect(Self.find(documents, "Secret", name) != nil)
            let url = try #require(
                try operations("Secret").first { $0["path"] as? String == "/stringData/database-url" }?["value"]
                    as? String)
            #expect(url.hasSuffix("/troupe_\(descriptor.name)"))
            #expect(Self.problems(descriptor, ["TROUPE_DATABASE_URL": url]).isEmpty, "\(name): \(url)")
            // The SQLite volume's claim goes.
            #expect(Self.find(documents, "PersistentVolumeClaim", "\(name)-data") != nil)
            #expect(
                patches.contains {
                    ($0["patch"] as? String)?.contains("$patch: delete") == true
                        && ($0["patch"] as? String)?.contains("name: \(name)-data") == true
                }, "\(name)")
        }
    }

    /// The NATS servers of the chart give each service exactly the rights `make up` gives it.
    @Test func theNATSChartGivesEachServiceTheRightsOfTheLocalSuite() throws {
        let values = try #require(
            try Yams.load(yaml: try Self.text("deploy/kubernetes/nats-values.yaml")) as? [String: Any])
        let config = try #require(values["config"] as? [String: Any])
        #expect((config["jetstream"] as? [String: Any])?["enabled"] as? Bool == true)
        #expect((config["cluster"] as? [String: Any])?["replicas"] as? Int == 3)
        let users = try #require(
            ((config["merge"] as? [String: Any])?["authorization"] as? [String: Any])?["users"] as? [[String: Any]])
        let environment = try #require((values["container"] as? [String: Any])?["env"] as? [String: Any])
        let passwords = try #require(
            Self.find(try Self.kubernetesBase(), "Secret", "troupe-nats-users")?["stringData"] as? [String: Any])
        #expect(Set(users.compactMap { $0["user"] as? String }) == Set(Self.descriptors.map(\.name) + ["admin"]))
        for user in users {
            let name = try #require(user["user"] as? String)
            // The password is the variable that the chart fills from the Secret's key of that name.
            let variable = "TROUPE_NATS_PASSWORD_\(name.uppercased())"
            #expect(user["password"] as? String == "<< $\(variable) >>")
            let reference =
                ((environment[variable] as? [String: Any])?["valueFrom"] as? [String: Any])?["secretKeyRef"]
                as? [String: Any]
            #expect(reference?["name"] as? String == "troupe-nats-users" && reference?["key"] as? String == name)
            #expect(passwords[name] != nil, "\(name)")
            guard name != "admin" else { continue }
            let permissions = try #require(user["permissions"] as? [String: Any])
            let publish = (permissions["publish"] as? [String: Any])?["allow"] as? [String]
            let subscribe = (permissions["subscribe"] as? [String: Any])?["allow"] as? [String]
            #expect(
                publish == (try Self.localPermissions(name)),
                "\(name): run deploy/kubernetes/make-nats-values.sh (the service's rights changed)")
            #expect(subscribe == ["_INBOX_\(name).>"])
        }
    }

    /// What `--describe` prints, and `deploy/local/troupe.sh` writes the NATS permissions from: the
    /// service's own domain, streams and durables, never a copy kept in the script.
    @Test func aServiceDescribesItsPlaceInTheChoreography() {
        #expect(
            PaymentApp.descriptor.topology == """
                service payment
                port 8083
                publishes payments.>
                inbox _INBOX_payment
                stream ORDERS
                stream INVENTORY
                stream PAYMENTS own
                stream SHIPPING
                stream DEADLETTER
                consumer INVENTORY payment-inventory-reserved replaces payment-inventory
                consumer ORDERS payment-orders-cancelled replaces payment-orders
                consumer SHIPPING payment-shipping-dispatched replaces payment-shipping
                consumer DEADLETTER payment-replay

                """)
        #expect(NotificationApp.descriptor.durables.map(\.name) == ["notification-orders", "notification-replay"])
    }

    /// `deploy/local/troupe.sh permissions <service>`: what `make up` writes into nats.conf.
    static func localPermissions(_ service: String) throws -> [String] {
        // It asks the service's binary (`--describe`): the build's.
        let output = try ProcessRunner.run(
            root.appendingPathComponent("deploy/local/troupe.sh"), ["permissions", service],
            environment: ["TROUPE_BIN": ProcessRunner.productsDirectory().path])
        try #require(output.status == 0, "\(output.standardError)")
        return output.standardOutput.split(separator: "\n").map(String.init)
    }

    @Test func theEnvironmentExampleNamesEverySettingAtItsDefault() {
        for descriptor in Self.descriptors {
            let example = ServiceMain.environmentExample(descriptor)
            let lines = example.split(separator: "\n").filter { $0.hasPrefix("#TROUPE_") }
            #expect(lines.count == Self.specs(descriptor).count, "\(descriptor.name)")
            for spec in Self.specs(descriptor) {
                #expect(lines.contains("#\(spec.environment)=\(spec.defaultValue ?? "")"), "\(spec.environment)")
            }
            // Uncommented as it is, it starts the service as the defaults do.
            var environment: [String: String] = [:]
            for line in lines {
                let parts = line.dropFirst().split(separator: "=", maxSplits: 1).map(String.init)
                if parts.count == 2 { environment[parts[0]] = parts[1] }
            }
            #expect(Self.problems(descriptor, environment).isEmpty, "\(descriptor.name)")
        }
    }

    /// With kubectl on the machine, the base and the overlay must build (kustomize, offline).
    @Test func kustomizeBuildsTheBaseAndTheOverlay() throws {
        guard let kubectl = try? Executables.find("kubectl") else {
            print("DeploymentFilesTests: no kubectl here; the Kubernetes files were checked by reading them only")
            return
        }
        for folder in [
            "deploy/kubernetes/base", "deploy/kubernetes/overlays/nats-cluster", "deploy/kubernetes/overlays/scaled",
        ] {
            let output = try ProcessRunner.run(
                kubectl, ["kustomize", Self.root.appendingPathComponent(folder).path])
            #expect(output.status == 0, "\(folder): \(output.standardError)")
            #expect(output.standardOutput.contains("name: troupe-order"), "\(folder)")
        }
    }
}
