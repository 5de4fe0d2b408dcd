#!/usr/bin/env bash
# The monitoring files as code: what packaging/monitoring/generate.py writes is
# what is committed (the Prometheus rules, the PrometheusRule, the Grafana
# dashboards), the rules are valid (promtool check rules), and every alert
# fires and stays quiet as its tests say (promtool test rules).
set -euo pipefail
OSAGO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MON=$OSAGO_ROOT/packaging/monitoring

echo "== generate.py --check"
python3 "$MON/generate.py" --check
echo "ok"

echo "== promtool check rules"
promtool check rules "$MON/prometheus/osago-rules.yml"

echo "== promtool test rules"
(cd "$MON/prometheus" && promtool test rules osago-rules_test.yml)

echo "== the PrometheusRule holds the same groups as the rules file"
python3 - "$MON/prometheus/osago-rules.yml" "$OSAGO_ROOT/packaging/kubernetes/operators/prometheus-rules.yaml" <<'PY'
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
crd = yaml.safe_load(open(sys.argv[2]))
assert crd["kind"] == "PrometheusRule", crd["kind"]
assert crd["spec"] == rules, "the PrometheusRule's groups differ from the rules file"
print("ok:", sum(len(g["rules"]) for g in rules["groups"]), "rules in", len(rules["groups"]), "groups")
PY
