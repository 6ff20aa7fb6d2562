#!/usr/bin/env bash
# Local operations for `make up|down|status|logs|run-<service>`: a NATS server with JetStream and the
# five services as background processes, each with a pid file and a log file under .troupe/.
# Everything is idempotent: `up` starts only what is not running, `down` stops only what runs.
# TROUPE_TLS=1 (`make up TLS=1`) runs NATS with TLS only, from a local CA generated once.
# `cluster-up` runs what a scaled deployment has instead: three NATS servers in one cluster (clients
# on TROUPE_NATS_PORT and the two ports after it, routes on TROUPE_NATS_ROUTE_PORT and after), every
# stream in three replicas, PostgreSQL (Debian's server, data under .troupe/postgres/, port
# TROUPE_POSTGRES_PORT, one database per service) and two instances of every service sharing their
# service's database (`order-1` on the service's port, `order-2` on that port + 1000); a state folder
# is one or the other (`.troupe/run/mode`), and `down`, `status`, `logs` handle both.
# TROUPE_STATE, TROUPE_BIN, TROUPE_NATS_PORT, TROUPE_<SERVICE>_PORT move things (the tests do).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="${TROUPE_STATE:-$ROOT/.troupe}"
SECRETS="$STATE/secrets"
RUN="$STATE/run"
LOGS="$STATE/logs"
BIN="${TROUPE_BIN:-$ROOT/.build/release}"
NATS_PORT="${TROUPE_NATS_PORT:-4222}"
NATS_MONITOR_PORT="${TROUPE_NATS_MONITOR_PORT:-8222}"
NATS_ROUTE_PORT="${TROUPE_NATS_ROUTE_PORT:-6222}"
POSTGRES_PORT="${TROUPE_POSTGRES_PORT:-5433}"
NODES=(1 2 3)
SERVICES=(order inventory payment shipping notification)

declare -A PORTS=([order]="${TROUPE_ORDER_PORT:-8081}" [inventory]="${TROUPE_INVENTORY_PORT:-8082}"
    [payment]="${TROUPE_PAYMENT_PORT:-8083}" [shipping]="${TROUPE_SHIPPING_PORT:-8084}"
    [notification]="${TROUPE_NOTIFICATION_PORT:-8085}")
TLS="${TROUPE_TLS:-0}"
# TROUPE_POSTGRES=1 (`make up POSTGRES=1`): one instance of each service, each store in PostgreSQL as
# `cluster-up` runs it; the state folder remembers it (`run/postgres.on`).
POSTGRES="${TROUPE_POSTGRES:-0}"
TLS_DIR="$SECRETS/tls"
# What each service publishes, which streams it ensures and owns, its durable consumers and its
# inbox come from the service itself (`<service>-service --describe`, ServiceDescriptor.topology):
# the NATS permissions below are written from that, never from a copy here.
declare -A TOPOLOGY=()

say() { printf '%s\n' "$*"; }
die() { printf 'troupe: %s\n' "$*" >&2; exit 1; }

running() { # pidfile: the process lives and is ours (a zombie left by a crash does not count, nor a
    # stale pid file whose number the system has since given to another program: never signalled)
    local pid name want program
    [ -f "$1" ] || return 1
    pid="$(cat "$1")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ] || return 1
    name="$(basename "$1" .pid)"
    case "$name" in
        nats-server | nats-[0-9]) want=nats-server ;;
        postgres) want=postgres ;;
        *) want="$(service_of "$name")-service" ;;
    esac
    program="$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | head -n 1)"
    [ "$(basename "$program")" = "$want" ]
}

