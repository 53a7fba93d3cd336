#!/usr/bin/env node
// Validates rendered Kubernetes manifests (one multi-document YAML file per
// overlay) with kubernetes-models, checks deployment rules that the schemas
// cannot express, and writes one TypeScript file per overlay that assigns
// every document to its kubernetes-models interface, so that
// `tsc --noEmit --strict` rejects unknown (misspelt or misplaced) fields.
// cert-manager documents have no kubernetes-models class: they get a few
// structural checks here and the interfaces of ./cert-manager.d.ts.
//
// Usage: node validate.cjs OUT_DIR OVERLAY... (reads OUT_DIR/OVERLAY.yaml,
// writes OUT_DIR/OVERLAY.ts). An overlay named "prod", "prod+<component>" or
// "prod-<variant>" gets the prod rules. Exits 1 on any failure.
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

const CERT_MANAGER = "cert-manager.io/v1";
const PROBE = "/usr/local/bin/makegood_health_probe";
const ADMIN = "/usr/local/bin/makegood_admin";
const API = "makegood"; // Deployment
const WORKER = "makegood-worker"; // StatefulSet

// "apps/v1" -> "kubernetes-models/apps/v1/Deployment"; "v1" -> ".../v1/Service";
// cert-manager -> the local interfaces (a path relative to OUT_DIR).
const modulePath = (doc) =>
  doc.apiVersion === CERT_MANAGER ? "../check/cert-manager" : `kubernetes-models/${doc.apiVersion}/${doc.kind}`;

const parseDuration = (s) => {
  const m = /^(\d+)(ms|s|m|h)$/.exec(String(s));
  if (!m) return NaN;
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2]];
};

const podSpecOf = (doc) =>
  doc.kind === "CronJob"
    ? doc.spec && doc.spec.jobTemplate && doc.spec.jobTemplate.spec && doc.spec.jobTemplate.spec.template && doc.spec.jobTemplate.spec.template.spec
    : doc.spec && doc.spec.template && doc.spec.template.spec;
const podLabelsOf = (doc) =>
  ((doc.kind === "CronJob" ? doc.spec.jobTemplate.spec.template : doc.spec.template).metadata || {}).labels || {};
const selects = (matchLabels, labels) =>
  !!matchLabels && Object.entries(matchLabels).every(([k, v]) => labels[k] === v);
const envOf = (c) => Object.fromEntries((c.env || []).map((e) => [e.name, e]));

// cert-manager: what the schemas would catch first (the TypeScript interfaces
// catch unknown fields).
function checkCertManager(where, doc) {
  const spec = doc.spec || {};
  if (doc.kind === "Certificate") {
    if (!spec.secretName) fail(where, "spec.secretName missing");
    if (!(spec.issuerRef && spec.issuerRef.name)) fail(where, "spec.issuerRef.name missing");
    if (!spec.isCA && !(spec.dnsNames || []).length && !spec.commonName) fail(where, "no dnsNames");
  } else if (doc.kind === "Issuer" || doc.kind === "ClusterIssuer") {
    // Only the issuer types cert-manager.d.ts knows (extend both together).
    const kinds = ["selfSigned", "ca"].filter((k) => spec[k]);
    if (kinds.length !== 1) fail(where, "an Issuer needs exactly one of selfSigned, ca");
    if (spec.ca && !spec.ca.secretName) fail(where, "spec.ca.secretName missing");
  } else {
    fail(where, `no check for cert-manager kind ${doc.kind}`);
  }
}

