"""What the Kubernetes manifests must hold beyond their schemas (which
kubernetes-validate checks): every rule here is one an operator relies on.

usage: check_manifests.py <packaging/kubernetes> <packaged aggregator config>
Prints one line per finding and exits 1 if there is any.
"""
import os
import sys

import yaml

root, aggregator_config = sys.argv[1], sys.argv[2]
findings = []


def need(cond, message):
    if not cond:
        findings.append(message)
    return cond


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def kustomization(directory):
    return load_docs(os.path.join(directory, "kustomization.yaml"))[0]


# --- base: every manifest listed, every listed file there ---------------------------
base = os.path.join(root, "base")
kz = kustomization(base)
listed = kz.get("resources", [])
on_disk = sorted(f for f in os.listdir(base) if f.endswith(".yaml") and f != "kustomization.yaml")
need(sorted(listed) == on_disk, f"base/kustomization.yaml lists {sorted(listed)}, the directory has {on_disk}")

resources = {}
for f in listed:
    for d in load_docs(os.path.join(base, f)):
        resources[(d["kind"], d["metadata"]["name"])] = d

deployments = {name: d for (kind, name), d in resources.items() if kind == "Deployment"}
need(set(deployments) == {"osago-aggregator", "osago-core-app"}, f"deployments: {sorted(deployments)}")


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


for name, dep in deployments.items():
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    need(spec.get("replicas", 1) >= 2, f"{name}: fewer than 2 replicas")
    need(selects(spec["selector"]["matchLabels"], labels), f"{name}: selector does not select its pods")
    need(spec["strategy"]["rollingUpdate"].get("maxUnavailable") == 0, f"{name}: a rollout may drop capacity")
    need(pod.get("securityContext", {}).get("runAsNonRoot") is True, f"{name}: may run as root")
    need(pod.get("terminationGracePeriodSeconds", 30) >= 20, f"{name}: too little time to stop gracefully")

    for c in pod.get("initContainers", []) + pod["containers"]:
        r = c.get("resources", {})
        for kind in ("requests", "limits"):
            need({"cpu", "memory"} <= set(r.get(kind, {})), f"{name}/{c['name']}: {kind} lack cpu or memory")
        need(":" in c["image"] and not c["image"].endswith(":latest"), f"{name}/{c['name']}: image not pinned")
        sc = c.get("securityContext", {})
        need(sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True,
             f"{name}/{c['name']}: not locked down")

    main = next((c for c in pod["containers"] if c["name"] == name), None)
    if not need(main is not None, f"{name}: no container named {name}"):
        continue
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready")):
        get = main.get(probe, {}).get("httpGet", {})
        need(get.get("path") == path, f"{name}: {probe} is not GET {path}")
        need(get.get("port") in ports, f"{name}: {probe} port {get.get('port')} is not a container port")
    need(main["args"] == [f"--config=/etc/osago/{name}.yaml"], f"{name}: not started with its packaged config")
    refs = {(k, v["name"]) for e in main.get("envFrom", []) for k, v in e.items()}
    need(("configMapRef", f"{name}-env") in refs, f"{name}: no settings from ConfigMap {name}-env")
    need(("ConfigMap", f"{name}-env") in resources, f"{name}: ConfigMap {name}-env is not in the base")
    need(("secretRef", f"{name}-secrets") in refs, f"{name}: no secrets from Secret {name}-secrets")
    need(main.get("lifecycle", {}).get("preStop") is not None, f"{name}: no preStop delay before SIGTERM")

    pdbs = [d for (kind, _), d in resources.items()
            if kind == "PodDisruptionBudget" and selects(d["spec"]["selector"]["matchLabels"], labels)]
    if need(len(pdbs) == 1, f"{name}: {len(pdbs)} PodDisruptionBudgets select its pods"):
        need(pdbs[0]["spec"].get("maxUnavailable") == 1, f"{name}: a disruption may take more than one pod")
    services = [d for (kind, _), d in resources.items()
                if kind == "Service" and selects(d["spec"]["selector"], labels)]
    need(len(services) == 1, f"{name}: {len(services)} Services select its pods")
    for s in services:
        for p in s["spec"]["ports"]:
            need(p["targetPort"] in ports, f"Service {s['metadata']['name']}: targetPort {p['targetPort']} unknown")

    # No secret in a ConfigMap.
    for key in resources.get(("ConfigMap", f"{name}-env"), {}).get("data", {}):
        need(not any(s in key for s in ("TOKEN", "SECRET", "PASSWORD", "DSN")), f"ConfigMap {name}-env holds {key}")

    need(pod.get("automountServiceAccountToken") is False, f"{name}: mounts a Kubernetes API token it never uses")

