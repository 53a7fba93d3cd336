#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine or API server
# needed):
#   1. every overlay in deploy/k8s/overlays renders with `kubectl kustomize`
#      (prod-redis-cluster: prod on Redis Cluster), and so does prod with each
#      component of deploy/k8s/components no overlay uses ("prod+mtls"), so
#      opt-in components are checked too;
#   2. every rendered document validates against the Kubernetes schemas of
#      npm kubernetes-models (cert-manager: structural checks), plus
#      makegood's own rules (restricted security context, requests and limits,
#      TLS exec health probes, TLS and auth from mounted Secrets, no
#      --insecure_dev, metrics port and scrape annotations, drain budgets, the
#      settlement worker's StatefulSet, PDB and egress, the money-check
#      CronJob, the dashboard ConfigMap, no Secret outside dev, the Redis
#      Cluster option's nodes, configuration, creation Job and URL, ...):
#      deploy/check/validate.cjs; the shell scripts in ConfigMaps pass
#      `sh -n` and `shellcheck -s sh` (if installed);
#   2b. the Redis Cluster component's scripts (init, readiness, preStop,
#      creation Job) run against six local redis-servers:
#      deploy/check/redis-cluster-scripts.sh (skipped without redis-server,
#      yq or a mount namespace);
#   3. `tsc --noEmit --strict` on a TypeScript file per rendering that assigns
#      each document to its kubernetes-models interface (cert-manager:
#      deploy/check/cert-manager.d.ts), so unknown fields fail;
#   4. the copies in the base equal their sources: the policy
#      (config/policy/default.textproto) and the Grafana dashboard
#      (deploy/grafana/makegood.json);
#   5. dockerfilelint on deploy/Dockerfile;
#   6. the exec-probe client deploy/probe/makegood_health_probe.cc compiles
#      (as deploy/Dockerfile builds it) and answers usage and connection
#      errors with its documented exit codes.
# Needs the npm devDependencies (npm install at the repo root), kubectl with
# kustomize >= v4 (kubectl >= 1.21; Debian's kubernetes-client 1.20 is too
# old), g++ and the gRPC C++ development files (scripts/setup.sh installs
# them). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=node_modules/.bin
for tool in tsc dockerfilelint; do
  [[ -x $bin/$tool ]] || { echo "deploy/check.sh: $bin/$tool missing: run npm install at the repo root" >&2; exit 1; }
done
command -v kubectl >/dev/null 2>&1 ||
  { echo "deploy/check.sh: kubectl not found (kubectl >= 1.21 is needed for kustomize v4+)" >&2; exit 1; }

out=$(mktemp -d deploy/.check-out.XXXXXX)
trap 'rm -rf "$out"' EXIT
failed=0
step() { printf '  %-44s' "$1"; }
ok() { echo "ok"; }
bad() { echo "FAILED"; failed=$((failed + 1)); }

