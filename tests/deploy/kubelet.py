"""kubelet.py: runs one pod of a rendered Deployment with Podman, laid out as
the kubelet lays it out, for tests/t/t0088-deploy-kubernetes.sh (there is
no Kubernetes here, and `podman kube play` of Podman 4.3 crashes on Secret
volumes).

What it reproduces of the kubelet, from the pod spec as rendered:
  - volumes: emptyDir (a folder, mode 2777, group fsGroup), configMap and
    secret (a folder of the ConfigMap's data or the given Secret's keys,
    group fsGroup, mode defaultMode with the group read bits fsGroup adds,
    owner root, as volume.SetVolumeOwnership does), persistentVolumeClaim
    (a folder the caller fills); subPath mounts of one file;
  - env: value, secretKeyRef (from the given Secrets), fieldRef
    metadata.name; $(VAR) in args expanded from the env, as the kubelet does;
  - securityContext: runAsUser/runAsGroup, fsGroup as a supplementary
    group, readOnlyRootFilesystem (--read-only), capabilities drop ALL,
    allowPrivilegeEscalation false (no-new-privileges);
  - command (the entry point) and args, workingDir;
  - init containers run to completion first, in order; a failing one
    fails the pod.
Not reproduced: probes (the test makes the probe's request itself),
resources, nodeSelector, tolerations, the network (every pod gets the
host's, so it reaches the test's servers on loopback).

Usage: python3 kubelet.py RENDERED.yaml DEPLOYMENT POD_NAME ROOT SPEC.json
  SPEC.json: {"podman": PATH, "image": TAG (replaces every image),
              "secrets": {NAME: {KEY: TEXT}}, "pvc": {CLAIM: HOST_DIR},
              "configmaps": {NAME_PREFIX: {KEY: TEXT}} (replaces data),
              "args": {OLD: NEW} (replaces an arg of the main containers)}
Starts the main containers detached, named POD_NAME-CONTAINER, and prints
their names; exits 1 when an init container fails (its output on stderr).
"""
import json
import os
import re
import subprocess
import sys

import yaml


def main():
    rendered, deploy, pod, root, spec_file = sys.argv[1:6]
    spec = json.load(open(spec_file))
    podman = spec["podman"]
    dep = next(d for d in yaml.safe_load_all(open(rendered))
               if d and d["kind"] == "Deployment" and d["metadata"]["name"] == deploy)
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in yaml.safe_load_all(open(rendered))
                  if d and d["kind"] == "ConfigMap"}
    ps = dep["spec"]["template"]["spec"]
    psc = ps.get("securityContext", {})
    fs_group = psc.get("fsGroup")

    # the pod's volumes, as folders under ROOT
    vols = {}
    for v in ps.get("volumes", []):
        d = os.path.join(root, pod, "volumes", v["name"])
        os.makedirs(d, exist_ok=True)
        if "emptyDir" in v:
            os.chmod(d, 0o2777)
            if fs_group is not None:
                os.chown(d, 0, fs_group)
        elif "configMap" in v or "secret" in v:
            if "configMap" in v:
                name = v["configMap"]["name"]
                data = configmaps[name]
                for prefix, repl in spec.get("configmaps", {}).items():
                    if name.startswith(prefix):
                        data = repl
                mode = v["configMap"].get("defaultMode", 0o644)
            else:
                data = spec["secrets"][v["secret"]["secretName"]]
                mode = v["secret"].get("defaultMode", 0o644)
            if fs_group is not None:
                mode |= 0o440  # the kubelet's read-only volume mask with fsGroup
            for k, text in data.items():
                p = os.path.join(d, k)
                with open(p, "w") as f:
                    f.write(text)
                os.chmod(p, mode)
                if fs_group is not None:
                    os.chown(p, 0, fs_group)
            os.chmod(d, 0o755)
        elif "persistentVolumeClaim" in v:
            d = spec["pvc"][v["persistentVolumeClaim"]["claimName"]]
        else:
            sys.exit(f"{deploy}: volume {v['name']}: a kind this emulation does not know")
        vols[v["name"]] = d

    def podman_args(c, name, detach):
        sc = c.get("securityContext", {})
        a = [podman, "run", "--name", name, "--network", "host", "--hostname", pod]
        a += ["-d"] if detach else ["--rm"]
        user = sc.get("runAsUser", psc.get("runAsUser"))
        group = sc.get("runAsGroup", psc.get("runAsGroup"))
        if user is not None:
            a += ["--user", f"{user}:{group if group is not None else user}"]
        if fs_group is not None:
            a += ["--group-add", str(fs_group)]
        if sc.get("readOnlyRootFilesystem"):
            a += ["--read-only", "--read-only-tmpfs=false"]
        if sc.get("capabilities", {}).get("drop") == ["ALL"]:
            a += ["--cap-drop", "ALL"]
        if sc.get("allowPrivilegeEscalation") is False:
            a += ["--security-opt", "no-new-privileges"]
        env = {}
        for e in c.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
            elif "secretKeyRef" in e.get("valueFrom", {}):
                r = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = spec["secrets"][r["name"]][r["key"]]
            elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name":
                env[e["name"]] = pod
            else:
                sys.exit(f"{deploy}/{c['name']}: env {e['name']}: a source this emulation does not know")
        for k, v in env.items():
            a += ["-e", f"{k}={v}"]
        for m in c.get("volumeMounts", []):
            src = vols[m["name"]]
            if m.get("subPath"):
                src = os.path.join(src, m["subPath"])
            a += ["-v", f"{src}:{m['mountPath']}" + (":ro" if m.get("readOnly") else "")]
        if c.get("workingDir"):
            a += ["-w", c["workingDir"]]
        if c.get("command"):
            a += ["--entrypoint", json.dumps(c["command"][:1])]
        a.append(spec["image"])
        args = list(c.get("command", [])[1:]) + list(c.get("args", []))
        out = []
        for x in args:
            if detach:
                x = spec.get("args", {}).get(x, x)
            out.append(re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), x))
        return a + out

    for c in ps.get("initContainers", []):
        r = subprocess.run(podman_args(c, f"{pod}-{c['name']}", False), capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(f"init container {c['name']} exited {r.returncode}:\n{r.stdout}{r.stderr}")
            sys.exit(1)
    for c in ps["containers"]:
        name = f"{pod}-{c['name']}"
        r = subprocess.run(podman_args(c, name, True), capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(f"container {c['name']}: podman run exited {r.returncode}:\n{r.stderr}")
            sys.exit(1)
        print(name)


if __name__ == "__main__":
    main()