// claims: a StatefulSet's volumeClaimTemplates names (volumes too).
function checkContainers(where, podSpec, claims = []) {
  const all = [...(podSpec.initContainers || []), ...(podSpec.containers || [])];
  const volumes = Object.fromEntries([
    ...claims.map((name) => [name, { persistentVolumeClaim: { claimName: name } }]),
    ...(podSpec.volumes || []).map((v) => [v.name, v]),
  ]);
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
    // Plaintext development mode: never in a manifest (it binds loopback
    // only, useless in a pod, and accepts every caller).
    const env = envOf(c);
    if (env.MAKEGOOD_INSECURE_DEV) fail(w, "MAKEGOOD_INSECURE_DEV must not be set in any overlay");
    if ([...(c.command || []), ...(c.args || [])].some((a) => String(a).startsWith("--insecure_dev")))
      fail(w, "--insecure_dev must not be used in any overlay");
    // Secrets and ConfigMaps as directories: subPath mounts never see
    // updates (policy reload, certificate renewal, key rotation).
    for (const m of c.volumeMounts || []) {
      const v = volumes[m.name];
      if (!v) fail(w, `volumeMount ${m.name} has no volume`);
      else if ((v.secret || v.configMap) && m.subPath) fail(w, `${m.mountPath}: no subPath on Secret/ConfigMap mounts`);
      if (v && v.secret && m.readOnly !== true) fail(w, `${m.mountPath}: Secret mounts must be readOnly`);
    }
  }
  const psc = podSpec.securityContext || {};
  if (psc.runAsNonRoot !== true) fail(where, "pod runAsNonRoot must be true");
  if (!(psc.seccompProfile && psc.seccompProfile.type === "RuntimeDefault"))
    fail(where, "pod seccompProfile must be RuntimeDefault");
  if (podSpec.automountServiceAccountToken !== false) fail(where, "automountServiceAccountToken must be false");
}

// A file named by an env var must live in a mounted volume (of the given
// kind, when asked), or be /dev/null.
function checkFileEnv(where, c, volumes, name, kind) {
  const e = envOf(c)[name];
  if (!e) return;
  if (e.value === "/dev/null") return;
  const dir = path.posix.dirname(e.value || "");
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === dir);
  if (!mount) return fail(where, `${name}=${e.value}: nothing mounted at ${dir}`);
  const v = volumes[mount.name] || {};
  if (kind && !v[kind]) fail(where, `${name}: ${dir} must be a ${kind} volume`);
}

