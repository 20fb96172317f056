"""What the Kubernetes schemas cannot see in deploy/kubernetes, checked on the rendered
documents (`kubectl kustomize` output), for `scripts/check-kubernetes`:

* shards: the Prometheus StatefulSet's replicas, the files of the `prometheus-shards`
  ConfigMap (prometheus-<i>.yml, one per pod) and the Job's `--prometheus` URLs agree, and
  every shard file keeps slice <i> of `hashmod` with `modulus` = replicas;
* fleet: the fleet pods declare one containerPort per listener of the fleet file (pod
  discovery makes one target per declared port) besides `control`, and the Job names one
  `--fleet` control endpoint per fleet pod;
* the Job's `--job` is the shards' job;
* each shard file, its `kubernetes_sd_configs` checked here and replaced by an empty
  `static_configs` (Debian's Prometheus 2.42 is built without Kubernetes discovery), is
  written to OUT_DIR for `promtool check config --syntax-only`.

usage: python check-kubernetes-consistency.py RENDERED.yaml OUT_DIR
Prints one line per problem, naming the document (`kind/name`), and exits 1 if any.
"""

import sys
from pathlib import Path

import yaml

# kubernetes_sd_configs keys of Prometheus 2.x (discovery/kubernetes SDConfig plus the
# HTTP client options).
SD_KEYS = {
    "api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata",
    "basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file",
    "tls_config", "proxy_url", "follow_redirects", "enable_http2",
}
SD_ROLES = {"pod", "endpoints", "endpointslice", "service", "node", "ingress"}


def name_of(doc):
    return f"{doc.get('kind', '?')}/{doc.get('metadata', {}).get('name', '?')}"


def by_label(docs, kind, app):
    return [
        d for d in docs
        if d.get("kind") == kind
        and d.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name") == app
    ]


def configmap(docs, prefix):
    """The generated ConfigMap `prefix-<hash>` (or `prefix`)."""
    for d in docs:
        name = d.get("metadata", {}).get("name", "")
        if d.get("kind") == "ConfigMap" and (name == prefix or name.startswith(prefix + "-")):
            return d
    return None


def port_ranges(fleet_file):
    ports = set()
    for group in fleet_file.get("groups") or []:
        first, _, last = str(group.get("ports", "")).partition("-")
        first = int(first)
        last = int(last) if last else first
        ports.update(range(first, last + 1))
    return ports


def args_of(container):
    """`--flag=value` and `--flag value` as (flag, value) pairs."""
    args = [str(a) for a in container.get("args") or []]
    out = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and "=" in a:
            flag, value = a.split("=", 1)
            out.append((flag, value))
        elif a.startswith("--") and i + 1 < len(args) and not args[i + 1].startswith("--"):
            out.append((a, args[i + 1]))
            i += 1
        i += 1
    return out


def check_shard(where, config, index, shards, problems):
    """Returns the shard's job names; replaces kubernetes_sd_configs for promtool."""
    jobs = []
    for job in config.get("scrape_configs") or []:
        name = job.get("job_name", "?")
        jobs.append(name)
        for sd in job.pop("kubernetes_sd_configs", None) or []:
            unknown = set(sd) - SD_KEYS
            if unknown:
                problems.append(f"{where}: job {name}: unknown kubernetes_sd_configs keys {sorted(unknown)}")
            if sd.get("role") not in SD_ROLES:
                problems.append(f"{where}: job {name}: kubernetes_sd_configs role {sd.get('role')!r}; use one of {sorted(SD_ROLES)}")
            job.setdefault("static_configs", []).append({"targets": []})
        relabels = job.get("relabel_configs") or []
        hashmods = [
            (i, r) for i, r in enumerate(relabels)
            if r.get("action") == "hashmod" and r.get("source_labels") == ["__address__"]
        ]
        if len(hashmods) != 1:
            problems.append(f"{where}: job {name}: needs one `hashmod` of [__address__], found {len(hashmods)}")
            continue
        at, hashmod = hashmods[0]
        if hashmod.get("modulus") != shards:
            problems.append(f"{where}: job {name}: hashmod modulus {hashmod.get('modulus')}, but there are {shards} shards (StatefulSet replicas)")
        target = hashmod.get("target_label")
        keep = [
            r for r in relabels[at + 1:]
            if r.get("action", "replace") == "keep" and r.get("source_labels") == [target]
        ]
        if not keep or str(keep[0].get("regex")) != str(index):
            found = keep[0].get("regex") if keep else None
            problems.append(f"{where}: job {name}: must keep {target} = {index} (its shard index), keeps {found!r}")
    return jobs


