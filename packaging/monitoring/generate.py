#!/usr/bin/env python3
"""The one source of osago's service levels, alerts and dashboards.

Writes, from the definitions below:
  packaging/monitoring/prometheus/osago-rules.yml      recording and alerting rules (Prometheus)
  packaging/kubernetes/operators/prometheus-rules.yaml   the same groups as a PrometheusRule
  packaging/monitoring/grafana/osago-service.json      the service dashboard
  packaging/monitoring/grafana/osago-partners.json     the partners dashboard
  packaging/monitoring/queries.json                    every query above, for the stack's check

`generate.py` writes them; `generate.py --check` fails when a committed file
differs from what it would write (./osago test runs it). The alert tests are
written by hand (prometheus/osago-rules_test.yml) and run by promtool.
The objectives and what each alert means: docs/operations.md#service-levels.
"""
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = "docs/operations.md"  # in this repository

# Windows of the multi-window burn-rate alerts (the SRE workbook's): a fast burn
# pages when 2 % of a 30-day budget goes in an hour, a slow burn opens a ticket
# when 5 % goes in six hours; each long window is confirmed by a short one.
BURNS = [
    {"name": "FastBurn", "long": "1h", "short": "5m", "factor": 14.4, "for": "2m", "severity": "page"},
    {"name": "SlowBurn", "long": "6h", "short": "30m", "factor": 6, "for": "15m", "severity": "ticket"},
]
WINDOWS = ["5m", "30m", "1h", "6h"]

# Each objective: the share of `total` events that must be `good` over 30 days.
SLOS = [
    {
        "id": "create_latency",
        "alert": "OsagoCreateLatency",
        "objective": 0.99,
        "title": "Creates answered within 200 ms",
        "what": "of POST /api/osago/requests at core-app answered within 200 ms",
        # The route takes only POST.
        "good": 'osago_http_request_duration_seconds_bucket{route="/api/osago/requests",le="0.2"}',
        "total": 'osago_http_request_duration_seconds_count{route="/api/osago/requests"}',
        "anchor": "create-latency",
    },
    {
        "id": "own_outcome",
        "alert": "OsagoOwnOutcome",
        "objective": 0.99,
        "title": "Companies reaching their own outcome",
        "what": "of companies in quote requests ending with the insurer's own answer (an offer or its decline) "
                "before the deadline; companies switched off by an operator are not counted",
        "good": 'osago_company_quotes_final_total{reason=~"offer|declined"}',
        "total": 'osago_company_quotes_final_total{reason!="company_disabled"}',
        "anchor": "own-outcome",
    },
    {
        "id": "first_offer",
        "alert": "OsagoFirstOffer",
        "objective": 0.95,
        "title": "First offer within 20 s",
        "what": "of quote requests whose first offer came within 20 s of their creation",
        "good": 'osago_quote_first_offer_seconds_bucket{le="20"}',
        "total": "osago_quote_first_offer_seconds_count",
        "anchor": "first-offer",
    },
    {
        "id": "event_delivery",
        "alert": "OsagoEventDelivery",
        "objective": 0.99,
        "title": "Events on the stream within 1 s",
        "what": "of quote events sent to the browsers' streams within 1 s of their writing at the aggregator",
        "good": 'osago_core_event_delivery_seconds_bucket{le="1"}',
        "total": "osago_core_event_delivery_seconds_count",
        "anchor": "event-delivery",
    },
    {
        "id": "partner_availability",
        "alert": "OsagoPartnerAvailability",
        "objective": 0.99,
        "by": ["company"],
        "title": "Partner calls answered, per company",
        "what": "of a company's partner calls answered (an offer, pending or a decline; for purchases a payment page, paid or issued) rather than failed",
        "good": 'osago_partner_calls_total{outcome=~"offer|pending|declined|payment|paid|issued|not_purchasable"}',
        "total": "osago_partner_calls_total",
        "anchor": "partner-availability",
    },
]