// The API Deployment and the worker StatefulSet: the same server binary.
function checkServer(where, d, overlay, role) {
  const spec = d.spec.template.spec;
  const c = spec.containers.find((x) => x.name === "makegood");
  if (!c) return fail(where, "no makegood container");
  const env = envOf(c);
  const volumes = Object.fromEntries((spec.volumes || []).map((v) => [v.name, v]));

  // Probes: the in-image TLS health client (the kubelet's native gRPC probe
  // dials plaintext and cannot reach makegood's TLS port).
  const mtls = !!env.MAKEGOOD_TLS_CLIENT_CA;
  for (const p of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const probe = c[p] || {};
    const cmd = (probe.exec && probe.exec.command) || [];
    if (probe.grpc) fail(where, `${p}: native gRPC probes dial plaintext; makegood's port is TLS (use ${PROBE})`);
    else if (cmd[0] !== PROBE || !cmd.includes("--addr=127.0.0.1:50051"))
      fail(where, `${p} must exec ${PROBE} --addr=127.0.0.1:50051`);
    if (mtls && !(cmd.some((a) => a.startsWith("--tls_cert=")) && cmd.some((a) => a.startsWith("--tls_key="))))
      fail(where, `${p}: with mutual TLS the probe needs --tls_cert and --tls_key`);
    if (!(probe.timeoutSeconds >= 2)) fail(where, `${p}: timeoutSeconds >= 2 (the probe's own deadline is 1.5 s)`);
  }

  if (!env.MAKEGOOD_LISTEN || env.MAKEGOOD_LISTEN.value !== "0.0.0.0:50051") fail(where, "MAKEGOOD_LISTEN");
  if (!env.MAKEGOOD_POLICY || !env.MAKEGOOD_POLICY.value) fail(where, "MAKEGOOD_POLICY");
  checkRedisUrl(where, c);

  // TLS from a mounted Secret.
  for (const name of ["MAKEGOOD_TLS_CERT", "MAKEGOOD_TLS_KEY"]) {
    if (!(env[name] && env[name].value)) fail(where, `${name} must be set (TLS is mandatory)`);
    else checkFileEnv(where, c, volumes, name, "secret");
  }
  checkFileEnv(where, c, volumes, "MAKEGOOD_TLS_CLIENT_CA", "secret");
  checkFileEnv(where, c, volumes, "MAKEGOOD_TLS_CLIENTS_FILE", "secret");
  checkFileEnv(where, c, volumes, "MAKEGOOD_API_KEYS_FILE", "secret");
  checkFileEnv(where, c, volumes, "MAKEGOOD_JWT_KEY_FILE", "secret");
  checkFileEnv(where, c, volumes, "MAKEGOOD_HTTP_PROVIDER_API_KEY_FILE", "secret");
  const jwt = ["MAKEGOOD_JWT_ISSUER", "MAKEGOOD_JWT_AUDIENCE", "MAKEGOOD_JWT_KEY_FILE"].filter((n) => env[n]);
  if (jwt.length !== 0 && jwt.length !== 3) fail(where, "JWT needs issuer, audience and key file together");
  if (!(env.MAKEGOOD_API_KEYS_FILE || jwt.length === 3 || env.MAKEGOOD_TLS_CLIENTS_FILE))
    fail(where, "no caller authentication (API keys, JWT or mTLS clients): the server refuses to start");

  // Metrics.
  const admin = env.MAKEGOOD_ADMIN_LISTEN && env.MAKEGOOD_ADMIN_LISTEN.value;
  if (admin !== "0.0.0.0:9090") fail(where, "MAKEGOOD_ADMIN_LISTEN must be 0.0.0.0:9090");
  if (!(c.ports || []).some((p) => p.name === "metrics" && p.containerPort === 9090))
    fail(where, "needs containerPort 9090 named metrics");
  const ann = d.spec.template.metadata.annotations || {};
  if (ann["prometheus.io/scrape"] !== "true" || ann["prometheus.io/port"] !== "9090")
    fail(where, "pod annotations prometheus.io/scrape=true and prometheus.io/port=9090");

  // Drain budget.
  const grace = parseDuration((env.MAKEGOOD_SHUTDOWN_GRACE || {}).value || "20s");
  const sleep = (((c.lifecycle || {}).preStop || {}).sleep || {}).seconds || 0;
  // The worker drains twice in a row: the (health-only) gRPC server, then the
  // settlements in flight, each up to --shutdown_grace.
  const needed = (role === "worker" ? 2 * grace : grace) + sleep;
  if (!(spec.terminationGracePeriodSeconds > needed))
    fail(where, `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} must exceed ${needed}s (shutdown_grace ${grace}s${role === "worker" ? " x 2" : ""} + preStop ${sleep}s)`);

  const policyDir = path.posix.dirname(env.MAKEGOOD_POLICY ? env.MAKEGOOD_POLICY.value : "");
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === policyDir);
  if (!mount) fail(where, `no volume mounted at ${policyDir}`);
  else if (mount.subPath) fail(where, "policy mount must not use subPath (breaks hot reload)");

  const value = (n) => (env[n] ? env[n].value : undefined);
  const prod = isProd(overlay);
  if (role === "api") {
    if (value("MAKEGOOD_SETTLEMENT_WORKER") === "true") fail(where, "the API must not run the settlement worker");
    if (value("MAKEGOOD_SERVE_API") === "false") fail(where, "the API Deployment must serve the API");
    if (prod && !(d.spec.replicas >= 3)) fail(where, "prod needs >= 3 API replicas");
  } else {
    if (d.kind !== "StatefulSet") fail(where, "the worker must be a StatefulSet (stable consumer names)");
    if (value("MAKEGOOD_SERVE_API") !== "false") fail(where, "the worker needs MAKEGOOD_SERVE_API=false");
    if (value("MAKEGOOD_SETTLEMENT_WORKER") !== "true") fail(where, "the worker needs MAKEGOOD_SETTLEMENT_WORKER=true");
    const consumer = env.MAKEGOOD_SETTLEMENT_CONSUMER;
    if (consumer && !(consumer.valueFrom && consumer.valueFrom.fieldRef && consumer.valueFrom.fieldRef.fieldPath === "metadata.name"))
      fail(where, "MAKEGOOD_SETTLEMENT_CONSUMER must be the pod name (unique and stable per replica)");
    if (value("MAKEGOOD_CARD_PROVIDER") === "http") {
      if (!env.MAKEGOOD_HTTP_PROVIDER_URL || !env.MAKEGOOD_HTTP_PROVIDER_API_KEY_FILE)
        fail(where, "the http card provider needs MAKEGOOD_HTTP_PROVIDER_URL and _API_KEY_FILE");
      const retry = parseDuration(value("MAKEGOOD_SETTLEMENT_RETRY_AFTER") || "5s");
      const timeout = parseDuration(value("MAKEGOOD_HTTP_PROVIDER_TIMEOUT") || "10s");
      if (!(retry > timeout))
        fail(where, `MAKEGOOD_SETTLEMENT_RETRY_AFTER (${retry}s) must exceed the provider timeout (${timeout}s)`);
    }
    if (prod && !(d.spec.replicas >= 2)) fail(where, "prod needs >= 2 workers");
  }
}

