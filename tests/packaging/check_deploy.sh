#!/usr/bin/env bash
# The container and cluster files, checked as far as this machine can (no
# Docker engine, no cluster): hadolint on the Dockerfile, yamllint and
# kubernetes-validate (strict, against the Kubernetes API schemas) on the
# manifests, the rules operators rely on (check_manifests.py), and the
# services' own --check-config on the packaged configuration with the
# ConfigMaps' environment — so every variable a ConfigMap sets names a real key.
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSAGO_ROOT
source "$OSAGO_ROOT/packaging/dev/stack.sh"
ensure_lint_tools
K8S=$OSAGO_ROOT/packaging/kubernetes
BIN=$LINT_VENV/bin
KUBERNETES_VERSION=1.30.0

echo "== hadolint packaging/docker/Dockerfile"
"$BIN/hadolint" --no-color "$OSAGO_ROOT/packaging/docker/Dockerfile"
echo "ok"

echo "== yamllint packaging/kubernetes"
"$BIN/yamllint" --strict -c "$K8S/.yamllint" "$K8S"
echo "ok"

echo "== kubernetes-validate --strict (Kubernetes $KUBERNETES_VERSION) on the base"
mapfile -t manifests < <(find "$K8S/base" -name '*.yaml' ! -name kustomization.yaml | sort)
"$BIN/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "${manifests[@]}"
echo "ok: ${#manifests[@]} files"

echo "== the operators' rules"
"$BIN/python" "$OSAGO_ROOT/tests/packaging/check_manifests.py" "$K8S" \
  "$OSAGO_ROOT/packaging/debian/config/osago-aggregator.yaml"

echo "== the operators' rules catch manifests without their NetworkPolicies"
stripped=$(mktemp -d)
trap 'rm -rf "$stripped"' EXIT
cp -r "$K8S/." "$stripped/"
rm "$stripped/base/network-policies.yaml"
sed -i '/network-policies.yaml/d' "$stripped/base/kustomization.yaml"
if out=$("$BIN/python" "$OSAGO_ROOT/tests/packaging/check_manifests.py" "$stripped" \
    "$OSAGO_ROOT/packaging/debian/config/osago-aggregator.yaml"); then
  echo "$out"
  die "check_manifests.py passed manifests without NetworkPolicies"
fi
grep -q "no default-deny NetworkPolicy" <<<"$out" || die "check_manifests.py did not name the missing default deny: $out"
echo "ok: $(grep -c '^FAIL' <<<"$out") findings without them"

echo "== the operators' rules catch a plain Kafka listener and a core-app allowed to publish"
loose=$stripped/loose
cp -r "$K8S/." "$loose/"
"$BIN/python" - "$loose/operators/strimzi.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Kafka":
        d["spec"]["kafka"]["listeners"].append({"name": "plain", "port": 9092, "type": "internal", "tls": False})
    if d["kind"] == "KafkaUser" and d["metadata"]["name"] == "osago-core-app":
        d["spec"]["authorization"]["acls"][0]["operations"].append("Write")
yaml.safe_dump_all(docs, open(sys.argv[1], "w"))
PY
if out=$("$BIN/python" "$OSAGO_ROOT/tests/packaging/check_manifests.py" "$loose" \
    "$OSAGO_ROOT/packaging/debian/config/osago-aggregator.yaml"); then
  echo "$out"
  die "check_manifests.py passed a plain Kafka listener and a core-app allowed to publish"
fi
grep -q "listener plain (port 9092) is not mutual TLS" <<<"$out" || die "the plain listener was not named: $out"
grep -q "KafkaUser osago-core-app: ACLs" <<<"$out" || die "core-app's Write was not named: $out"
echo "ok"

echo "== each service accepts its packaged config with its ConfigMap's environment"
# configmap_env NAME: the ConfigMap's data as NAME=value lines.
configmap_env() {
  "$BIN/python" -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"] == sys.argv[2]:
        for k, v in d["data"].items(): print(f"{k}={v}")' "$K8S/base/config.yaml" "$1"
}
for svc in osago-aggregator osago-core-app; do
  bin=$OSAGO_BUILD_DIR/host/osago-aggregator
  [ "$svc" = osago-core-app ] && bin=$OSAGO_BUILD_DIR/core-app/osago-core-app
  mapfile -t vars < <(configmap_env "$svc-env")
  ((${#vars[@]} > 0)) || die "ConfigMap $svc-env is empty"
  # The files the Kafka Secrets mount (the settings check they can be read): placeholders at the same paths under $stripped.
  for i in "${!vars[@]}"; do
    if [[ ${vars[$i]} =~ ^(OSAGO_KAFKA_CA_FILE|OSAGO_KAFKA_CLIENT_CERT|OSAGO_KAFKA_CLIENT_KEY)=(/.+)$ ]]; then
      mkdir -p "$stripped/mounted$(dirname "${BASH_REMATCH[2]}")"
      : >"$stripped/mounted${BASH_REMATCH[2]}"
      vars[i]="${BASH_REMATCH[1]}=$stripped/mounted${BASH_REMATCH[2]}"
    fi
  done
  # The Secrets' variables, with placeholder values of the required shape.
  env -i PATH="$PATH" "${vars[@]}" OSAGO_ADMIN_TOKEN=placeholder-admin-token-0123 \
    OSAGO_PG_DSN="host=db port=5432 dbname=osago user=osago" \
    OSAGO_TOKEN_SECRET=placeholder-token-secret-0123456789abcdef \
    OSAGO_SERVICE_TOKEN_SECRET=placeholder-service-key-0123456789abcdef \
    "$bin" --check-config --config="$OSAGO_ROOT/packaging/debian/config/$svc.yaml"
done
echo "the deployment files pass every check"
