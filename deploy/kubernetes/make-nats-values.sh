#!/usr/bin/env bash
# Writes deploy/kubernetes/nats-values.yaml: the NATS Helm chart's values with one user per service
# and the rights `make up` gives it (deploy/local/troupe.sh permissions, from each service's
# --describe). Run it after a change to what a service reads or writes; DeploymentFilesTests fails
# until the file agrees. TROUPE_BIN names the binaries to ask (default .build/release).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
troupe="$here/../local/troupe.sh"
services=(order inventory payment shipping notification)
{
    cat <<'HEAD'
# NATS for Troupe on Kubernetes, from the official chart (nats-io/k8s, chart 1.x): three servers in
# one cluster, JetStream on persistent volumes, and one user per service with the rights `make up`
# gives it. Written by make-nats-values.sh from the services' --describe; a test keeps it current.
# The passwords come from the Secret troupe-nats-users (base/nats-users.yaml).
#   helm repo add nats https://nats-io.github.io/k8s/helm/charts/
#   helm install nats nats/nats --namespace troupe -f deploy/kubernetes/nats-values.yaml
config:
  cluster:
    enabled: true
    replicas: 3
  jetstream:
    enabled: true
    fileStore:
      pvc:
        size: 10Gi
  merge:
    authorization:
      users:
        # The operator's identity (troupe dlq replay, troupe check): everything.
        - user: admin
          password: << $TROUPE_NATS_PASSWORD_ADMIN >>
HEAD
    for service in "${services[@]}"; do
        inbox="$("$troupe" inbox "$service")"
        cat <<USER
        - user: $service
          password: << \$TROUPE_NATS_PASSWORD_${service^^} >>
          permissions:
            subscribe:
              allow: ["$inbox.>"]
            publish:
              allow:
USER
        "$troupe" permissions "$service" | sed 's/.*/                - "&"/'
    done
    echo "container:"
    echo "  env:"
    for user in admin "${services[@]}"; do
        cat <<ENV
    TROUPE_NATS_PASSWORD_${user^^}:
      valueFrom:
        secretKeyRef: {name: troupe-nats-users, key: $user}
ENV
    done
} > "$here/nats-values.yaml"
echo "$here/nats-values.yaml"