// "prod", "prod+<component>" and "prod-<variant>" (overlays built on prod)
// get the prod rules.
const isProd = (overlay) => /^prod([-+]|$)/.test(overlay);

// The Redis URL holds a password: MAKEGOOD_REDIS comes from a Secret, or is
// a literal redis-cluster:// URL whose only $(VAR) references are variables
// defined EARLIER in the list from a Secret (the kubelet expands nothing
// else: a later or unknown one would reach makegood as the text "$(VAR)").
// Returns the literal URL, if any.
function checkRedisUrl(where, c) {
  const list = c.env || [];
  const i = list.findIndex((e) => e.name === "MAKEGOOD_REDIS");
  if (i < 0) return fail(where, "no MAKEGOOD_REDIS");
  const e = list[i];
  if (e.valueFrom && e.valueFrom.secretKeyRef && e.value === undefined) return undefined;
  if (e.valueFrom || typeof e.value !== "string") return fail(where, "MAKEGOOD_REDIS: a Secret or a literal URL, not both");
  if (!e.value.startsWith("redis-cluster://")) return fail(where, "MAKEGOOD_REDIS must come from a Secret (or be a redis-cluster:// URL with $(VAR) credentials)");
  const refs = [...e.value.matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]);
  // [user]:password@ -- the password part must be nothing but references.
  const userinfo = /^redis-cluster:\/\/(.*)@/.exec(e.value);
  const password = userinfo ? userinfo[1].replace(/\$\([A-Za-z0-9_]+\)/g, "").split(":").slice(1).join(":") : "";
  if (password !== "") fail(where, "MAKEGOOD_REDIS: the password must be a $(VAR) from a Secret, not literal text");
  for (const ref of refs) {
    const j = list.findIndex((x) => x.name === ref);
    if (j < 0 || j > i) fail(where, `MAKEGOOD_REDIS uses $(${ref}), which is not defined before it (the kubelet would not expand it)`);
    else if (!(list[j].valueFrom && list[j].valueFrom.secretKeyRef)) fail(where, `$(${ref}) in MAKEGOOD_REDIS must come from a Secret`);
  }
  return e.value;
}