# The other alerts: `query` is what is measured (it has series whenever the
# services run), `condition` what fires.
ALERTS = [
    {
        "alert": "OsagoPartnerBreakerOpen",
        "query": "max by (company) (osago_partner_breaker_state)",
        "condition": "== 2",
        "for": "1m",
        "severity": "warning",
        "summary": "The breaker of {{ $labels.company }} is open",
        "description": "Calls to {{ $labels.company }} are refused at once on at least one instance: the partner "
                       "fails or is slow. Its companies end CIRCUIT_OPEN until it recovers.",
        "anchor": "a-partner-failing",
    },
    {
        "alert": "OsagoOutboxStuck",
        "query": "max(osago_outbox_oldest_unpublished_age_seconds)",
        "condition": "> 60",
        "for": "2m",
        "severity": "page",
        "summary": "Quote events are not reaching Kafka",
        "description": "The oldest event in the outbox has waited {{ $value | humanizeDuration }}: drivers see no new "
                       "offers live. Check Kafka and the aggregators' logs (outbox relay).",
        "anchor": "a-stuck-outbox",
    },
    {
        "alert": "OsagoKafkaConsumerLag",
        "query": "max by (instance, partition) (osago_core_kafka_consumer_lag)",
        "condition": "> 1000",
        "for": "5m",
        "severity": "warning",
        "summary": "core-app {{ $labels.instance }} is behind on partition {{ $labels.partition }}",
        "description": "{{ $value }} quote events not read yet: offers reach that instance's streams late.",
        "anchor": "consumer-lag",
    },
    {
        "alert": "OsagoPluginWorkerCrashing",
        "query": 'sum by (company) (increase(osago_plugin_worker_restarts_total{reason!="killed"}[10m]))',
        "condition": "> 3",
        "for": "0m",
        "severity": "warning",
        "summary": "The plugin worker of {{ $labels.company }} keeps dying",
        "description": "{{ $value }} restarts in 10 minutes. See the worker's last lines in the aggregator log; "
                       "switch the plugin off if its calls keep failing.",
        "anchor": "a-plugin-that-crashes-or-misbehaves",
    },
    {
        "alert": "OsagoShedding",
        "query": "max(osago_admission_shedding)",
        "condition": "== 1",
        "for": "10m",
        "severity": "warning",
        "summary": "An aggregator has been refusing new quote requests for 10 minutes",
        "description": "Drivers get 503 OVERLOADED: add instances or partner capacity.",
        "anchor": "load-shedding",
    },
    {
        "alert": "OsagoTargetDown",
        "query": 'up{job=~"osago-.*"}',
        "condition": "== 0",
        "for": "1m",
        "severity": "page",
        "summary": "{{ $labels.job }} {{ $labels.instance }} does not answer its scrape",
        "description": "The instance is down or its /metrics does not answer.",
        "anchor": "health",
    },
]


def ratio_record(slo, window):
    return f"osago:slo_{slo['id']}:error_ratio_rate{window}"


def by_clause(slo):
    return f" by ({', '.join(slo['by'])})" if slo.get("by") else ""


def rules():
    groups = []
    for slo in SLOS:
        by = by_clause(slo)
        records = [
            {
                "record": ratio_record(slo, w),
                "expr": f"1 - (\n  sum{by} (\n    rate({slo['good']}[{w}])\n  )\n  /\n  sum{by} (\n    rate({slo['total']}[{w}])\n  )\n)\n",
            }
            for w in WINDOWS
        ]
        budget = round(1 - slo["objective"], 6)
        alerts = []
        for burn in BURNS:
            threshold = round(burn["factor"] * budget, 6)
            alerts.append({
                "alert": slo["alert"] + burn["name"],
                "expr": f"{ratio_record(slo, burn['long'])} > {threshold}\nand\n{ratio_record(slo, burn['short'])} > {threshold}\n",
                "for": burn["for"],
                "labels": {"severity": burn["severity"], "slo": slo["id"]},
                "annotations": {
                    "summary": f"{slo['title']}: the error budget burns {burn['factor']}x too fast"
                               + (" for {{ $labels.company }}" if slo.get("by") else ""),
                    "description": f"Objective: {slo['objective'] * 100:g} % {slo['what']}. Over the last "
                                   f"{burn['long']} {{{{ $value | humanizePercentage }}}} missed it.",
                    "runbook_url": f"{RUNBOOK}#{slo['anchor']}",
                },
            })
        groups.append({"name": f"osago-slo-{slo['id']}", "rules": records + alerts})
    groups.append({
        "name": "osago-alerts",
        "rules": [{
            "alert": a["alert"],
            "expr": f"{a['query']} {a['condition']}",
            "for": a["for"],
            "labels": {"severity": a["severity"]},
            "annotations": {"summary": a["summary"], "description": a["description"],
                            "runbook_url": f"{RUNBOOK}#{a['anchor']}"},
        } for a in ALERTS],
    })
    return {"groups": groups}