label() { # instance name -> "order-service " padded so that the columns of a listing line up
    local width=12
    [ "$(mode)" = cluster ] && width=14
    printf '%s-service %*s' "$1" $((width - ${#1})) ''
}

service_of() { # instance name (order, order-1, order-2) -> the service (order)
    printf '%s' "${1%-[0-9]}"
}

port_of() { # instance name -> its HTTP port: the service's, + 1000 for a second instance
    local service
    service="$(service_of "$1")"
    case "$1" in *-2) echo $((PORTS[$service] + 1000)) ;; *) echo "${PORTS[$service]}" ;; esac
}

instances() { # the service processes of the state folder's mode: order … or order-1 order-2 …
    local name
    for name in "${SERVICES[@]}"; do
        if [ "$(mode)" = cluster ]; then printf '%s\n' "$name-1" "$name-2"; else printf '%s\n' "$name"; fi
    done
}

secret() { # name -> prints a random secret, created once (mode 0600)
    local file="$SECRETS/$1"
    if [ ! -s "$file" ]; then
        (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file")
    fi
    cat "$file"
}

identity() { # name -> writes $SECRETS/<name>.nats.json
    local name="$1" password
    password="$(secret "$name.nats.password")"
    (umask 077; printf '{"user": "%s", "password": "%s"}\n' "$name" "$password" > "$SECRETS/$name.nats.json")
}

admin_token() {
    if [ -n "${TROUPE_ADMIN_TOKEN:-}" ]; then printf '%s' "$TROUPE_ADMIN_TOKEN"; return; fi
    if [ ! -s "$STATE/admin-token" ]; then
        (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$STATE/admin-token")
    fi
    cat "$STATE/admin-token"
}

describe() { # name -> fills TOPOLOGY[name] from the service's binary, once (call it directly, not in
    # a subshell, or the answer is asked again next time)
    local name="$1"
    if [ -z "${TOPOLOGY[$name]:-}" ]; then
        [ -x "$BIN/$name-service" ] || die "no $BIN/$name-service: build it first (make up does)"
        TOPOLOGY[$name]="$("$BIN/$name-service" --describe)" || die "$name-service --describe failed"
    fi
}

permissions() { # name -> the subjects the service's NATS user may publish on, one per line
    local name="$1" kind first second third fourth
    describe "$name"
    # Each service: publish its own domain's events and dead letters, the JetStream API calls for
    # its streams and its own durable consumers only, acknowledge what those deliver, receive on
    # its own inboxes (_INBOX_<service>, the prefix its connection uses), and publish on none:
    # no service reads or forges another's deliveries and replies.
    # Its own dead letters only: deadletter.replay.> is the operator's (troupe dlq replay).
    # Streams: it reads every one it uses, creates and updates only its own, and may create the
    # shared DEADLETTER when missing (never change it); the others are their producers'.
    # An unfiltered durable that a filtered one replaced: looked at and deleted, never read.
    while read -r kind first second third fourth; do
        case "$kind" in
            publishes) printf '%s\n' "$first" "deadletter.$name.>" ;;
            stream)
                printf '%s\n' "\$JS.API.STREAM.INFO.$first" "\$JS.API.STREAM.MSG.GET.$first"
                if [ "$second" = own ]; then
                    printf '%s\n' "\$JS.API.STREAM.CREATE.$first" "\$JS.API.STREAM.UPDATE.$first"
                elif [ "$first" = DEADLETTER ]; then
                    printf '%s\n' "\$JS.API.STREAM.CREATE.$first"
                fi ;;
            consumer)
                if [ "$third" = replaces ]; then
                    printf '%s\n' "\$JS.API.CONSUMER.INFO.$first.$fourth" "\$JS.API.CONSUMER.DELETE.$first.$fourth"
                fi ;;
        esac
    done <<< "${TOPOLOGY[$name]}"
    while read -r kind first second third fourth; do
        [ "$kind" = consumer ] || continue
        for api in INFO CREATE DURABLE.CREATE MSG.NEXT; do
            printf '%s\n' "\$JS.API.CONSUMER.$api.$first.$second"
        done
        printf '%s\n' "\$JS.API.CONSUMER.CREATE.$first.$second.>" "\$JS.ACK.$first.$second.>"
    done <<< "${TOPOLOGY[$name]}"
}

inbox() { # name -> the inbox prefix of the service's connection
    describe "$1"
    awk '$1 == "inbox" { print $2 }' <<< "${TOPOLOGY[$1]}"
}