// The Redis Cluster option (components/redis-cluster): the nodes, their
// configuration, the creation Job, and makegood pointed at them.
function checkRedisCluster(overlay, docs, find) {
  const sts = find("StatefulSet", "redis-cluster");
  if (!sts) return;
  const where = `${overlay} redis-cluster`;
  if (docs.some((d) => d.kind === "StatefulSet" && /^redis(-sentinel)?$/.test(d.metadata.name)))
    fail(where, "Redis with Sentinel is still rendered next to the cluster");
  const n = sts.spec.replicas;
  if (!(n >= 6 && n % 2 === 0)) fail(where, `${n} nodes: a cluster of 3+ primaries with one replica each needs an even number >= 6`);
  const spec = sts.spec.template.spec;
  const redis = spec.containers.find((x) => x.name === "redis") || {};
  const ports = Object.fromEntries((redis.ports || []).map((p) => [p.containerPort, p.name]));
  if (!ports[6379] || !ports[16379]) fail(where, "the redis container needs ports 6379 and 16379 (cluster bus)");
  const dataMount = (redis.volumeMounts || []).find((m) => m.name === "data");
  if (!dataMount || !(sts.spec.volumeClaimTemplates || []).some((t) => t.metadata.name === "data"))
    fail(where, "needs a PersistentVolumeClaim template `data` mounted in the redis container");
  // The configuration: every ConfigMap key redis.conf the pods mount.
  const cms = new Set((spec.volumes || []).filter((v) => v.configMap).map((v) => v.configMap.name));
  const conf = docs.filter((d) => d.kind === "ConfigMap" && cms.has(d.metadata.name)).map((d) => (d.data || {})["redis.conf"] || "").join("\n");
  const setting = (key) => ((new RegExp(`^\\s*${key}\\s+(\\S+)`, "m").exec(conf)) || [])[1];
  if (setting("cluster-enabled") !== "yes") fail(where, "redis.conf: cluster-enabled yes");
  if (setting("appendonly") !== "yes") fail(where, "redis.conf: appendonly yes");
  if (setting("maxmemory-policy") !== "noeviction") fail(where, "redis.conf: maxmemory-policy noeviction");
  const events = setting("notify-keyspace-events") || "";
  if (!(events.includes("K") && /[tA]/.test(events)))
    fail(where, "redis.conf: notify-keyspace-events must include K and t (makegood's consumers are woken by stream events)");
  const nodesConf = setting("cluster-config-file") || "";
  if (!dataMount || !nodesConf.startsWith(`${dataMount.mountPath}/`))
    fail(where, `redis.conf: cluster-config-file ${nodesConf} must be on the PVC (${dataMount ? dataMount.mountPath : "?"})`);
  // Names: the headless Service that gives every pod its DNS name.
  const svc = find("Service", sts.spec.serviceName);
  if (!svc || svc.spec.clusterIP !== "None" || !svc.spec.publishNotReadyAddresses)
    fail(where, `Service ${sts.spec.serviceName}: headless with publishNotReadyAddresses (nodes find each other before they are ready)`);
  const labels = sts.spec.template.metadata.labels;
  if (!docs.some((d) => d.kind === "PodDisruptionBudget" && selects(d.spec.selector.matchLabels, labels) && d.spec.maxUnavailable === 1))
    fail(where, "needs a PodDisruptionBudget with maxUnavailable 1");
  // The creation Job: all the nodes, one replica per primary.
  const job = find("Job", "redis-cluster-create");
  if (!job) fail(where, "no Job redis-cluster-create");
  else {
    const env = envOf(job.spec.template.spec.containers[0]);
    const size = env.REDIS_CLUSTER_SIZE && Number(env.REDIS_CLUSTER_SIZE.value);
    if (size !== n) fail(where, `the creation Job's REDIS_CLUSTER_SIZE (${size}) must equal the StatefulSet's replicas (${n})`);
    if ((env.STATEFULSET || {}).value !== sts.metadata.name || (env.SERVICE_NAME || {}).value !== sts.spec.serviceName)
      fail(where, "the creation Job's STATEFULSET and SERVICE_NAME must name the cluster's StatefulSet and Service");
    const script = docs.filter((d) => d.kind === "ConfigMap").map((d) => (d.data || {})["redis-cluster-create.sh"]).find(Boolean) || "";
    if (!/--cluster create .*--cluster-replicas 1 --cluster-yes/.test(script)) fail(where, "the creation script must run redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes");
  }
  // The cluster bus between the nodes, clients on 6379.
  const policies = docs.filter((d) => d.kind === "NetworkPolicy" && selects(d.spec.podSelector.matchLabels, labels));
  const fromNodes = (r) => (r.from || []).some((f) => f.podSelector && selects(f.podSelector.matchLabels, labels));
  if (!policies.flatMap((p) => p.spec.ingress || []).some((r) => r.ports && allowsPort(r, 16379) && fromNodes(r)))
    fail(where, "no NetworkPolicy admits the cluster bus (16379) between the nodes");
  // makegood: seeds are nodes of this StatefulSet; its pods may reach them.
  const seedName = new RegExp(`^${sts.metadata.name}-(\\d+)\\.${sts.spec.serviceName}(\\.[a-z0-9.-]+)?:6379$`);
  for (const [kind, name] of [["Deployment", API], ["StatefulSet", WORKER], ["CronJob", "makegood-money-check"], ["CronJob", "makegood-reconcile"]]) {
    const d = find(kind, name);
    if (!d) continue;
    const c = podSpecOf(d).containers[0];
    const w = `${overlay} ${kind}/${name}`;
    // (checkServer already checked the API's and the worker's URL.)
    const url = kind === "CronJob" ? checkRedisUrl(w, c) : (envOf(c).MAKEGOOD_REDIS || {}).value;
    if (url === undefined) {
      fail(w, "on the cluster option MAKEGOOD_REDIS must be the redis-cluster:// URL of its nodes");
      continue;
    }
    const seeds = url.replace(/^redis-cluster:\/\/([^@]*@)?/, "").split(",");
    for (const seed of seeds) {
      const m = seedName.exec(seed);
      if (!m || Number(m[1]) >= n) fail(w, `seed ${seed} is not a node of StatefulSet ${sts.metadata.name}`);
    }
    const pols = docs.filter((p) => p.kind === "NetworkPolicy" && selects(p.spec.podSelector.matchLabels, podLabelsOf(d)));
    if (!pols.flatMap((p) => p.spec.egress || []).some((r) => allowsPort(r, 6379) && (r.to || []).some((t) => t.podSelector && selects(t.podSelector.matchLabels, labels))))
      fail(w, "no NetworkPolicy egress to the cluster nodes on 6379");
  }
}

