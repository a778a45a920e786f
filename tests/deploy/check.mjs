// check.mjs: what weft's own manifests must hold beyond the schemas, for one
// rendered overlay (tests/t/t0088-deploy-kubernetes.sh).
//
// Usage: node check.mjs RENDERED.yaml [--autoscaled]
//   --autoscaled  every worker Deployment must have an autoscaler
//                 (a KEDA ScaledObject or an HPA) on its own queue
// Prints `PASS name` or `FAIL name<US>problem<US>...` lines (US = \x1f),
// one per rule; exits 1 when a rule fails.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

const file = process.argv[2];
const autoscaled = process.argv.includes("--autoscaled");
const docs = yaml.loadAll(readFileSync(file, "utf8")).filter(Boolean);
const of = (kind) => docs.filter((d) => d.kind === kind);
const deployments = of("Deployment");
const argOf = (args, flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
// The Secrets users create (docs/deployment.md#kubernetes), by name.
const SECRETS = ["weft-credentials", "weft-queue-key", "weft-tls", "weft-keda-rabbitmq", "weft-metrics-token"];
let failed = 0;
function rule(name, problems) {
  if (problems.length) failed++;
  console.log([(problems.length ? "FAIL " : "PASS ") + name, ...problems.slice(0, 20)].join("\x1f"));
}
const podSpecs = () => deployments.map((d) => [d.metadata.name, d.spec.template.spec]);
const weftContainers = () =>
  podSpecs().flatMap(([n, s]) => s.containers.filter((c) => /\bweft\b/.test(c.image)).map((c) => [n, s, c]));

rule("every resource is in namespace weft", docs
  .filter((d) => d.kind !== "Namespace" && (d.metadata || {}).namespace !== "weft")
  .map((d) => `${d.kind}/${d.metadata.name}: namespace ${d.metadata.namespace}`));

rule("no Secret is inlined, and pods reference only the documented Secrets", (() => {
  const p = of("Secret").map((d) => `Secret/${d.metadata.name} is in the manifests`);
  const text = JSON.stringify(docs);
  for (const m of text.matchAll(/"(?:secretName|name)":"([^"]+)","key":"[^"]+"|"secretName":"([^"]+)"/g)) {
    const n = m[1] || m[2];
    if (n && !SECRETS.includes(n) && !/^weft-config/.test(n)) p.push(`a reference to Secret ${n}, not in the documented list`);
  }
  return p;
})());

rule("every ConfigMap a pod mounts is in the manifests", podSpecs().flatMap(([n, s]) =>
  (s.volumes || []).filter((v) => v.configMap && !of("ConfigMap").some((c) => c.metadata.name === v.configMap.name))
    .map((v) => `${n}: ConfigMap ${v.configMap.name} is not rendered (a generator's hash not applied?)`)));

rule("every image is a full reference (the kustomize images: entries applied)", podSpecs().flatMap(([n, s]) =>
  [...(s.initContainers || []), ...s.containers].filter((c) => !/[/].*:/.test(c.image))
    .map((c) => `${n}/${c.name}: image ${c.image}`)));

rule("pods meet the restricted Pod Security Standard (non-root, no escalation, no capabilities, seccomp)",
  podSpecs().flatMap(([n, s]) => {
    const p = [];
    const sc = s.securityContext || {};
    if (!sc.runAsNonRoot) p.push(`${n}: runAsNonRoot is not set`);
    if (!sc.seccompProfile || sc.seccompProfile.type !== "RuntimeDefault") p.push(`${n}: no RuntimeDefault seccomp profile`);
    for (const c of [...(s.initContainers || []), ...s.containers]) {
      const cs = c.securityContext || {};
      if (cs.allowPrivilegeEscalation !== false) p.push(`${n}/${c.name}: allowPrivilegeEscalation is not false`);
      if (!cs.capabilities || JSON.stringify(cs.capabilities.drop) !== '["ALL"]') p.push(`${n}/${c.name}: capabilities not dropped`);
      if (!c.resources || !c.resources.requests) p.push(`${n}/${c.name}: no resource requests`);
    }
    return p;
  }));

rule("ServiceAccounts: one per role, no API token mounted, no Role or binding", [
  ...of("ServiceAccount").filter((a) => a.automountServiceAccountToken !== false).map((a) => `${a.metadata.name} mounts its token`),
  ...podSpecs().filter(([, s]) => !s.serviceAccountName || s.automountServiceAccountToken !== false)
    .map(([n]) => `${n}: no own ServiceAccount or a token mounted`),
  ...docs.filter((d) => /^(Cluster)?Role(Binding)?$/.test(d.kind)).map((d) => `${d.kind}/${d.metadata.name}: weft calls no Kubernetes API`),
]);