echo "==> deploy checks"
renders=()
for dir in deploy/k8s/overlays/*/; do
  name=$(basename "$dir")
  renders+=("$name")
  step "kustomize render: $name"
  if kubectl kustomize "$dir" >"$out/$name.yaml" 2>"$out/$name.err"; then ok; else bad; cat "$out/$name.err" >&2; fi
done
# Opt-in components on top of prod, in a throwaway kustomization (inside
# deploy/ so that its relative paths reach the overlay and the component).
for dir in deploy/k8s/components/*/; do
  component=$(basename "$dir")
  # Skipped when an overlay uses it already (jwt in prod, redis-cluster in
  # prod-redis-cluster).
  grep -qs "components/$component\$" deploy/k8s/overlays/*/kustomization.yaml && continue
  name="prod+$component"
  renders+=("$name")
  mkdir -p "$out/variant-$component"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../k8s/overlays/prod\ncomponents:\n  - ../../k8s/components/%s\n' \
    "$component" >"$out/variant-$component/kustomization.yaml"
  step "kustomize render: $name"
  if kubectl kustomize "$out/variant-$component" >"$out/$name.yaml" 2>"$out/$name.err"; then ok; else
    bad; cat "$out/$name.err" >&2
  fi
done

step "kubernetes-models validate + rules"
if node deploy/check/validate.cjs "$out" "${renders[@]}" >"$out/validate.log" 2>&1; then ok; else bad; fi
cat "$out/validate.log"

# The shell scripts that ConfigMaps carry (Redis init, probes, preStop, the
# cluster creation Job): they run in the redis image's /bin/sh (dash).
step "ConfigMap scripts: sh -n + shellcheck"
mkdir -p "$out/scripts"
for name in "${renders[@]}"; do
  # shellcheck disable=SC2016  # JavaScript, not shell.
  node -e '
    const YAML = require("yaml");
    for (const d of YAML.parseAllDocuments(require("fs").readFileSync(process.argv[1], "utf8")).map((x) => x.toJS()))
      if (d && d.kind === "ConfigMap")
        for (const [k, v] of Object.entries(d.data || {}))
          if (k.endsWith(".sh")) require("fs").writeFileSync(`${process.argv[2]}/${d.metadata.name}.${k}`, v);
  ' "$out/$name.yaml" "$out/scripts" 2>>"$out/scripts.log" || echo "cannot read $name.yaml" >>"$out/scripts.log"
done
scripts=("$out"/scripts/*.sh)
if [[ ! -e ${scripts[0]} ]]; then
  bad; echo "    no scripts found in the ConfigMaps" >&2
else
  for script in "${scripts[@]}"; do
    sh -n "$script" 2>>"$out/scripts.log" || echo "sh -n: $(basename "$script")" >>"$out/scripts.log"
    if command -v shellcheck >/dev/null 2>&1; then
      shellcheck -s sh "$script" >>"$out/scripts.log" 2>&1 || echo "shellcheck: $(basename "$script")" >>"$out/scripts.log"
    fi
  done
  if [[ -s $out/scripts.log ]]; then bad; cat "$out/scripts.log" >&2; else ok; fi
fi

# The Redis Cluster component's scripts, run for real against six local
# redis-servers (needs redis-server, yq and a mount namespace: root).
step "redis-cluster scripts on 6 local nodes"
if ! command -v redis-server >/dev/null 2>&1 || ! command -v yq >/dev/null 2>&1 || ! unshare -m true 2>/dev/null; then
  echo "skipped (needs redis-server, yq and unshare -m)"
elif deploy/check/redis-cluster-scripts.sh >"$out/redis-cluster-scripts.log" 2>&1; then ok; else
  bad; cat "$out/redis-cluster-scripts.log" >&2
fi

step "tsc --strict against k8s interfaces"
printf '{"extends": "../check/tsconfig.json", "include": ["*.ts"]}\n' >"$out/tsconfig.json"
if $bin/tsc -p "$out/tsconfig.json" >"$out/tsc.log" 2>&1; then ok; else bad; cat "$out/tsc.log" >&2; fi

step "policy ConfigMap copy == config/policy"
if cmp -s config/policy/default.textproto deploy/k8s/base/makegood/policy.textproto; then ok; else
  bad; echo "    copy it: cp config/policy/default.textproto deploy/k8s/base/makegood/policy.textproto" >&2
fi

step "dashboard copy == deploy/grafana"
if cmp -s deploy/grafana/makegood.json deploy/k8s/base/grafana/makegood.json; then ok; else
  bad; echo "    copy it: cp deploy/grafana/makegood.json deploy/k8s/base/grafana/makegood.json" >&2
fi

step "dockerfilelint deploy/Dockerfile"
if $bin/dockerfilelint deploy/Dockerfile >"$out/dockerfilelint.log" 2>&1; then ok; else bad; cat "$out/dockerfilelint.log" >&2; fi

# Same command line as deploy/Dockerfile's build stage. Exit codes: 1 usage,
# 2 no connection (port 1 on loopback is closed).
step "exec probe builds and runs"
probe="$out/makegood_health_probe"
# shellcheck disable=SC2046  # pkg-config prints a list of arguments.
if g++ -std=c++17 -O2 -o "$probe" deploy/probe/makegood_health_probe.cc \
  $(pkg-config --cflags --libs grpc++) >"$out/probe.log" 2>&1; then
  set +e
  "$probe" --no-such-flag 2>>"$out/probe.log"
  usage=$?
  "$probe" --addr=127.0.0.1:1 --timeout_ms=300 2>>"$out/probe.log"
  refused=$?
  set -e
  if [[ $usage == 1 && $refused == 2 ]]; then ok; else
    bad; echo "    exit codes: usage $usage (want 1), closed port $refused (want 2)" >&2; cat "$out/probe.log" >&2
  fi
else
  bad; cat "$out/probe.log" >&2
fi

if ((failed > 0)); then
  echo "deploy checks: $failed failed" >&2
  exit 1
fi
echo "deploy checks: all passed (${#renders[@]} renderings: ${renders[*]})"
