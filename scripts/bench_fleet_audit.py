"""Benchmark: quantbot.hft.fleet_audit against a per-node baseline, on the lab's emulated API.

Run through ``scripts/bench-fleet-audit.sh`` (documented in the README). In one run it

1. starts the lab's emulated API (``hftlab.controlplane.KmockServer``) in a child
   process, with no emulated controllers (nothing recreates pods or marks Nodes
   Unknown behind the benchmark's back), and seeds N HFT nodes with their pods and the
   broken ones of ``hftlab.fleet.BROKEN_CASES`` straight into its store;
2. runs the module ``quantbot.hft.fleet_audit`` as Ansible runs a module (a Python
   process reading its arguments as JSON on stdin), with ``nodes`` = every seeded name;
3. runs the baseline, a separate Python process doing what a ``kubectl`` script does,
   with the same client (``_kube.KubeApi`` on the official ``kubernetes`` client): per
   node GET the Node, LIST its pods by ``spec.nodeName``, GET its PTP DaemonSet pod, and
   judge it with the same checks (plus one GET of the DaemonSet);
4. prints a human summary, then, last, one JSON line with exactly the keys
   nodes, audit_s, baseline_s, speedup, audit_requests, baseline_requests, correct,
   modelled_audit_s, modelled_baseline_s, modelled_speedup.

Times: both clients are timed the same way, from the moment their imports are done to the
moment their process has exited. Each child first imports the same set of modules
(``PRELOAD``: the ``kubernetes`` client and config, ``ansible.module_utils.basic``, the
collection's ``_kube``, ``_k8snames`` and ``_fleet``: what the module imports), then notes the time
(``time.monotonic``, one clock for every process) and its CPU time so far on stderr, and
only then reads its input and works: the module runs as Ansible runs it
(``runpy.run_module(..., run_name="__main__")``, arguments as JSON on stdin: the module's
own code, argument parsing, the client, the requests, JSON decoding, judging,
``exit_json``); the baseline
reads its node names, builds the client and loops. Interpreter start-up and those imports
(0.4 to 2 s on each side on the loaded 2-core build machine, whatever N) are left out of
``audit_s``/``baseline_s`` on both sides; the summary line reports them and the whole
process times (``audit.process_wall_s``, ``baseline.process_wall_s``, ``process_speedup``).
``*_s`` are wall-clock seconds against the emulator on loopback
(``--api-latency-ms`` makes every answer wait that long, as a remote API server's round
trip would; default 0). The emulator's cost per request is not a real API server's, so
the modelled times are ``requests x RTT (5 ms) + the client-side work``, where the
client-side work is the CPU time (user + system, every thread) the process spent after its
imports (its total from getrusage of the finished child, minus what it had spent when it
noted the time). Time a process spends waiting for the emulator is not CPU time, so it is
left out. Request counts are the emulator's own log (not the module's report, which must
agree). ``correct``: the audit named exactly the seeded broken nodes and, for each,
exactly the seeded check names. With ``--baseline-sample M`` (default: all nodes up to
1,000, else 1,000) the baseline runs on M nodes (every broken one included); its per-node
loop (timed apart by the child) and its requests are scaled to N, its set-up (the client,
the DaemonSet GET, the output) is counted once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import runpy
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COLLECTIONS = os.path.join(ROOT, ".collections")
MODULE = "ansible_collections.quantbot.hft.plugins.modules.fleet_audit"
for path in (COLLECTIONS, os.path.join(ROOT, "lab")):
    if path not in sys.path:
        sys.path.insert(0, path)


# --------------------------------------------------------------------------
# the emulated API (child process)
# --------------------------------------------------------------------------
def classify(method: str, path: str, query: dict) -> str:
    """A request of the emulator's log as the kind the report counts."""
    if path.endswith("/proxy/configz"):
        return "configz"
    if method != "GET":
        return "write"
    parts = path.strip("/").split("/")
    if path == "/api/v1/nodes":
        return "node_list"
    if path.startswith("/api/v1/nodes/"):
        return "node_get"
    if parts[-1] == "pods":
        return "pod_list_by_node" if "spec.nodeName" in (query.get("fieldSelector") or "") else "pod_list"
    if len(parts) >= 2 and parts[-2] == "pods":
        return "pod_get"
    if "daemonsets" in parts:
        return "daemonset_get"
    return "other"