// NetworkPolicy rule helpers.
const allowsPort = (rule, port) =>
  !rule.ports || rule.ports.some((p) => (p.protocol || "TCP") === "TCP" && (p.port === port || p.port === undefined));
function checkNetworkPolicies(overlay, docs, podLabels, what) {
  const policies = docs.filter((d) => d.kind === "NetworkPolicy" && selects(d.spec.podSelector.matchLabels, podLabels));
  if (!policies.length) return fail(overlay, `no NetworkPolicy selects the ${what} pods`);
  const ingress = policies.flatMap((p) => p.spec.ingress || []);
  if (!ingress.some((r) => allowsPort(r, 9090) && (r.from || []).some((f) => f.namespaceSelector)))
    fail(overlay, `${what}: no ingress to the metrics port 9090 from a monitoring namespace`);
  return policies;
}

for (const overlay of overlays) {
  const file = path.join(outDir, `${overlay}.yaml`);
  const yamlDocs = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
  const imports = new Map();
  const lines = [];
  const kinds = {};
  const docs = [];
  yamlDocs.forEach((yamlDoc, i) => {
    if (yamlDoc.errors.length) return fail(`${overlay}#${i}`, yamlDoc.errors.join("; "));
    const doc = yamlDoc.toJS();
    if (!doc) return;
    docs.push(doc);
    const where = `${overlay} ${doc.kind}/${doc.metadata && doc.metadata.name}`;
    if (doc.apiVersion === CERT_MANAGER) {
      checkCertManager(where, doc);
    } else {
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
    }
    kinds[doc.kind] = (kinds[doc.kind] || 0) + 1;
    const iface = `I${doc.kind}`;
    imports.set(`${modulePath(doc)}#${iface}`, [modulePath(doc), iface]);
    lines.push(`// ${where}\nexport const doc${i}: ${iface} = ${JSON.stringify(doc, null, 2)};\n`);

    const podSpec = podSpecOf(doc);
    const claims = ((doc.spec && doc.spec.volumeClaimTemplates) || []).map((t) => t.metadata.name);
    if (podSpec) checkContainers(where, podSpec, claims);
    if (doc.kind === "Deployment" && doc.metadata.name === API) checkServer(where, doc, overlay, "api");
    if (doc.metadata.name === WORKER && (doc.kind === "StatefulSet" || doc.kind === "Deployment"))
      checkServer(where, doc, overlay, "worker");
    if (doc.kind === "ServiceAccount" && doc.automountServiceAccountToken !== false)
      fail(where, "automountServiceAccountToken must be false");
    if (doc.kind === "Secret" && overlay !== "dev") fail(where, "only the dev overlay may carry an (example) Secret");
  });

  for (const k of ["Deployment", "StatefulSet", "Service", "NetworkPolicy", "ConfigMap", "PodDisruptionBudget", "CronJob"])
    if (!kinds[k]) fail(overlay, `no ${k} rendered`);
  const prod = isProd(overlay);
  if (prod && !kinds.HorizontalPodAutoscaler) fail(overlay, "no HorizontalPodAutoscaler");

  const find = (kind, name) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const api = find("Deployment", API);
  const worker = find("StatefulSet", WORKER) || find("Deployment", WORKER);
  if (!api) fail(overlay, `no Deployment ${API}`);
  if (!worker) fail(overlay, `no settlement worker ${WORKER}`);
  if (api) checkNetworkPolicies(overlay, docs, podLabelsOf(api), "API");
  if (worker) {
    const labels = podLabelsOf(worker);
    if (!docs.some((d) => d.kind === "PodDisruptionBudget" && selects(d.spec.selector.matchLabels, labels)))
      fail(overlay, "no PodDisruptionBudget for the worker");
    if (api && selects(api.spec.selector.matchLabels, labels))
      fail(overlay, "the API's selector also matches the worker pods (Service, PDB and HPA would include them)");
    const policies = checkNetworkPolicies(overlay, docs, labels, "worker") || [];
    const egress = policies.flatMap((p) => p.spec.egress || []);
    if (!egress.some((r) => r.ports && allowsPort(r, 443)))
      fail(overlay, "worker: no egress to TCP 443 (the card provider)");
  }

  checkRedisCluster(overlay, docs, find);

  // The nightly money check.
  const check = find("CronJob", "makegood-money-check");
  if (!check) fail(overlay, "no CronJob makegood-money-check");
  else {
    const c = podSpecOf(check).containers[0];
    if ((c.command || [])[0] !== ADMIN || (c.args || [])[0] !== "check")
      fail(overlay, `makegood-money-check must run ${ADMIN} check`);
    if (prod && check.spec.suspend) fail(overlay, "the money check must not be suspended in prod");
  }

  // The Grafana dashboard.
  const dashboards = docs.filter((d) => d.kind === "ConfigMap" && ((d.metadata.labels || {}).grafana_dashboard === "1"));
  if (!dashboards.length) fail(overlay, "no ConfigMap labelled grafana_dashboard=1");
  for (const d of dashboards)
    for (const [key, text] of Object.entries(d.data || {})) {
      try {
        JSON.parse(text);
      } catch (e) {
        fail(overlay, `dashboard ${d.metadata.name}/${key}: ${e.message}`);
      }
    }

  const header = [...imports.values()].map(([mod, iface]) => `import type { ${iface} } from "${mod}";`).join("\n");
  fs.writeFileSync(path.join(outDir, `${overlay}.ts`), `${header}\n\n${lines.join("\n")}`);
  const summary = Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ");
  console.log(`  ${overlay}: ${docs.length} documents checked (${summary})`);
}
process.exit(failures ? 1 : 0);