# --- network: default deny, then exactly the flows the system needs -------------------
policies = [d for (kind, _), d in resources.items() if kind == "NetworkPolicy"]


def selected(policy, pod_labels):
    return selects(policy["spec"]["podSelector"].get("matchLabels", {}), pod_labels)


def peer_matches(peer, flow_peer):
    """Whether a policy peer (from/to entry) admits the flow's other end."""
    kind, value = flow_peer
    if kind == "pod":
        return "namespaceSelector" not in peer and selects(peer.get("podSelector", {}).get("matchLabels", {"-": "-"}), value)
    if kind == "namespace":
        ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
        return ns.get("kubernetes.io/metadata.name") == value
    if kind == "internet":
        return peer.get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
    return False


def allows(direction, pod_labels, flow_peer, port):
    key = "ingress" if direction == "Ingress" else "egress"
    side = "from" if key == "ingress" else "to"
    for policy in policies:
        if direction not in policy["spec"].get("policyTypes", []) or not selected(policy, pod_labels):
            continue
        for rule in policy["spec"].get(key, []):
            if any(p.get("port") == port for p in rule.get("ports", [])) and \
                    any(peer_matches(peer, flow_peer) for peer in rule.get(side, [])):
                return True
    return False


deny = [p for p in policies if p["spec"]["podSelector"] == {} and
        set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"} and
        not p["spec"].get("ingress") and not p["spec"].get("egress")]
