#!/usr/bin/env node
// Validates rendered Kubernetes manifests (one multi-document YAML file per
// overlay) with kubernetes-models, checks deployment rules that the schemas
// cannot express, and writes one TypeScript file per overlay that assigns
// every document to its kubernetes-models interface, so that
// `tsc --noEmit --strict` rejects unknown (misspelt or misplaced) fields.
//
// Usage: node validate.cjs OUT_DIR OVERLAY... (reads OUT_DIR/OVERLAY.yaml,
// writes OUT_DIR/OVERLAY.ts). Exits 1 on any failure.
"use strict";
const fs = require("fs");
const path = require("path");
const YAML = require("yaml");

const [outDir, ...overlays] = process.argv.slice(2);
let failures = 0;
const fail = (where, msg) => {
  failures++;
  console.error(`FAIL ${where}: ${msg}`);
};

// "apps/v1" -> "kubernetes-models/apps/v1/Deployment"; "v1" -> ".../v1/Service"
const modulePath = (doc) => `kubernetes-models/${doc.apiVersion}/${doc.kind}`;

const parseDuration = (s) => {
  const m = /^(\d+)(ms|s|m)$/.exec(String(s));
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2]];
};

function checkContainers(where, podSpec) {
  const all = [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
  for (const c of all) {
    const w = `${where} container ${c.name}`;
    const sc = c.securityContext || {};
    if (sc.allowPrivilegeEscalation !== false) fail(w, "allowPrivilegeEscalation must be false");
    if (sc.readOnlyRootFilesystem !== true) fail(w, "readOnlyRootFilesystem must be true");
    if (!(sc.capabilities && (sc.capabilities.drop || []).includes("ALL"))) fail(w, "capabilities must drop ALL");
    const r = c.resources || {};
    for (const kind of ["requests", "limits"])
      for (const res of ["cpu", "memory"])
        if (!(r[kind] && r[kind][res])) fail(w, `resources.${kind}.${res} missing`);
    if (/:latest$/.test(c.image) || !c.image.includes(":")) fail(w, `image ${c.image} needs a fixed tag`);
  }
  const psc = podSpec.securityContext || {};
  if (psc.runAsNonRoot !== true) fail(where, "pod runAsNonRoot must be true");
  if (!(psc.seccompProfile && psc.seccompProfile.type === "RuntimeDefault"))
    fail(where, "pod seccompProfile must be RuntimeDefault");
  if (podSpec.automountServiceAccountToken !== false) fail(where, "automountServiceAccountToken must be false");
}

function checkMakegood(where, d, overlay) {
  const spec = d.spec.template.spec;
  const c = spec.containers.find((x) => x.name === "makegood");
  if (!c) return fail(where, "no makegood container");
  for (const p of ["startupProbe", "readinessProbe", "livenessProbe"])
    if (!(c[p] && c[p].grpc && c[p].grpc.port === 50051)) fail(where, `${p} must be a gRPC probe on 50051`);
  const env = Object.fromEntries((c.env || []).map((e) => [e.name, e]));
  if (!env.MAKEGOOD_LISTEN || env.MAKEGOOD_LISTEN.value !== "0.0.0.0:50051") fail(where, "MAKEGOOD_LISTEN");
  if (!env.MAKEGOOD_POLICY || !env.MAKEGOOD_POLICY.value) fail(where, "MAKEGOOD_POLICY");
  if (!(env.MAKEGOOD_REDIS && env.MAKEGOOD_REDIS.valueFrom && env.MAKEGOOD_REDIS.valueFrom.secretKeyRef))
    fail(where, "MAKEGOOD_REDIS must come from a Secret");
  const grace = parseDuration((env.MAKEGOOD_SHUTDOWN_GRACE || {}).value || "20s");
  const sleep = (((c.lifecycle || {}).preStop || {}).sleep || {}).seconds || 0;
  if (!(spec.terminationGracePeriodSeconds > grace + sleep))
    fail(where, `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} must exceed shutdown_grace ${grace}s + preStop ${sleep}s`);
  const policyDir = path.posix.dirname(env.MAKEGOOD_POLICY ? env.MAKEGOOD_POLICY.value : "");
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === policyDir);
  if (!mount) fail(where, `no volume mounted at ${policyDir}`);
  else if (mount.subPath) fail(where, "policy mount must not use subPath (breaks hot reload)");
  if (overlay === "prod" && !(d.spec.replicas >= 3)) fail(where, "prod needs >= 3 replicas");
}

for (const overlay of overlays) {
  const file = path.join(outDir, `${overlay}.yaml`);
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  const imports = new Map();
  const lines = [];
  const kinds = {};
  docs.forEach((yamlDoc, i) => {
    if (yamlDoc.errors.length) return fail(`${overlay}#${i}`, yamlDoc.errors.join("; "));
    const doc = yamlDoc.toJS();
    if (!doc) return;
    const where = `${overlay} ${doc.kind}/${doc.metadata && doc.metadata.name}`;
    let Model;
    try {
      Model = require(modulePath(doc))[doc.kind];
    } catch (e) {
      return fail(where, `no kubernetes-models class for ${doc.apiVersion} ${doc.kind}`);
    }
    try {
      new Model(doc).validate();
    } catch (e) {
      fail(where, `schema: ${e.message}`);
    }
    kinds[doc.kind] = (kinds[doc.kind] || 0) + 1;
    const iface = `I${doc.kind}`;
    imports.set(modulePath(doc), iface);
    lines.push(`// ${where}\nexport const doc${i}: ${iface} = ${JSON.stringify(doc, null, 2)};\n`);

    const podSpec = doc.spec && doc.spec.template && doc.spec.template.spec;
    if (podSpec) checkContainers(where, podSpec);
    if (doc.kind === "Deployment" && doc.metadata.name === "makegood") checkMakegood(where, doc, overlay);
    if (doc.kind === "ServiceAccount" && doc.automountServiceAccountToken !== false)
      fail(where, "automountServiceAccountToken must be false");
    if (doc.kind === "Secret" && overlay !== "dev") fail(where, "only the dev overlay may carry an (example) Secret");
  });
  for (const k of ["Deployment", "StatefulSet", "Service", "NetworkPolicy", "ConfigMap", "PodDisruptionBudget"])
    if (!kinds[k]) fail(overlay, `no ${k} rendered`);
  if (overlay === "prod" && !kinds.HorizontalPodAutoscaler) fail(overlay, "no HorizontalPodAutoscaler");
  const header = [...imports].map(([mod, iface]) => `import type { ${iface} } from "${mod}";`).join("\n");
  fs.writeFileSync(path.join(outDir, `${overlay}.ts`), `${header}\n\n${lines.join("\n")}`);
  const summary = Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ");
  console.log(`  ${overlay}: ${docs.length} documents checked (${summary})`);
}
process.exit(failures ? 1 : 0);