nats_config() { # [node]: the single server's configuration, or node N's of the cluster
    local node="${1:-}"
    mkdir -p "$SECRETS"
    chmod 700 "$SECRETS"
    local users="" name allow subject
    identity admin
    users+="    { user: admin, password: \"$(secret admin.nats.password)\" }"$'\n'
    for name in "${SERVICES[@]}"; do
        identity "$name"
        allow=""
        while read -r subject; do allow+="${allow:+, }\"$subject\""; done < <(permissions "$name")
        users+="    { user: $name, password: \"$(secret "$name.nats.password")\", permissions: {
        publish: { allow: [$allow] }
        subscribe: { allow: [\"$(inbox "$name").>\"] } } }"$'\n'
    done
    local tls=""
    if [ "$TLS" = 1 ]; then
        tls_material
        tls="tls { cert_file: \"$TLS_DIR/server.pem\", key_file: \"$TLS_DIR/server.key\", timeout: 2 }"
    fi
    local file="$STATE/nats.conf" listen="$NATS_PORT" monitor="$NATS_MONITOR_PORT" store="$STATE/nats" cluster=""
    if [ -n "$node" ]; then
        file="$STATE/nats-$node.conf"
        listen=$(client_port "$node")
        monitor=$((NATS_MONITOR_PORT + node - 1))
        store="$STATE/nats-$node"
        local routes="" other
        for other in "${NODES[@]}"; do
            [ "$other" = "$node" ] && continue
            routes+="${routes:+, }\"nats://127.0.0.1:$((NATS_ROUTE_PORT + other - 1))\""
        done
        cluster="server_name: nats-$node
cluster { name: troupe, listen: 127.0.0.1:$((NATS_ROUTE_PORT + node - 1)), routes: [$routes] }"
    fi
    mkdir -p "$store"
    (umask 077; cat > "$file" <<CONF
# Generated by deploy/local/troupe.sh; regenerated by every \`make up\` or \`make cluster-up\`.
listen: 127.0.0.1:$listen
http: 127.0.0.1:$monitor
jetstream { store_dir: "$store" }
$cluster
$tls
authorization {
  users: [
$users  ]
}
CONF
)
}

tls_material() { # a local CA and a server certificate for 127.0.0.1 and localhost, made once
    [ -s "$TLS_DIR/server.pem" ] && return
    command -v openssl >/dev/null || die "TLS=1 needs openssl (make deps installs it)"
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    (
        umask 077
        cd "$TLS_DIR"
        openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Troupe local CA" \
            -keyout ca.key -out ca.pem 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
            -extfile server.ext -out server.pem 2>/dev/null
        rm -f server.csr server.ext ca.srl
    ) || die "generating TLS certificates in $TLS_DIR failed"
}

wait_for_port() { # port seconds
    local deadline=$((SECONDS + $2))
    while [ $SECONDS -lt $deadline ]; do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

start_nats() {
    mkdir -p "$RUN" "$LOGS"
    if running "$RUN/nats-server.pid"; then
        # A running server keeps its mode (the services follow it); changing it needs a restart.
        local mode="without TLS"
        [ -f "$RUN/nats.tls" ] && mode="with TLS"
        say "  nats-server       running (pid $(cat "$RUN/nats-server.pid"), $mode)"
        if [ "$TLS" = 1 ] && [ ! -f "$RUN/nats.tls" ]; then say "  (TLS=1 takes effect after make down)"; fi
        return
    fi
    nats_config
    # Tells the services started later, and the troupe tool, which CA the running server needs.
    if [ "$TLS" = 1 ]; then printf '%s\n' "$TLS_DIR/ca.pem" > "$RUN/nats.tls"; else rm -f "$RUN/nats.tls"; fi
    command -v nats-server >/dev/null || PATH="$PATH:/usr/sbin"
    nohup nats-server -c "$STATE/nats.conf" -l "$LOGS/nats-server.log" > /dev/null 2>&1 &
    echo $! > "$RUN/nats-server.pid"
    wait_for_port "$NATS_PORT" 10 || die "nats-server did not start; see $LOGS/nats-server.log"
    say "  nats-server       started (pid $!)"
}

client_port() { # node -> the port of cluster node N's clients (node 1 has TROUPE_NATS_PORT)
    echo $((NATS_PORT + $1 - 1))
}

mode() { # what the state folder holds: single, cluster, or nothing yet
    cat "$RUN/mode" 2>/dev/null || true
}

claim_mode() { # single|cluster: the state folder is that, or the command refuses
    local want="$1" have
    have="$(mode)"
    mkdir -p "$RUN"
    if [ -n "$have" ] && [ "$have" != "$want" ]; then
        local other="make up"
        [ "$have" = cluster ] && other="make cluster-up"
        die "$STATE holds a suite made by $other (its streams and stores belong to it): $other again, or make clean first"
    fi
    echo "$want" > "$RUN/mode"
}

start_nats_cluster() {
    mkdir -p "$RUN" "$LOGS"
    command -v nats-server >/dev/null || PATH="$PATH:/usr/sbin"
    if [ "$TLS" = 1 ]; then printf '%s\n' "$TLS_DIR/ca.pem" > "$RUN/nats.tls"; fi
    local node started=()
    for node in "${NODES[@]}"; do
        if running "$RUN/nats-$node.pid"; then
            say "  nats-$node            running (pid $(cat "$RUN/nats-$node.pid"))"
            continue
        fi
        nats_config "$node"
        nohup nats-server -c "$STATE/nats-$node.conf" -l "$LOGS/nats-$node.log" > /dev/null 2>&1 &
        echo $! > "$RUN/nats-$node.pid"
        started+=("$node")
    done
    [ "$TLS" = 1 ] || rm -f "$RUN/nats.tls"
    for node in "${started[@]}"; do
        wait_for_port "$(client_port "$node")" 10 || die "nats-$node did not start; see $LOGS/nats-$node.log"
        say "  nats-$node            started (pid $(cat "$RUN/nats-$node.pid")), clients 127.0.0.1:$(client_port "$node")"
    done
}

nats_urls() { # the URLs a service connects with
    if [ "$(mode)" = cluster ]; then
        local node urls=""
        for node in "${NODES[@]}"; do urls+="${urls:+,}nats://127.0.0.1:$(client_port "$node")"; done
        printf '%s' "$urls"
    else
        printf 'nats://127.0.0.1:%s' "$NATS_PORT"
    fi
}

service_env() { # instance name
    local name="$1" service
    service="$(service_of "$name")"
    printf '%s\n' \
        "TROUPE_NATS_URL=$(nats_urls)" \
        "TROUPE_NATS_CREDENTIALS=$SECRETS/$service.nats.json" \
        "TROUPE_HTTP_PORT=$(port_of "$name")" \
        "TROUPE_DATA_DIR=$STATE/data/$name" \
        "TROUPE_ADMIN_TOKEN=$(admin_token)" \
        "TROUPE_NOTIFY_FILE=${TROUPE_NOTIFY_FILE:-$STATE/notifications.jsonl}"
    if [ -f "$RUN/nats.tls" ]; then printf '%s\n' "TROUPE_NATS_TLS_CA=$(cat "$RUN/nats.tls")"; fi
    if [ "$(mode)" = cluster ]; then printf '%s\n' "TROUPE_STREAM_REPLICAS=3"; fi
    if [ "$(mode)" = cluster ] || [ -f "$RUN/postgres.on" ]; then
        printf '%s\n' \
            "TROUPE_DATABASE_URL=postgres://troupe:$(secret postgres.password)@127.0.0.1:$POSTGRES_PORT/troupe_$service"
    fi
}

pg_bin() { # Debian's PostgreSQL binaries, the newest version installed
    find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1
}

start_postgres() { # the cluster's database server, its data under $STATE/postgres; a database per service
    local dir="$STATE/postgres" pidfile="$RUN/postgres.pid" bin as=() service
    mkdir -p "$RUN" "$LOGS"
    bin="$(pg_bin)"
    [ -n "$bin" ] || die "PostgreSQL is not installed (make deps installs postgresql)"
    # PostgreSQL refuses to run as root: as root, it runs as the postgres user (setpriv execs, so the
    # pid file holds the server's own pid), which must be able to reach its folder.
    if [ "$(id -u)" = 0 ]; then as=(setpriv --reuid=postgres --regid=postgres --init-groups --); fi
    if running "$pidfile"; then
        say "  postgres          running (pid $(cat "$pidfile")), 127.0.0.1:$POSTGRES_PORT"
    else
        if [ ! -f "$dir/data/PG_VERSION" ]; then
            rm -rf "$dir"
            mkdir -p "$dir"
            secret postgres.password > "$dir/password"
            if [ "$(id -u)" = 0 ]; then
                chmod o+x "$STATE"
                chown -R postgres:postgres "$dir"
            fi
            "${as[@]}" "$bin/initdb" -D "$dir/data" -U troupe --pwfile="$dir/password" -A scram-sha-256 \
                -E UTF8 --locale=C >> "$LOGS/postgres.log" 2>&1 || die "initdb failed; see $LOGS/postgres.log"
            rm -f "$dir/password"
        fi
        nohup "${as[@]}" "$bin/postgres" -D "$dir/data" -p "$POSTGRES_PORT" -k "$dir" \
            -c listen_addresses=127.0.0.1 -c deadlock_timeout=100ms >> "$LOGS/postgres.log" 2>&1 &
        echo $! > "$pidfile"
        local deadline=$((SECONDS + 30))
        until "$bin/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; do
            running "$pidfile" || die "postgres did not start; see $LOGS/postgres.log"
            [ $SECONDS -lt $deadline ] || die "postgres not ready after 30 s; see $LOGS/postgres.log"
            sleep 0.2
        done
        say "  postgres          started (pid $(cat "$pidfile")), 127.0.0.1:$POSTGRES_PORT"
    fi
    for service in "${SERVICES[@]}"; do
        if [ -z "$(psql_troupe "SELECT 1 FROM pg_database WHERE datname = 'troupe_$service'")" ]; then
            psql_troupe "CREATE DATABASE troupe_$service" > /dev/null
        fi
    done
}

psql_troupe() { # sql -> runs it as troupe on the cluster's server (the password on psql's environment)
    PGPASSWORD="$(secret postgres.password)" "$(pg_bin)/psql" -X -A -t -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$POSTGRES_PORT" -U troupe -d postgres -c "$1"
}

stop_postgres() { # fast shutdown (SIGINT): sessions end, what was committed stays
    stop_pid "$RUN/postgres.pid" postgres INT 30
}

start_service() { # instance name
    local name="$1" pidfile="$RUN/$1.pid" binary
    binary="$BIN/$(service_of "$1")-service"
    [ -x "$binary" ] || die "$binary is missing (make up builds it)"
    if running "$pidfile"; then say "  $(label "$name")running (pid $(cat "$pidfile"))"; return; fi
    mkdir -p "$STATE/data/$name"
    (
        while IFS= read -r assignment; do export "${assignment?}"; done < <(service_env "$name")
        nohup "$binary" >> "$LOGS/$name.log" 2>&1 &
        echo $! > "$pidfile"
    )
    say "  $(label "$name")started (pid $(cat "$pidfile"))"
}

ready() { # instance name
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(port_of "$1")/health/ready" 2>/dev/null
}

wait_ready() {
    local deadline=$((SECONDS + 60)) name pending
    while [ $SECONDS -lt $deadline ]; do
        pending=""
        for name in $(instances); do ready "$name" || pending="$pending $name"; done
        [ -z "$pending" ] && return 0
        sleep 0.3
    done
    die "not ready after 60 s:$pending (see .troupe/logs/)"
}

admin_put() { # url json
    # The token goes to curl on its standard input (-H @-), never on its command line, where any
    # user of the machine could read it in ps.
    printf 'Authorization: Bearer %s\n' "$(admin_token)" |
        curl -fsS -o /dev/null --max-time 5 -X PUT -H @- -H 'Content-Type: application/json' -d "$2" "$1"
}

seed() {
    local inv="http://127.0.0.1:${PORTS[inventory]}" pay="http://127.0.0.1:${PORTS[payment]}"
    # A product's onHand is only set when the product is new, so that `make up` twice changes nothing.
    for product in "SKU-RED-MUG|Red mug|1250" "SKU-BLUE-MUG|Blue mug|1250" "SKU-TEAPOT|Teapot|3900" \
        "SKU-TEA-TIN|Tin of tea|899" "SKU-SPOON|Silver spoon|450"; do
        IFS='|' read -r sku name price <<< "$product"
        curl -fsS -o /dev/null --max-time 2 "$inv/stock/$sku" 2>/dev/null && continue
        admin_put "$inv/stock/$sku" "{\"name\": \"$name\", \"unitPrice\": $price, \"currency\": \"USD\", \"onHand\": 1000}"
    done
    for account in "cus_42|100000" "cus_ada|500000" "cus_poor|1000"; do
        IFS='|' read -r customer limit <<< "$account"
        curl -fsS -o /dev/null --max-time 2 "$pay/accounts/$customer" 2>/dev/null && continue
        admin_put "$pay/accounts/$customer" "{\"currency\": \"USD\", \"creditLimit\": $limit}"
    done
}

up() {
    if [ "$(mode)" = cluster ]; then
        say "($STATE holds a suite made by make cluster-up: starting what is missing of it)"
        cluster_up
        return
    fi
    claim_mode single
    say "Starting Troupe (state in $STATE/):"
    start_nats
    if [ "$POSTGRES" = 1 ] && [ ! -f "$RUN/postgres.on" ]; then
        # The SQLite stores of an earlier `make up` would be left behind: refuse to switch silently.
        [ -z "$(ls -A "$STATE/data" 2>/dev/null)" ] || die "$STATE holds SQLite stores: make clean first to keep the stores in PostgreSQL"
        touch "$RUN/postgres.on"
    fi
    if [ -f "$RUN/postgres.on" ]; then start_postgres; fi
    for name in $(instances); do start_service "$name"; done
    wait_ready
    seed
    summary
    if [ -f "$RUN/postgres.on" ]; then
        say "PostgreSQL:   127.0.0.1:$POSTGRES_PORT, one database per service (troupe_order, …; password in $SECRETS/postgres.password)."
    fi
}

cluster_up() {
    claim_mode cluster
    say "Starting Troupe on a three-server NATS cluster, PostgreSQL and two instances of every service (state in $STATE/):"
    start_nats_cluster
    start_postgres
    for name in $(instances); do start_service "$name"; done
    wait_ready
    seed
    summary
    say "NATS cluster: $(nats_urls) (routes 127.0.0.1:$NATS_ROUTE_PORT-$((NATS_ROUTE_PORT + 2))), streams in three replicas."
    say "PostgreSQL:   127.0.0.1:$POSTGRES_PORT, one database per service (troupe_order, …; password in $SECRETS/postgres.password)."
    say "A second instance of every service on port + 1000: order $(port_of order-2), inventory $(port_of inventory-2), payment $(port_of payment-2), shipping $(port_of shipping-2), notification $(port_of notification-2)."
}

summary() {
    cat <<SUMMARY

All five services are ready.
  order         http://127.0.0.1:${PORTS[order]}
  inventory     http://127.0.0.1:${PORTS[inventory]}
  payment       http://127.0.0.1:${PORTS[payment]}
  shipping      http://127.0.0.1:${PORTS[shipping]}
  notification  http://127.0.0.1:${PORTS[notification]}
  NATS          $(nats_urls)$( [ -f "$RUN/nats.tls" ] && echo ", TLS only (CA: $TLS_DIR/ca.pem)") (identities in $SECRETS/, admin: admin.nats.json)
  admin token   $( [ -n "${TROUPE_ADMIN_TOKEN:-}" ] && echo 'from TROUPE_ADMIN_TOKEN' || echo '.troupe/admin-token')

Place a first order:
  curl -s -X POST http://127.0.0.1:${PORTS[order]}/orders -H 'Content-Type: application/json' \\
    -d '{"customerId": "cus_42", "lines": [{"sku": "SKU-RED-MUG", "quantity": 2}],
         "shippingAddress": {"name": "Ada Lovelace", "line1": "12 St James Sq", "city": "London",
                             "postalCode": "SW1Y 4JH", "country": "GB"}}'
Then: curl -s http://127.0.0.1:${PORTS[order]}/orders/<orderId>   (make logs, make status, make down)
Operate: .build/release/troupe trace <orderId> | streams | check | dlq list
SUMMARY
}

stop_pid() { # pidfile label [signal, TERM] [seconds before SIGKILL, 15]
    local pidfile="$1" pid signal="${3:-TERM}" grace="${4:-15}"
    running "$pidfile" || { rm -f "$pidfile"; return; }
    pid="$(cat "$pidfile")"
    kill -"$signal" "$pid"
    for _ in $(seq 1 $((grace * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; say "  $2 killed after $grace s"; else say "  $2 stopped"; fi
    rm -f "$pidfile"
}

down() {
    local name node
    for name in "${SERVICES[@]}" "${SERVICES[@]/%/-1}" "${SERVICES[@]/%/-2}"; do
        stop_pid "$RUN/$name.pid" "$name-service"
    done
    stop_postgres
    stop_pid "$RUN/nats-server.pid" "nats-server"
    for node in "${NODES[@]}"; do stop_pid "$RUN/nats-$node.pid" "nats-$node"; done
    rm -f "$RUN/nats.tls"
}

status() {
    local name state node
    if [ "$(mode)" = cluster ]; then
        for node in "${NODES[@]}"; do
            if running "$RUN/nats-$node.pid"; then
                say "nats-$node            running (pid $(cat "$RUN/nats-$node.pid")), nats://127.0.0.1:$(client_port "$node")"
            else
                say "nats-$node            stopped"
            fi
        done
        if running "$RUN/postgres.pid"; then
            say "postgres          running (pid $(cat "$RUN/postgres.pid")), 127.0.0.1:$POSTGRES_PORT"
        else
            say "postgres          stopped"
        fi
    elif running "$RUN/nats-server.pid"; then
        say "nats-server       running (pid $(cat "$RUN/nats-server.pid"))"
    else
        say "nats-server       stopped"
    fi
    if [ "$(mode)" != cluster ] && [ -f "$RUN/postgres.on" ]; then
        if running "$RUN/postgres.pid"; then
            say "postgres          running (pid $(cat "$RUN/postgres.pid")), 127.0.0.1:$POSTGRES_PORT"
        else
            say "postgres          stopped"
        fi
    fi
    for name in $(instances); do
        if running "$RUN/$name.pid"; then
            if ready "$name"; then state="ready"; else state="not ready"; fi
            say "$(label "$name")running (pid $(cat "$RUN/$name.pid")), $state, http://127.0.0.1:$(port_of "$name")"
        else
            say "$(label "$name")stopped"
        fi
    done
}

logs() {
    mkdir -p "$LOGS"
    if [ -n "${SERVICE:-}" ]; then tail -n 100 -F "$LOGS/$SERVICE.log"; else tail -n 20 -F "$LOGS"/*.log; fi
}

run_one() { # name: in the foreground, against the local NATS
    local name="$1"
    if [ "$(mode)" = cluster ]; then start_nats_cluster; start_postgres; else
        claim_mode single
        start_nats
        if [ -f "$RUN/postgres.on" ]; then start_postgres; fi
    fi
    while IFS= read -r assignment; do export "${assignment?}"; done < <(service_env "$name")
    exec "$BIN/$name-service"
}

# Everything created under .troupe/ (stores, logs, the NATS store, pid files, and what the services
# write: SQLite files, the notification file) is readable by its owner only.
umask 077

case "${1:-}" in
    up) up ;;
    cluster-up) cluster_up ;;
    down) down ;;
    status) status ;;
    logs) logs ;;
    run) run_one "${2:?service name}" ;;
    permissions) [ -n "${PORTS[${2:-}]:-}" ] || die "permissions <service>"; permissions "$2" ;;
    inbox) [ -n "${PORTS[${2:-}]:-}" ] || die "inbox <service>"; inbox "$2" ;;
    *) die "usage: troupe.sh up|down|status|logs|run <service>|permissions <service>|inbox <service>" ;;
esac
