#!/usr/bin/env bash
# Offline checks of the deployment files (no Docker engine or API server
# needed):
#   1. every overlay in deploy/k8s/overlays renders with `kubectl kustomize`;
#   2. every rendered document validates against the Kubernetes schemas of
#      npm kubernetes-models, plus makegood's own rules (restricted security
#      context, requests and limits, gRPC probes, drain budget, no subPath on
#      the policy mount, no Secret outside dev, ...): deploy/check/validate.cjs;
#   3. `tsc --noEmit --strict` on a TypeScript file per overlay that assigns
#      each document to its kubernetes-models interface (unknown fields fail);
#   4. the policy copy in the base equals config/policy/default.textproto;
#   5. dockerfilelint on deploy/Dockerfile.
# Needs the npm devDependencies (npm install at the repo root) and kubectl
# with kustomize >= v4 (kubectl >= 1.21; Debian's kubernetes-client 1.20 is
# too old). Exits non-zero on any failure.
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
overlays=()
for dir in deploy/k8s/overlays/*/; do
  name=$(basename "$dir")
  overlays+=("$name")
  step "kustomize render: $name"
  if kubectl kustomize "$dir" >"$out/$name.yaml" 2>"$out/$name.err"; then ok; else bad; cat "$out/$name.err" >&2; fi
done

step "kubernetes-models validate + rules"
if node deploy/check/validate.cjs "$out" "${overlays[@]}" >"$out/validate.log" 2>&1; then ok; else bad; fi
cat "$out/validate.log"

step "tsc --strict against k8s interfaces"
printf '{"extends": "../check/tsconfig.json", "include": ["*.ts"]}\n' >"$out/tsconfig.json"
if $bin/tsc -p "$out/tsconfig.json" >"$out/tsc.log" 2>&1; then ok; else bad; cat "$out/tsc.log" >&2; fi

step "policy ConfigMap copy == config/policy"
if cmp -s config/policy/default.textproto deploy/k8s/base/makegood/policy.textproto; then ok; else
  bad; echo "    copy it: cp config/policy/default.textproto deploy/k8s/base/makegood/policy.textproto" >&2
fi

step "dockerfilelint deploy/Dockerfile"
if $bin/dockerfilelint deploy/Dockerfile >"$out/dockerfilelint.log" 2>&1; then ok; else bad; cat "$out/dockerfilelint.log" >&2; fi

if ((failed > 0)); then
  echo "deploy checks: $failed failed" >&2
  exit 1
fi
echo "deploy checks: all passed (${#overlays[@]} overlays: ${overlays[*]})"
