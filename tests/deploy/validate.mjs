// validate.mjs: checks rendered Kubernetes manifests (multi-document YAML,
// as `kubectl kustomize` prints) against the official schemas.
//
// Usage: node validate.mjs FILE...   (FILE may be - for standard input)
//
// Each document is checked twice:
//   1. by the schema of its apiVersion and kind, from npm kubernetes-models
//      (the Kubernetes OpenAPI), @kubernetes-models/keda (KEDA's CRDs) and
//      @kubernetes-models/prometheus-operator: types, enums, required
//      fields, formats; an apiVersion/kind none of them knows is an error;
//   2. strictly, as `kubectl apply --validate=strict` would: a field no
//      schema names (a typo such as `readinesProbe`) is an error. The
//      schemas' compiled validators do not reject unknown properties, so
//      the document is handed to them behind a Proxy that records every
//      property they read; a key they never read, in an object whose keys
//      they never listed (maps such as labels are listed), is unknown.
// Prints `ok KIND/NAME` or `error FILE: KIND/NAME: PATH: MESSAGE` lines and
// exits 1 when any document fails.
import { readFileSync } from "node:fs";
import yaml from "js-yaml";

// apiVersion -> module exporting its kinds' classes
const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "batch/v1": "kubernetes-models/batch/v1",
  "policy/v1": "kubernetes-models/policy/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "rbac.authorization.k8s.io/v1": "kubernetes-models/rbac.authorization.k8s.io/v1",
  "keda.sh/v1alpha1": "@kubernetes-models/keda/keda.sh/v1alpha1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

// A deep Proxy over `root`: seen.get(obj) is the set of keys the validator
// read from obj, listed.has(obj) whether it enumerated obj's keys.
function watch(root) {
  const seen = new WeakMap(), listed = new WeakSet(), proxies = new WeakMap();
  const wrap = (v) => {
    if (v === null || typeof v !== "object") return v;
    if (proxies.has(v)) return proxies.get(v);
    seen.set(v, new Set());
    const p = new Proxy(v, {
      get(t, k, r) {
        if (typeof k === "string") seen.get(t).add(k);
        return wrap(Reflect.get(t, k, r));
      },
      has(t, k) {
        if (typeof k === "string") seen.get(t).add(k);
        return Reflect.has(t, k);
      },
      getOwnPropertyDescriptor(t, k) {
        if (typeof k === "string") seen.get(t).add(k);
        return Reflect.getOwnPropertyDescriptor(t, k);
      },
      ownKeys(t) {
        listed.add(t);
        return Reflect.ownKeys(t);
      },
    });
    proxies.set(v, p);
    return p;
  };
  return { proxy: wrap(root), seen, listed };
}

// Paths of the keys of `v` the validator never looked at.
function unknownFields(v, w, path, out) {
  if (v === null || typeof v !== "object") return out;
  if (Array.isArray(v)) {
    v.forEach((x, i) => unknownFields(x, w, `${path}[${i}]`, out));
    return out;
  }
  const seen = w.seen.get(v);
  if (!seen) return out; // never reached: its parent's key is reported
  for (const k of Object.keys(v)) {
    const p = path ? `${path}.${k}` : k;
    if (!w.listed.has(v) && !seen.has(k)) out.push(p);
    else unknownFields(v[k], w, p, out);
  }
  return out;
}

function errorsOf(e) {
  // runValidateFunc throws an error whose `details` are ajv's errors
  const d = e && e.details;
  if (Array.isArray(d) && d.length)
    return d.map((x) => `${(x.instancePath || "/").slice(1).replace(/\//g, ".") || "(document)"}: ${x.message}`);
  return [String((e && e.message) || e)];
}

let failed = 0, count = 0;
const files = process.argv.slice(2);
if (!files.length) {
  console.error("usage: node validate.mjs FILE... (- for standard input)");
  process.exit(2);
}
for (const file of files) {
  let docs;
  try {
    docs = yaml.loadAll(readFileSync(file === "-" ? 0 : file, "utf8"));
  } catch (e) {
    console.log(`error ${file}: not YAML: ${e.message}`);
    failed++;
    continue;
  }
  for (const doc of docs) {
    if (doc === null || doc === undefined) continue;
    count++;
    const kind = doc.kind, name = doc.metadata && doc.metadata.name;
    const id = `${kind}/${name}`;
    const bad = (msg) => { console.log(`error ${file}: ${id}: ${msg}`); failed++; };
    const mod = modules[doc.apiVersion];
    if (!mod) { bad(`apiVersion ${doc.apiVersion}: no schema here for it`); continue; }
    const classes = await import(mod);
    const cls = classes[kind];
    if (typeof cls !== "function" || cls.kind !== kind) {
      bad(`kind ${kind} is not a kind of ${doc.apiVersion}`);
      continue;
    }
    const w = watch(doc);
    try {
      cls.prototype.validate.call(w.proxy);
    } catch (e) {
      for (const m of errorsOf(e)) bad(m);
      continue;
    }
    const unknown = unknownFields(doc, w, "", []);
    if (unknown.length) {
      for (const p of unknown) bad(`${p}: unknown field (no schema of ${doc.apiVersion} ${kind} names it)`);
      continue;
    }
    console.log(`ok ${id}`);
  }
}
if (!count && !failed) {
  console.log("error: no Kubernetes resource in the input");
  failed++;
}
process.exit(failed ? 1 : 0);