rule("the server: TLS from Secret weft-tls, probes on /healthz over HTTPS, a Service", (() => {
  const p = [];
  const srv = weftContainers().filter(([, , c]) => c.args && c.args[0] === "server");
  if (srv.length !== 1) return [`${srv.length} server containers`];
  const [n, s, c] = srv[0];
  const cert = argOf(c.args, "--tls-cert"), key = argOf(c.args, "--tls-key");
  const listen = argOf(c.args, "--listen") || "";
  if (!cert || !key) p.push(`${n}: no --tls-cert/--tls-key (the server refuses ${listen} without TLS)`);
  if (c.args.includes("--insecure") || c.args.includes("--no-auth")) p.push(`${n}: --insecure or --no-auth`);
  for (const f of [cert, key].filter(Boolean)) {
    const m = (c.volumeMounts || []).find((vm) => f.startsWith(vm.mountPath + "/"));
    const v = m && s.volumes.find((x) => x.name === m.name);
    if (!v || !v.secret || v.secret.secretName !== "weft-tls") p.push(`${n}: ${f} is not in Secret weft-tls`);
  }
  const port = Number(listen.split(":").pop());
  for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const g = c[probe] && c[probe].httpGet;
    if (!g || g.path !== "/healthz" || g.scheme !== "HTTPS") p.push(`${n}: ${probe} is not an HTTPS GET of /healthz`);
    else if (g.port !== port && !(c.ports || []).some((x) => x.name === g.port && x.containerPort === port))
      p.push(`${n}: ${probe} port ${g.port} is not the --listen port ${port}`);
  }
  const svc = of("Service").find((x) => x.metadata.name === "weft-server");
  if (!svc) p.push("no Service weft-server");
  else if (!Object.entries(svc.spec.selector).every(([k, v]) => s.containers && deployments.find((d) => d.metadata.name === n).spec.template.metadata.labels[k] === v))
    p.push("Service weft-server does not select the server's pods");
  return p;
})());

rule("workers: terminationGracePeriodSeconds is longer than --grace; one queue each", weftContainers()
  .filter(([, , c]) => c.args && c.args[0] === "worker").flatMap(([n, s, c]) => {
    const grace = Number(argOf(c.args, "--grace") || 30), p = [];
    if (!((s.terminationGracePeriodSeconds || 30) > grace))
      p.push(`${n}: terminationGracePeriodSeconds ${s.terminationGracePeriodSeconds} <= --grace ${grace}`);
    if (!argOf(c.args, "--queue")) p.push(`${n}: no --queue`);
    return p;
  }));

rule("each role has a PodDisruptionBudget", deployments.filter((d) =>
  !of("PodDisruptionBudget").some((b) => Object.entries(b.spec.selector.matchLabels)
    .every(([k, v]) => d.spec.template.metadata.labels[k] === v))).map((d) => `${d.metadata.name}: no PDB selects it`));

rule("NetworkPolicy: ingress denied by default, HTTPS to the server allowed", (() => {
  const np = of("NetworkPolicy"), p = [];
  if (!np.some((x) => Object.keys(x.spec.podSelector).length === 0 && x.spec.policyTypes.includes("Ingress") && !x.spec.ingress))
    p.push("no default-deny ingress policy");
  if (!np.some((x) => (x.spec.podSelector.matchLabels || {})["app.kubernetes.io/component"] === "server" &&
    (x.spec.ingress || []).some((r) => (r.ports || []).some((q) => q.port === 8443))))
    p.push("no policy lets HTTPS reach the server");
  return p;
})());

if (autoscaled)
  rule("every worker Deployment scales on its own queue's depth (KEDA or HPA)", weftContainers()
    .filter(([, , c]) => c.args && c.args[0] === "worker").flatMap(([n, , c]) => {
      const q = argOf(c.args, "--queue");
      const so = of("ScaledObject").find((x) => x.spec.scaleTargetRef.name === n);
      const hpa = of("HorizontalPodAutoscaler").find((x) => x.spec.scaleTargetRef.name === n);
      if (so) {
        const t = so.spec.triggers.find((x) => x.type === "rabbitmq");
        if (!t || t.metadata.queueName !== `weft.step.${q}`) return [`${n}: its ScaledObject does not watch weft.step.${q}`];
        const ta = t.authenticationRef && of("TriggerAuthentication").find((x) => x.metadata.name === t.authenticationRef.name);
        if (!ta) return [`${n}: its ScaledObject's TriggerAuthentication is not rendered`];
        return [];
      }
      if (hpa) {
        const m = hpa.spec.metrics.find((x) => x.type === "External");
        if (!m || m.external.metric.name !== "weft_queue_messages_ready" ||
          m.external.metric.selector.matchLabels.queue !== q) return [`${n}: its HPA does not follow weft_queue_messages_ready{queue="${q}"}`];
        return [];
      }
      return [`${n}: no ScaledObject or HorizontalPodAutoscaler`];
    }));

process.exit(failed ? 1 : 0);
