#!/usr/bin/env bash
# Checks deploy/grafana/makegood.json against what makegood really exports:
#   1. it is valid JSON (python3 -m json.tool);
#   2. it has a datasource template variable and every panel and target
#      queries "${datasource}";
#   3. every PromQL expression (targets, query variables) names at least one
#      metric, and every metric it names is a sample name of a real /metrics
#      scrape of services/metrics (histograms: the _bucket/_sum/_count
#      series), so a renamed or misspelt metric fails here, not on a blank
#      panel in production.
#
# Usage:
#   deploy/grafana/check.sh SCRAPE_FILE
#       SCRAPE_FILE: a /metrics response (Prometheus text format).
#   deploy/grafana/check.sh --from-test METRICS_UNIT_TEST
#       runs the unit test AdminServer.ScrapeListsEveryFamily, which records
#       one sample of every family and scrapes it over HTTP, for a fresh
#       scrape (what ctest's metrics_grafana_dashboard does).
# Needs bash and python3. Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dashboard=$here/makegood.json

usage() { sed -n '2,19p' "$0" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
if [[ $1 == --from-test ]]; then
  [[ $# -eq 2 && -x $2 ]] || usage
  scrape=$(mktemp)
  trap 'rm -f "$scrape"' EXIT
  MAKEGOOD_METRICS_SCRAPE_OUT=$scrape "$2" \
    --gtest_filter=AdminServer.ScrapeListsEveryFamily >/dev/null ||
    { echo "check.sh: $2 failed to make a scrape" >&2; exit 1; }
else
  [[ $# -eq 1 ]] || usage
  scrape=$1
fi
[[ -s $scrape ]] || { echo "check.sh: scrape $scrape is missing or empty" >&2; exit 1; }

python3 -m json.tool "$dashboard" >/dev/null ||
  { echo "check.sh: $dashboard is not valid JSON" >&2; exit 1; }

python3 - "$dashboard" "$scrape" <<'PY'
import json
import re
import sys

dashboard_path, scrape_path = sys.argv[1], sys.argv[2]
with open(dashboard_path, encoding="utf-8") as f:
    dashboard = json.load(f)

exported = set()
with open(scrape_path, encoding="utf-8") as f:
    for line in f:
        line = line.strip()
        if line and not line.startswith("#"):
            exported.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))

errors = []
DATASOURCE = "${datasource}"

variables = dashboard.get("templating", {}).get("list", [])
if not any(v.get("type") == "datasource" and v.get("name") == "datasource"
           for v in variables):
    errors.append('no template variable "datasource" of type datasource')

exprs = []  # (where, PromQL)


def uses_datasource_variable(ds):
    return isinstance(ds, dict) and ds.get("uid") == DATASOURCE


def walk_panels(panels):
    for panel in panels:
        where = f'panel {panel.get("id")} "{panel.get("title")}"'
        if panel.get("type") == "row":
            walk_panels(panel.get("panels", []))
            continue
        if not uses_datasource_variable(panel.get("datasource")):
            errors.append(f"{where}: datasource is not {DATASOURCE}")
        targets = panel.get("targets", [])
        if not targets:
            errors.append(f"{where}: no targets")
        for target in targets:
            if not uses_datasource_variable(target.get("datasource")):
                errors.append(f'{where} target {target.get("refId")}: '
                              f"datasource is not {DATASOURCE}")
            if not target.get("expr", "").strip():
                errors.append(f'{where} target {target.get("refId")}: no expr')
            else:
                exprs.append((f'{where} target {target.get("refId")}',
                              target["expr"]))


walk_panels(dashboard.get("panels", []))
for v in variables:
    if v.get("type") == "query":
        query = v.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        exprs.append((f'variable "{v.get("name")}"', query or ""))

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "inf", "nan"}


def metric_names(expr):
    """Names in metric position: not functions, keywords, labels or values."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)     # string literals
    e = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", "", e)  # Grafana variables
    e = re.sub(r"\{[^{}]*\}", "", e)                  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                  # range selectors
    # Label lists: by (...), without (...), on (...), ignoring (...),
    # group_left (...), group_right (...).
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
               " ", e)
    # label_values(metric, label): the second argument is a label.
    e = re.sub(r"\blabel_values\s*\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,[^)]*\)",
               r"\1", e)
    names = []
    for m in re.finditer(r"(?<![A-Za-z0-9_:.])([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?", e):
        name, call = m.group(1), m.group(2)
        if call or name.lower() in KEYWORDS:
            continue
        names.append(name)
    return names


for where, expr in exprs:
    names = metric_names(expr)
    if not names:
        errors.append(f"{where}: names no metric: {expr!r}")
    for name in names:
        if name not in exported:
            errors.append(f"{where}: {name} is not exported by makegood "
                          f"(not in the scrape)")

checked = sorted({n for _, e in exprs for n in metric_names(e)})
if errors:
    for e in errors:
        print(f"check.sh: {e}", file=sys.stderr)
    sys.exit(1)
print(f"check.sh: {len(exprs)} expressions, {len(checked)} metrics, all "
      f"exported: {' '.join(checked)}")
PY