def panel(title, targets, unit="short", x=0, y=0, w=12, h=8, kind="timeseries"):
    return {
        "type": kind,
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [{"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(targets)],
    }


def layout(panels):
    """Two panels a row, each its own id."""
    for i, p in enumerate(panels):
        p["id"] = i + 1
        p["gridPos"].update({"x": (i % 2) * 12, "y": (i // 2) * 8})
    return panels


def dashboard(uid, title, description, panels):
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["osago"],
        "timezone": "browser",
        "schemaVersion": 36,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "type": "datasource", "query": "prometheus",
                                 "label": "Prometheus"}]},
        "panels": layout(panels),
    }


def service_dashboard():
    route = 'route="/api/osago/requests",method="POST"'
    slo_panels = [panel(f"SLO: {s['title']} (error ratio, 1 h; objective {s['objective'] * 100:g} %)",
                        [(ratio_record(s, "1h"), "{{company}}" if s.get("by") else "error ratio")], unit="percentunit")
                  for s in SLOS if not s.get("by")]
    return dashboard("osago-service", "osago: service", "Quote requests as drivers feel them, and the services' health.", slo_panels + [
        panel("Create latency at core-app (p50, p99)", [
            (f"histogram_quantile(0.5, sum by (le) (rate(osago_http_request_duration_seconds_bucket{{{route}}}[5m])))", "p50"),
            (f"histogram_quantile(0.99, sum by (le) (rate(osago_http_request_duration_seconds_bucket{{{route}}}[5m])))", "p99"),
        ], unit="s"),
        panel("Requests by route and status (both services)", [
            ('sum by (job, route, status) (rate(osago_http_requests_total[5m]))', "{{job}} {{route}} {{status}}")], unit="reqps"),
        panel("Quote requests at the aggregator by result", [
            ("sum by (result) (rate(osago_quote_requests_total[5m]))", "{{result}}")], unit="reqps"),
        panel("Time to the first offer (p50, p95)", [
            ("histogram_quantile(0.5, sum by (le) (rate(osago_quote_first_offer_seconds_bucket[10m])))", "p50"),
            ("histogram_quantile(0.95, sum by (le) (rate(osago_quote_first_offer_seconds_bucket[10m])))", "p95"),
        ], unit="s"),
        panel("Event delivery, writing to stream (p50, p99)", [
            ("histogram_quantile(0.5, sum by (le) (rate(osago_core_event_delivery_seconds_bucket[5m])))", "p50"),
            ("histogram_quantile(0.99, sum by (le) (rate(osago_core_event_delivery_seconds_bucket[5m])))", "p99"),
        ], unit="s"),
        panel("core-app's calls by dependency and outcome", [
            ("sum by (dependency, outcome) (rate(osago_core_client_requests_total[5m]))", "{{dependency}} {{outcome}}")],
            unit="reqps"),
        panel("Outbox: events waiting for Kafka, and the oldest one's age", [
            ("max(osago_outbox_backlog)", "events"), ("max(osago_outbox_oldest_unpublished_age_seconds)", "oldest (s)")]),
        panel("Kafka consumer lag per core-app instance and partition", [
            ("max by (instance, partition) (osago_core_kafka_consumer_lag)", "{{instance}} p{{partition}}")]),
        panel("Load shedding and the scheduler's backlog", [
            ("max by (instance) (osago_admission_shedding)", "{{instance}} shedding"),
            ("max by (instance) (osago_scheduler_backlog_seconds)", "{{instance}} backlog (s)")]),
        panel("Open streams and requests in flight", [
            ("sum by (instance) (osago_core_open_streams)", "{{instance}} streams"),
            ("sum by (job, instance) (osago_http_requests_in_flight)", "{{job}} {{instance}} in flight")]),
        panel("CPU per process", [("rate(process_cpu_seconds_total{job=~\"osago-.*\"}[5m])", "{{job}} {{instance}}")],
              unit="percentunit"),
        panel("Resident memory per process", [("process_resident_memory_bytes{job=~\"osago-.*\"}", "{{job}} {{instance}}")],
              unit="bytes"),
        panel("Open descriptors and threads per process", [
            ("process_open_fds{job=~\"osago-.*\"}", "{{job}} {{instance}} fds"),
            ("process_threads{job=~\"osago-.*\"}", "{{job}} {{instance}} threads")]),
        # Counted only when one happens (its `where` label is the place): 0 per service otherwise.
        panel("Unexpected errors (each a bug)", [
            ("sum by (job) (increase(osago_unexpected_errors_total[1h])) or sum by (job) (up{job=~\"osago-.*\"}) * 0",
             "{{job}}")]),
    ])


def partners_dashboard():
    availability = next(s for s in SLOS if s["id"] == "partner_availability")
    return dashboard("osago-partners", "osago: partners", "Which insurer is hurting us: calls, latency, breakers, workers.", [
        panel(f"SLO: {availability['title']} (error ratio, 1 h; objective {availability['objective'] * 100:g} %)",
              [(ratio_record(availability, "1h"), "{{company}}")], unit="percentunit"),
        panel("Partner calls by company and outcome", [
            ("sum by (company, outcome) (rate(osago_partner_calls_total[5m]))", "{{company}} {{outcome}}")], unit="reqps"),
        panel("Partner call latency p95 by company", [
            ("histogram_quantile(0.95, sum by (company, le) (rate(osago_partner_call_duration_seconds_bucket[5m])))",
             "{{company}}")], unit="s"),
        panel("Breaker state by company (0 closed, 1 half-open, 2 open)", [
            ("max by (company) (osago_partner_breaker_state)", "{{company}}")]),
        panel("Bulkhead: calls running and queued by company", [
            ("sum by (company) (osago_partner_bulkhead_in_use)", "{{company}} running"),
            ("sum by (company) (osago_partner_bulkhead_queued)", "{{company}} queued")]),
        panel("Final statuses by company and reason", [
            ("sum by (company, reason) (rate(osago_company_quotes_final_total[15m]))", "{{company}} {{reason}}")],
            unit="reqps"),
        panel("Plugin workers up, and restarts in 10 minutes", [
            ("min by (company) (osago_plugin_worker_up)", "{{company}} up"),
            ("sum by (company) (increase(osago_plugin_worker_restarts_total[10m]))", "{{company}} restarts")]),
        panel("Plugins switched on", [("min by (plugin) (osago_plugin_enabled)", "{{plugin}}")]),
    ])


def prometheus_rule(groups):
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "osago", "labels": {"app.kubernetes.io/part-of": "osago"}},
        "spec": groups,
    }