def main(rendered, out_dir):
    docs = [d for d in yaml.safe_load_all(Path(rendered).read_text()) if d]
    problems = []

    prom = by_label(docs, "StatefulSet", "prometheus-shard")
    fleet = by_label(docs, "StatefulSet", "fake-exporter-fleet")
    jobs = by_label(docs, "Job", "scrape-bench")
    shards_cm = configmap(docs, "prometheus-shards")
    fleet_cm = configmap(docs, "fleet-config")
    for what, found in [("StatefulSet prometheus-shard", prom), ("StatefulSet fake-exporter-fleet", fleet), ("Job scrape-bench", jobs)]:
        if len(found) != 1:
            problems.append(f"expected one {what} (label app.kubernetes.io/name), found {len(found)}")
    for what, found in [("ConfigMap prometheus-shards", shards_cm), ("ConfigMap fleet-config", fleet_cm)]:
        if found is None:
            problems.append(f"expected the {what}")
    if problems:
        return problems
    prom, fleet, job = prom[0], fleet[0], jobs[0]

    # Shards: replicas = files = URLs, each file its own slice.
    shards = prom["spec"].get("replicas", 1)
    want = {f"prometheus-{i}.yml" for i in range(shards)}
    have = set((shards_cm.get("data") or {}).keys())
    if have != want:
        problems.append(f"{name_of(shards_cm)}: files {sorted(have)}, but {name_of(prom)} has {shards} replicas and pod prometheus-<i> loads prometheus-<i>.yml: want {sorted(want)}")
    shard_jobs = set()
    out = Path(out_dir)
    for i in range(shards):
        key = f"prometheus-{i}.yml"
        if key not in have:
            continue
        config = yaml.safe_load(shards_cm["data"][key]) or {}
        shard_jobs.update(check_shard(f"{name_of(shards_cm)} {key}", config, i, shards, problems))
        (out / key).write_text(yaml.safe_dump(config, sort_keys=False))

    # Fleet: one containerPort per listener, besides `control`.
    fleet_file = yaml.safe_load(fleet_cm["data"].get("fleet.yaml", "")) or {}
    listeners = port_ranges(fleet_file)
    containers = fleet["spec"]["template"]["spec"]["containers"]
    declared = {
        p["containerPort"] for c in containers for p in c.get("ports") or []
        if p.get("name") != "control"
    }
    if declared != listeners:
        missing = sorted(listeners - declared)
        extra = sorted(declared - listeners)
        problems.append(f"{name_of(fleet)}: containerPorts and the fleet file's listeners differ: not declared {missing[:10]}{'...' if len(missing) > 10 else ''}, declared but not served {extra[:10]}{'...' if len(extra) > 10 else ''}")

    # The Job: one URL per shard (in order) and per fleet pod, the shards' job.
    bench = [c for c in job["spec"]["template"]["spec"]["containers"] if c.get("name") == "bench"]
    if len(bench) != 1:
        problems.append(f"{name_of(job)}: needs one container named bench")
        return problems
    args = args_of(bench[0])
    prom_urls = [v for f, v in args if f == "--prometheus"]
    want_urls = [f"http://prometheus-{i}.prometheus:9090" for i in range(shards)]
    if prom_urls != want_urls:
        problems.append(f"{name_of(job)}: --prometheus {prom_urls}, but {name_of(prom)} has {shards} shards: want {want_urls}")
    fleet_urls = [u for f, v in args if f == "--fleet" for u in v.split(",") if u]
    pods = fleet["spec"].get("replicas", 1)
    want_fleet = [f"http://fleet-{i}.fleet:19100" for i in range(pods)]
    if fleet_urls != want_fleet:
        problems.append(f"{name_of(job)}: --fleet {fleet_urls}, but {name_of(fleet)} has {pods} pods: want {want_fleet}")
    job_names = [v for f, v in args if f == "--job"]
    if len(job_names) != 1 or job_names[0] not in shard_jobs:
        problems.append(f"{name_of(job)}: --job {job_names}, but the shards' jobs are {sorted(shard_jobs)}")

    if not problems:
        print(f"{shards} shards, {pods} fleet pods x {len(listeners)} targets = {pods * len(listeners)} targets; the Job names every shard and fleet")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        sys.exit(2)
    found = main(sys.argv[1], sys.argv[2])
    for p in found:
        print(p)
    sys.exit(1 if found else 0)