need(len(deny) == 1, "no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)")
core_labels = deployments.get("osago-core-app", {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
agg_labels = deployments.get("osago-aggregator", {}).get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
flows = [  # (what, direction, pod, peer, port)
    ("Ingress controller → core-app", "Ingress", core_labels, ("namespace", "ingress-nginx"), 8080),
    ("Prometheus → core-app metrics", "Ingress", core_labels, ("namespace", "monitoring"), 8080),
    ("core-app → aggregator (out)", "Egress", core_labels, ("pod", agg_labels), 8081),
    ("core-app → aggregator (in)", "Ingress", agg_labels, ("pod", core_labels), 8081),
    ("Prometheus → aggregator metrics", "Ingress", agg_labels, ("namespace", "monitoring"), 8081),
    ("aggregator → PostgreSQL", "Egress", agg_labels, ("pod", {"cnpg.io/cluster": "osago-db"}), 5432),
    ("aggregator → Kafka (mutual TLS)", "Egress", agg_labels, ("namespace", "kafka"), 9093),
    ("core-app → Kafka (mutual TLS)", "Egress", core_labels, ("namespace", "kafka"), 9093),
    ("aggregator → partners (HTTPS)", "Egress", agg_labels, ("internet", None), 443),
]
for what, direction, labels, peer, port in flows:
    need(allows(direction, labels, peer, port), f"NetworkPolicy: the flow {what} (port {port}) is not allowed")
# ...and none that is not needed: core-app never reaches partners or the database.
for what, direction, labels, peer, port in [
        ("core-app → the internet", "Egress", core_labels, ("internet", None), 443),
        ("core-app → PostgreSQL", "Egress", core_labels, ("pod", {"cnpg.io/cluster": "osago-db"}), 5432),
        ("Ingress controller → aggregator", "Ingress", agg_labels, ("namespace", "ingress-nginx"), 8081),
        ("aggregator → Kafka in plain text", "Egress", agg_labels, ("namespace", "kafka"), 9092),
        ("core-app → Kafka in plain text", "Egress", core_labels, ("namespace", "kafka"), 9092)]:
    need(not allows(direction, labels, peer, port), f"NetworkPolicy: {what} is allowed, and nothing needs it")

# The aggregator's plugins: a volume at the packaged plugin directory, filled by init containers.
with open(aggregator_config, encoding="utf-8") as f:
    plugin_dir = yaml.safe_load(f)["plugins"]["directory"]
agg = deployments.get("osago-aggregator")
if agg:
    pod = agg["spec"]["template"]["spec"]
    main = next(c for c in pod["containers"] if c["name"] == "osago-aggregator")
    mount = next((m for m in main.get("volumeMounts", []) if m["mountPath"] == plugin_dir), None)
    if need(mount is not None, f"osago-aggregator: nothing mounted at the plugin directory {plugin_dir}"):
        fillers = [c for c in pod.get("initContainers", [])
                   if any(m["name"] == mount["name"] for m in c.get("volumeMounts", []))]
        need(len(fillers) >= 1, "osago-aggregator: no init container fills the plugin volume")

# --- overlays: the base is included, every patch names something in the base ---------
overlays = os.path.join(root, "overlays")
for overlay in sorted(os.listdir(overlays)):
    directory = os.path.join(overlays, overlay)
    kz = kustomization(directory)
    need("../../base" in kz.get("resources", []), f"overlay {overlay} does not build on the base")
    for p in kz.get("patches", []):
        path = os.path.join(directory, p["path"])
        if not need(os.path.exists(path), f"overlay {overlay}: patch {p['path']} is missing"):
            continue
        for d in load_docs(path):
            need((d["kind"], d["metadata"]["name"]) in resources,
                 f"overlay {overlay}: {p['path']} patches {d['kind']}/{d['metadata']['name']}, not in the base")
    images = {c["image"].split(":")[0] for d in deployments.values()
              for c in d["spec"]["template"]["spec"].get("initContainers", []) + d["spec"]["template"]["spec"]["containers"]}
    need({i["name"] for i in kz.get("images", [])} == images, f"overlay {overlay}: images {kz.get('images')} vs {images}")
    for r in kz.get("replicas", []):
        need(r["name"] in deployments and r["count"] >= 2, f"overlay {overlay}: replicas {r}")

# --- the operators' resources: the fields the services depend on ------------------------
ops = {(d["kind"], d["metadata"]["name"]): d for f in os.listdir(os.path.join(root, "operators"))
       for d in load_docs(os.path.join(root, "operators", f))}
cnpg = ops.get(("Cluster", "osago-db"))
if need(cnpg is not None, "operators: no CloudNativePG Cluster osago-db"):
    need(cnpg["apiVersion"] == "postgresql.cnpg.io/v1", "CloudNativePG Cluster apiVersion")
    need(cnpg["spec"]["instances"] >= 2, "CloudNativePG: fewer than 2 instances")
    need(cnpg["spec"]["bootstrap"]["initdb"]["database"] == "osago", "CloudNativePG: database is not osago")
topic_name = resources[("ConfigMap", "osago-aggregator-env")]["data"]["OSAGO_KAFKA_TOPIC"]
kafka = ops.get(("Kafka", "osago-kafka"))
if need(kafka is not None, "operators: no Strimzi Kafka osago-kafka"):
    need(kafka["apiVersion"] == "kafka.strimzi.io/v1beta2", "Strimzi Kafka apiVersion")
    listeners = kafka["spec"]["kafka"]["listeners"]
    # Every listener clients can reach is TLS with client certificates; the brokers check ACLs.
    for listener in listeners:
        need(listener.get("tls") is True and listener.get("authentication", {}).get("type") == "tls",
             f"Strimzi: listener {listener['name']} (port {listener['port']}) is not mutual TLS")
    need(kafka["spec"]["kafka"].get("authorization", {}).get("type") == "simple",
         "Strimzi: no authorization, so any authenticated client may read and write every topic")
    users_namespace = kafka["spec"].get("entityOperator", {}).get("userOperator", {}).get("watchedNamespace")
    # The services' brokers: on a listener's port, for both services, in the base and each overlay.
    ports = {listener["port"] for listener in listeners}
    env_maps = [resources.get(("ConfigMap", f"{n}-env"), {}).get("data", {}) for n in ("osago-aggregator", "osago-core-app")]
    for overlay in sorted(os.listdir(overlays)):
        for p in kustomization(os.path.join(overlays, overlay)).get("patches", []):
            env_maps += [d.get("data", {}) for d in load_docs(os.path.join(overlays, overlay, p["path"]))
                         if d["kind"] == "ConfigMap"]
    for data in env_maps:
        for broker in data.get("OSAGO_KAFKA_BROKERS", "").split(","):
            if broker:
                need(int(broker.rsplit(":", 1)[1]) in ports, f"OSAGO_KAFKA_BROKERS {broker} is on no Strimzi listener's port")
topic = ops.get(("KafkaTopic", topic_name))
if need(topic is not None, "operators: no KafkaTopic for the configured topic"):
    need(topic["spec"]["replicas"] >= 3 and topic["spec"]["partitions"] >= 3, "KafkaTopic: too few replicas or partitions")

# Each service is a KafkaUser with a client certificate and exactly the ACLs it needs; its
# Deployment mounts that user's Secret and the cluster CA where its settings point.
source_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
with open(os.path.join(source_root, "core-app", "src", "streaming", "quote_event_consumer.cpp"), encoding="utf-8") as f:
    need('"core-app-" + newUuid()' in f.read(), "core-app's consumer group is no longer core-app-<uuid>: its ACL below is wrong")
needed_acls = {
    "osago-aggregator": {("topic", topic_name, "literal", "Write"), ("topic", topic_name, "literal", "Describe")},
    "osago-core-app": {("topic", topic_name, "literal", "Read"), ("topic", topic_name, "literal", "Describe"),
                       ("group", "core-app-", "prefix", "Read")},
}
for name, wanted in needed_acls.items():
    user = ops.get(("KafkaUser", name))
    if not need(user is not None, f"operators: no KafkaUser {name}"):
        continue
    need(user["metadata"].get("namespace") == users_namespace == "osago",
         f"KafkaUser {name}: not in the namespace osago the User Operator watches (its Secret must be beside the pods)")
    need(user["spec"].get("authentication", {}).get("type") == "tls", f"KafkaUser {name}: not a client-certificate user")
    acls = {(a["resource"]["type"], a["resource"]["name"], a["resource"].get("patternType", "literal"), op)
            for a in user["spec"].get("authorization", {}).get("acls", []) for op in a["operations"]}
    need(acls == wanted, f"KafkaUser {name}: ACLs {sorted(acls)}, the service needs exactly {sorted(wanted)}")

    dep = deployments.get(name)
    if not dep:
        continue
    pod = dep["spec"]["template"]["spec"]
    main = next(c for c in pod["containers"] if c["name"] == name)
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    env = resources.get(("ConfigMap", f"{name}-env"), {}).get("data", {})
    need(env.get("OSAGO_KAFKA_SECURITY_PROTOCOL") == "ssl", f"{name}: Kafka is not reached over TLS")
    for var, secret in (("OSAGO_KAFKA_CA_FILE", "osago-kafka-cluster-ca-cert"), ("OSAGO_KAFKA_CLIENT_CERT", name),
                        ("OSAGO_KAFKA_CLIENT_KEY", name)):
        path = env.get(var, "")
        mount = next((m for m in main.get("volumeMounts", []) if path.startswith(m["mountPath"].rstrip("/") + "/")), None)
        if not need(mount is not None, f"{name}: {var}={path} is on no mounted volume"):
            continue
        source = volumes.get(mount["name"], {}).get("secret", {})
        need(source.get("secretName") == secret, f"{name}: {var} is not from the Secret {secret}")
        items = {i["path"] for i in source.get("items", [])}
        need(not items or os.path.basename(path) in items, f"{name}: {var}: the Secret volume has no {os.path.basename(path)}")
        need(source.get("defaultMode", 0o644) & 0o007 == 0, f"{name}: the Secret behind {var} is readable by others")

for f in findings:
    print("FAIL:", f)
print(f"{len(findings)} finding(s) in the Kubernetes manifests" if findings else "manifests: every rule holds")
sys.exit(1 if findings else 0)
