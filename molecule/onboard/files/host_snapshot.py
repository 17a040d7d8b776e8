"""Print, as JSON, the state of the lab host that onboarding changes and offboarding must restore.

molecule/onboard takes it before the converge (prepare.yml) and after
offboard.yml -e hft_offboard_host=true (cleanup.yml) and compares the two.
Files: every file and symlink under the places the collection writes, with a
sha256 (or the link target) and the dpkg package that owns it (or, for a
symlink, its target), so the comparison can leave out files that come with
the packages the onboarding installed (they stay, as apt leaves them).

With ``--against BEFORE.json`` it prints the differences from that snapshot
instead (a JSON list of strings), leaving out what the packages installed
since then bring: their files, and their units as long as they are neither
enabled nor running.
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess

ROOTS = ["/etc/default/grub", "/etc/default/grub.d", "/etc/grub.d", "/etc/tuned", "/etc/quantbot-hft",
         "/etc/linuxptp", "/etc/systemd/system", "/etc/kubernetes", "/etc/default/kubelet", "/etc/sysctl.d",
         "/etc/modprobe.d", "/etc/pcidp", "/etc/default/irqbalance", "/usr/local/libexec", "/usr/local/bin",
         "/var/lib/quantbot-hft", "/var/lib/prometheus/node-exporter"]
UNITS = ["systemd-timesyncd.service", "tuned.service", "irqbalance.service", "swap.target",
         "prometheus-node-exporter.service", "kubelet.service", "quantbot-hugepages.service",
         "quantbot-sriov.service", "quantbot-irq-affinity.service", "quantbot-ptpmon.service"]
SYSCTLS = ["kernel/nmi_watchdog", "kernel/timer_migration", "vm/stat_interval", "kernel/numa_balancing"]


def read(path, default=None):
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return default


def walk(root):
    if os.path.islink(root) or os.path.isfile(root):
        yield root
        return
    for top, dirs, files in os.walk(root):
        for name in sorted(files) + sorted(d for d in dirs if os.path.islink(os.path.join(top, d))):
            yield os.path.join(top, name)


def owners(paths):
    found = {}
    for i in range(0, len(paths), 200):
        proc = subprocess.run(["dpkg", "-S"] + paths[i:i + 200], capture_output=True, text=True, check=False)
        for line in proc.stdout.splitlines():
            pkgs, dummy, path = line.partition(": ")
            if path and not pkgs.startswith("diversion"):
                found[path] = pkgs.split(", ")[0].split(":")[0]
    return found


# The cluster membership that kubeadm join made: offboard.yml keeps the node a
# cordoned member (drained, unlabelled, untainted), as kubectl drain does; it
# does not run kubeadm reset. Listed apart, not as a difference.
MEMBERSHIP_FILES = ("/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt")
MEMBERSHIP_UNITS = ("kubelet.service",)


def _content(info):
    return dict((key, value) for key, value in (info or {}).items() if key != "package") or None


def differences(before, now):
    new_packages = set(now["packages"]) - set(before["packages"])
    out = []
    for path in sorted(set(before["files"]) | set(now["files"])):
        was, is_ = before["files"].get(path), now["files"].get(path)
        if _content(was) == _content(is_):
            continue
        if was is None and is_.get("package") in new_packages:
            continue
        if path in MEMBERSHIP_FILES:
            continue
        out.append("%s: %s -> %s" % (path, json.dumps(was, sort_keys=True), json.dumps(is_, sort_keys=True)))
    for unit in sorted(now["units"]):
        was, is_ = before["units"].get(unit) or {}, now["units"][unit]
        if was == is_ or (unit in MEMBERSHIP_UNITS and was.get("UnitFileState") == is_.get("UnitFileState")):
            continue
        if was.get("LoadState") == "not-found" and is_.get("UnitFileState") not in ("enabled", "masked") \
                and is_.get("ActiveState") in ("inactive", "failed"):
            continue
        out.append("unit %s: %s -> %s" % (unit, json.dumps(was, sort_keys=True), json.dumps(is_, sort_keys=True)))
    for key in ("cmdline", "hugepages", "thp", "sysctl", "swaps", "sriov_numvfs", "tuned_active"):
        if before.get(key) != now.get(key) and not (key == "tuned_active" and before.get(key) is None
                                                    and now.get(key) in ("No current active profile.", None)):
            out.append("%s: %s -> %s" % (key, json.dumps(before.get(key)), json.dumps(now.get(key))))
    return out


def snapshot():
    files = {}
    for root in ROOTS:
        for path in walk(root):
            if os.path.islink(path):
                files[path] = {"link": os.readlink(path)}
            else:
                with open(path, "rb") as fh:
                    files[path] = {"sha256": hashlib.sha256(fh.read()).hexdigest()}
    lookup = dict((path, os.path.realpath(path) if "link" in info else path) for path, info in files.items())
    owned = owners(sorted(set(lookup.values())))
    for path, info in files.items():
        info["package"] = owned.get(lookup[path])
    units = {}
    for unit in UNITS:
        show = subprocess.run(["systemctl", "show", "-p", "LoadState,UnitFileState,ActiveState", unit],
                              capture_output=True, text=True, check=False).stdout
        units[unit] = dict(line.split("=", 1) for line in show.splitlines() if "=" in line)
    pages = dict((path.split("/")[5] + "/" + path.split("/")[7], read(path))
                 for path in sorted(glob.glob("/sys/devices/system/node/node*/hugepages/hugepages-*/nr_hugepages")))
    packages = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\n"], capture_output=True, text=True,
                              check=False).stdout.split()
    tuned = subprocess.run(["tuned-adm", "active"], capture_output=True, text=True, check=False).stdout.strip() \
        if os.path.exists("/usr/sbin/tuned-adm") else None
    return {
        "cmdline": read("/proc/cmdline"),
        "files": files,
        "units": units,
        "hugepages": pages,
        "thp": read("/sys/kernel/mm/transparent_hugepage/enabled"),
        "sysctl": dict((key, read("/proc/sys/" + key)) for key in SYSCTLS),
        "swaps": read("/proc/swaps"),
        "sriov_numvfs": dict((path.split("/")[4], read(path)) for path in
                             sorted(glob.glob("/sys/class/net/*/device/sriov_numvfs"))),
        "tuned_active": tuned,
        "packages": sorted(set(packages)),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", help="a snapshot taken before: print the differences from it")
    args = parser.parse_args()
    now = snapshot()
    if args.against:
        with open(args.against, encoding="utf-8") as fh:
            now = differences(json.load(fh), now)
    print(json.dumps(now, sort_keys=True))


if __name__ == "__main__":
    main()