def serve(nodes: int, latency_ms: float) -> int:
    """The child: seed the fleet, print READY with what the parent needs, then answer 'stats' lines."""
    from hftlab.controlplane import KmockServer  # pylint: disable=import-outside-toplevel
    from hftlab.fleet import make_fleet  # pylint: disable=import-outside-toplevel

    server = KmockServer().start()
    started = time.monotonic()
    fleet = make_fleet(nodes)
    count = server.load(fleet.objects)
    counts = {}
    lock = threading.Lock()
    stop = threading.Event()

    def tally(entries, into):
        for method, path, query in entries:
            kind = classify(method, path, query)
            into[kind] = into.get(kind, 0) + 1
        return into

    def drain():
        # kmock matches each request against its whole log: keep the log short, count as we go.
        taken = server.drain_requests()
        with lock:
            tally(taken, counts)

    def drainer():
        while not stop.wait(0.05):
            drain()

    threading.Thread(target=drainer, name="drain", daemon=True).start()
    # Warm the emulator's encodings (a real API server answers lists from its watch cache,
    # already serialized), so neither client pays for the first encoding of every object.
    for path in ("/api/v1/nodes", "/api/v1/pods"):
        with urllib.request.urlopen(server.url + path, timeout=120) as resp:  # noqa: S310 - loopback
            resp.read()
    server.drain_requests(keep=0)
    server.km.latency_s = latency_ms / 1000.0
    print("READY " + json.dumps({"url": server.url, "objects": count, "names": fleet.names, "expected": fleet.expected,
                                 "seed_s": round(time.monotonic() - started, 2)}), flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            with lock:
                print(json.dumps(tally(server.undrained_requests(), dict(counts))), flush=True)
        elif line.strip() == "quit":
            break
    stop.set()
    server.stop()
    return 0


class Emulator:
    """The child process running the emulated API (stopped by closing its stdin; killed by PID if it hangs)."""

    def __init__(self, nodes: int, latency_ms: float = 0.0):
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, os.path.abspath(__file__), "--serve", "--nodes", str(nodes), "--api-latency-ms",
             str(latency_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.close()
            raise RuntimeError("the emulated API did not start: %r" % line)
        self.info = json.loads(line[len("READY "):])

    def cpu_s(self):
        """The emulator process's CPU seconds so far (from /proc; None where there is none)."""
        try:
            with open("/proc/%d/stat" % self.proc.pid) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError):
            return None

    def stats(self) -> dict:
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def delta(after: dict, before: dict) -> dict:
    return dict((k, after.get(k, 0) - before.get(k, 0)) for k in set(after) | set(before) if after.get(k, 0) != before.get(k, 0))


# --------------------------------------------------------------------------
# the two clients (each a child process, timed and measured alike)
# --------------------------------------------------------------------------
# What both children import before their clock starts (the same list on both sides).
# The module itself is not among them: runpy executes it afresh, as Ansible does, after the mark.
PRELOAD = ("kubernetes.client", "kubernetes.config", "kubernetes.utils", "ansible.module_utils.basic",
           "ansible_collections.quantbot.hft.plugins.module_utils._kube",
           "ansible_collections.quantbot.hft.plugins.module_utils._k8snames",
           "ansible_collections.quantbot.hft.plugins.module_utils._fleet")
MARK = "BENCH-MARK "


def _cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mark(name: str, **more) -> None:
    """A child's note for the parent (stderr): the monotonic time and its CPU time so far."""
    sys.stderr.write(MARK + json.dumps(dict(more, mark=name, at=time.monotonic(), cpu=_cpu_self())) + "\n")
    sys.stderr.flush()


def preload() -> None:
    """The imports of PRELOAD, then the 'ready' mark: the work of the child starts here."""
    import importlib  # pylint: disable=import-outside-toplevel
    for name in PRELOAD:
        importlib.import_module(name)
    mark("ready")


def marks(stderr: str) -> dict:
    return dict((m["mark"], m) for m in (json.loads(line[len(MARK):]) for line in stderr.splitlines()
                                         if line.startswith(MARK)))


def timed(argv: list, stdin_text: str, env: dict) -> tuple[str, dict]:
    """(stdout, times) of a child process that calls preload(): ``times`` has process_wall_s and
    process_cpu_s (the whole process), imports_s (start to the ready mark), wall_s and cpu_s (the
    ready mark to the exit of the process) and the child's marks."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(argv, input=stdin_text, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    ended = time.monotonic()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError("%s failed (rc %s):\n%s\n%s" % (
            argv[-1], proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    notes = marks(proc.stderr)
    if "ready" not in notes:
        raise RuntimeError("%s did not mark its start: %s" % (argv[-1], proc.stderr[-3000:]))
    ready = notes["ready"]
    return proc.stdout, {"process_wall_s": ended - started, "process_cpu_s": cpu, "imports_s": ready["at"] - started,
                         "wall_s": ended - ready["at"], "cpu_s": cpu - ready["cpu"], "marks": notes}


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([COLLECTIONS, os.path.join(ROOT, "lab"), env.get("PYTHONPATH", "")])
    return env


def audit_child() -> int:
    """The module (child process), as Ansible runs it: its arguments as JSON on stdin, run as __main__."""
    preload()
    del sys.argv[1:]  # AnsibleModule would take "--audit" for its arguments
    try:
        runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
    except SystemExit as exc:  # exit_json / fail_json
        sys.stdout.flush()
        return 0 if exc.code is None else exc.code if isinstance(exc.code, int) else 1
    return 0


def run_audit(kubeconfig: str, names: list, page_size: int, configz: bool) -> tuple[dict, dict]:
    args = {"kubeconfig": kubeconfig, "nodes": names, "page_size": page_size, "configz": configz,
            "_ansible_check_mode": False, "_ansible_diff": False}
    out, times = timed([sys.executable, os.path.abspath(__file__), "--audit"],
                       json.dumps({"ANSIBLE_MODULE_ARGS": args}), child_env())
    result = json.loads(out[out.index("{"):])
    if result.get("failed"):
        raise RuntimeError("fleet_audit failed: %s" % result.get("msg"))
    return result, times


def baseline(kubeconfig: str) -> int:
    """The per-node script (child process): prints {node: sorted failed checks} for the names on stdin."""
    preload()
    from ansible_collections.quantbot.hft.plugins.module_utils import _fleet  # pylint: disable=import-outside-toplevel
    from ansible_collections.quantbot.hft.plugins.module_utils._kube import (  # pylint: disable=import-outside-toplevel
        KubeApi, get_api_client)

    names = json.load(sys.stdin)
    api = KubeApi(get_api_client({"kubeconfig": kubeconfig}))
    opts = _fleet.options({})
    now = _fleet.utc_now()
    daemonset = api.get_daemonset(opts["ptp_namespace"], opts["ptp_daemonset"])
    verdicts = {}
    loop_at, loop_cpu = time.monotonic(), _cpu_self()
    for name in names:
        node = api.get_node(name)
        if node is None:
            verdicts[name] = ["node_ready"]
            continue
        pods = api.list_pods_on_node(name)
        ptp = api.get_pod(opts["ptp_namespace"], "%s-%s" % (opts["ptp_daemonset"], name))
        uids = set((p.get("metadata") or {}).get("uid") for p in pods)
        if ptp is not None and (ptp.get("metadata") or {}).get("uid") not in uids:
            pods.append(ptp)
        result = _fleet.judge_node(node, pods, daemonset, opts, now)
        if not result["valid"]:
            verdicts[name] = sorted(set(f["check"] for f in result["failures"]))
    mark("loop", loop_s=time.monotonic() - loop_at, loop_cpu_s=_cpu_self() - loop_cpu, nodes=len(names))
    print(json.dumps(verdicts))
    return 0


def run_baseline(kubeconfig: str, names: list) -> tuple[dict, dict]:
    out, times = timed([sys.executable, os.path.abspath(__file__), "--baseline", "--kubeconfig", kubeconfig],
                       json.dumps(names), child_env())
    if "loop" not in times["marks"]:
        raise RuntimeError("the baseline did not mark its loop")
    return json.loads(out.strip().splitlines()[-1]), times


def scaled(times: dict, scale: float) -> dict:
    """The baseline's times at ``scale`` x its sampled nodes: the per-node loop scaled, the rest once."""
    loop = times["marks"]["loop"]
    wall = times["wall_s"] + loop["loop_s"] * (scale - 1)
    cpu = times["cpu_s"] + loop["loop_cpu_s"] * (scale - 1)
    return {"wall_s": wall, "cpu_s": cpu, "process_wall_s": times["imports_s"] + wall}


def sample(names: list, expected: dict, size: int) -> list:
    """``size`` names in fleet order: every broken one, the rest spread evenly over the others."""
    if size >= len(names):
        return list(names)
    others = [n for n in names if n not in expected]
    room = max(0, size - len(expected))
    picked = set(expected) | set(others[int(i * len(others) / room)] for i in range(room))
    return [n for n in names if n in picked]


# --------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------
def bench(nodes: int, rtt_ms: float, page_size: int, baseline_sample: int | None, configz: bool,
          latency_ms: float = 0.0) -> dict:
    from hftlab.controlplane import write_kubeconfig  # pylint: disable=import-outside-toplevel

    emulator = Emulator(nodes, latency_ms)
    try:
        info = emulator.info
        names, expected = info["names"], info["expected"]
        with tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
            kubeconfig = write_kubeconfig(os.path.join(tmp, "kubeconfig"), info["url"], "bench-token")
            before, cpu_before = emulator.stats(), emulator.cpu_s()
            result, audit_t = run_audit(kubeconfig, names, page_size, False)
            audit_t["emulator_cpu_s"] = _minus(emulator.cpu_s(), cpu_before)
            audit_log = delta(emulator.stats(), before)
            configz_line = None
            if configz:
                before = emulator.stats()
                with_configz, configz_t = run_audit(kubeconfig, names, page_size, True)
                configz_log = delta(emulator.stats(), before)
                configz_line = {"audit_configz_s": round(configz_t["wall_s"], 3), "cpu_s": round(configz_t["cpu_s"], 3),
                                "requests": configz_log, "module_requests": with_configz["requests"]}
            picked = sample(names, expected, baseline_sample if baseline_sample else len(names))
            before, cpu_before = emulator.stats(), emulator.cpu_s()
            verdicts, base_t = run_baseline(kubeconfig, picked)
            base_t["emulator_cpu_s"] = _minus(emulator.cpu_s(), cpu_before)
            base_log = delta(emulator.stats(), before)
    finally:
        emulator.close()

    found = dict((n["name"], sorted(set(f["check"] for f in n["failures"]))) for n in result["nodes"] if not n["valid"])
    correct = found == expected and result["summary"]["total"] == nodes
    audit_requests = sum(audit_log.values())
    scale = float(nodes) / len(picked)
    measured_base_requests = sum(base_log.values())
    baseline_requests = int(round((measured_base_requests - 1) * scale)) + 1  # the DaemonSet GET is once per run
    audit_s, audit_cpu = audit_t["wall_s"], audit_t["cpu_s"]
    base_at_n = scaled(base_t, scale)
    baseline_s, baseline_cpu = base_at_n["wall_s"], base_at_n["cpu_s"]
    rtt = rtt_ms / 1000.0
    modelled_audit = audit_requests * rtt + audit_cpu
    modelled_baseline = baseline_requests * rtt + baseline_cpu
    summary = {
        "seeded_objects": info["objects"], "seed_s": info["seed_s"], "broken_nodes": len(expected),
        "timing": TIMING,
        "audit": dict(_rounded(audit_t), requests=audit_log, module_requests=result["requests"],
                      summary=result["summary"]),
        "baseline": dict(_rounded(base_t), sampled_nodes=len(picked), requests=base_log,
                         loop_s=round(base_t["marks"]["loop"]["loop_s"], 3),
                         loop_cpu_s=round(base_t["marks"]["loop"]["loop_cpu_s"], 3),
                         process_wall_s_at_n=round(base_at_n["process_wall_s"], 3),
                         correct_on_sample=verdicts == dict((n, c) for n, c in expected.items() if n in set(picked))),
        "process_speedup": round(base_at_n["process_wall_s"] / audit_t["process_wall_s"], 1),
        "rtt_ms": rtt_ms, "page_size": page_size, "api_latency_ms": latency_ms,
    }
    if configz_line:
        summary["audit_with_configz"] = configz_line
    if not correct:
        summary["mismatch"] = {"missed": sorted(set(expected) - set(found)), "extra": sorted(set(found) - set(expected)),
                               "wrong_checks": dict((n, {"found": found[n], "seeded": expected[n]})
                                                    for n in set(found) & set(expected) if found[n] != expected[n])}
    line = {
        "nodes": nodes,
        "audit_s": round(audit_s, 3),
        "baseline_s": round(baseline_s, 3),
        "speedup": round(baseline_s / audit_s, 1),
        "audit_requests": audit_requests,
        "baseline_requests": baseline_requests,
        "correct": correct,
        "modelled_audit_s": round(modelled_audit, 3),
        "modelled_baseline_s": round(modelled_baseline, 3),
        "modelled_speedup": round(modelled_baseline / modelled_audit, 1),
    }
    return {"summary": summary, "line": line}


TIMING = ("audit_s/baseline_s: wall seconds from the end of each child's imports (the same PRELOAD on both sides) "
          "to the exit of its process; modelled: requests x rtt + the CPU seconds of that span; "
          "process_wall_s: the whole process, start-up and imports included; emulator_cpu_s: the emulated API's "
          "CPU seconds while it served that side (not in the modelled times)")


def _minus(after, before):
    return None if after is None or before is None else after - before


def _rounded(times: dict) -> dict:
    return dict((k, None if v is None else round(v, 3)) for k, v in times.items() if k != "marks")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--nodes", type=int, default=1000, help="HFT nodes to seed (default 1000)")
    parser.add_argument("--rtt-ms", type=float, default=5.0, help="modelled API round trip per request (default 5)")
    parser.add_argument("--page-size", type=int, default=500, help="fleet_audit page_size (default 500)")
    parser.add_argument("--baseline-sample", type=int, default=None,
                        help="run the baseline on this many nodes and scale (default: all up to 1000, else 1000)")
    parser.add_argument("--configz", action="store_true", help="also time an audit that reads every /configz")
    parser.add_argument("--api-latency-ms", type=float, default=0.0,
                        help="make the emulated API wait this long before each answer, as a remote API server's round "
                             "trip would (default 0: loopback as it is)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--audit", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.nodes, args.api_latency_ms)
    if args.baseline:
        return baseline(args.kubeconfig)
    if args.audit:
        return audit_child()
    if args.nodes < 20:
        parser.error("--nodes must be at least 20 (the broken cases need room)")
    sample_size = args.baseline_sample or (args.nodes if args.nodes <= 1000 else 1000)
    out = bench(args.nodes, args.rtt_ms, args.page_size, sample_size, args.configz, args.api_latency_ms)
    print(json.dumps(out["summary"], sort_keys=True))
    print(json.dumps(out["line"]))
    return 0 if out["line"]["correct"] else 1


if __name__ == "__main__":
    sys.exit(main())