def queries(groups, dashboards):
    """Every expression, for the stack's check: each must be valid and, during a quote flow, have series."""
    out = []
    for g in groups["groups"]:
        for r in g["rules"]:
            if "record" in r:
                out.append({"source": f"rule {r['record']}", "expr": r["expr"], "must_have_series": True})
                out.append({"source": f"recorded {r['record']}", "expr": r["record"], "must_have_series": True})
            else:
                out.append({"source": f"alert {r['alert']}", "expr": r["expr"], "must_have_series": False})
    for a in ALERTS:
        out.append({"source": f"alert {a['alert']} (its measure)", "expr": a["query"], "must_have_series": True})
    for d in dashboards:
        for p in d["panels"]:
            for t in p["targets"]:
                out.append({"source": f"{d['uid']}: {p['title']}", "expr": t["expr"], "must_have_series": True})
    return out


class IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as yamllint's default wants."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _block_when_multiline(dumper, text):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


IndentedDumper.add_representer(str, _block_when_multiline)


HEADER = "# Generated by packaging/monitoring/generate.py from its definitions: edit those, then run it.\n"


def outputs():
    groups = rules()
    dashboards = [service_dashboard(), partners_dashboard()]
    dump = lambda doc: HEADER + yaml.dump(doc, Dumper=IndentedDumper, sort_keys=False, width=100, allow_unicode=True)
    return {
        ROOT / "packaging/monitoring/prometheus/osago-rules.yml": dump(groups),
        ROOT / "packaging/kubernetes/operators/prometheus-rules.yaml": dump(prometheus_rule(groups)),
        ROOT / "packaging/monitoring/grafana/osago-service.json": json.dumps(dashboards[0], indent=2, ensure_ascii=False) + "\n",
        ROOT / "packaging/monitoring/grafana/osago-partners.json": json.dumps(dashboards[1], indent=2, ensure_ascii=False) + "\n",
        ROOT / "packaging/monitoring/queries.json": json.dumps(queries(groups, dashboards), indent=2) + "\n",
    }


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in outputs().items():
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("not what packaging/monitoring/generate.py writes (run it and commit): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
