"""hftlab: the quantbot.hft lab VM.

hftlab up [--timeout S] [--ssh-port P] [--rebuild]   build (once) and boot the lab VM
hftlab down                                          stop it (only the QEMU it started)
hftlab status [--json]                               running/stopped, pid, port, accel, uptime
hftlab ssh [-- CMD...]                               shell or command in the VM (exit code passed through)
hftlab inventory [--json | -o FILE]                  concrete inventory of the running VM
hftlab image [--rebuild]                             build/show the golden image only
hftlab controlplane up|down|status [--json]          the EMULATED Kubernetes control plane (kmock) for the VM;
       [--sriov-dp-config configmap|hostfile]        `up` also installs the kubeadm/kubelet stand-ins in the VM
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import controlplane, image, qemu, vm
from .state import LabError, default_paths


def _inventory(lab: vm.Lab) -> dict:
    st = lab.state()
    if not lab.pid() or not st.get("ssh_port"):
        raise LabError("the lab VM is not running: start it with `hftlab up`")
    host = {
        "ansible_host": "127.0.0.1",
        "ansible_port": st["ssh_port"],
        "ansible_user": vm.SSH_USER,
        "ansible_ssh_private_key_file": lab.key,
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
        " -o ServerAliveInterval=5 -o ServerAliveCountMax=6",
    }
    return {"lab": {"hosts": {"hft-lab-1": host}}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hftlab", description="The quantbot.hft lab VM (QEMU).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="build the golden image if needed and boot the lab VM")
    p_up.add_argument(
        "--timeout",
        type=float,
        default=float(os.environ.get("HFTLAB_TIMEOUT", vm.DEFAULT_TIMEOUT)),
        help="seconds to wait for SSH (default %(default)s, env HFTLAB_TIMEOUT)",
    )
    p_up.add_argument(
        "--ssh-port",
        type=int,
        default=None,
        help="forward SSH on this 127.0.0.1 port (default: 2222 if free, else any free port)",
    )
    p_up.add_argument("--rebuild", action="store_true", help="rebuild the golden image first")
    sub.add_parser("down", help="stop the lab VM")
    p_st = sub.add_parser("status", help="show the lab VM's state")
    p_st.add_argument("--json", action="store_true")
    p_ssh = sub.add_parser("ssh", help="ssh into the VM, or run a command: hftlab ssh -- CMD")
    p_ssh.add_argument("command", nargs=argparse.REMAINDER)
    p_inv = sub.add_parser("inventory", help="print (or write) a concrete inventory for the running VM")
    g = p_inv.add_mutually_exclusive_group()
    g.add_argument("--json", action="store_true", help="connection details as JSON")
    g.add_argument("-o", "--output", help="write the YAML inventory to this file")
    p_img = sub.add_parser("image", help="build the golden image (if needed) and print its details")
    p_img.add_argument("--rebuild", action="store_true")
    p_cp = sub.add_parser("controlplane", help="the emulated Kubernetes control plane of the lab (kmock)")
    p_cp.add_argument("action", choices=["up", "down", "status"])
    p_cp.add_argument("--port", type=int, default=0, help="API port on 127.0.0.1 (default: any free port)")
    p_cp.add_argument("--no-node", action="store_true", help="up: do not install the kubeadm/kubelet stand-ins in the VM")
    p_cp.add_argument("--json", action="store_true", help="status as JSON")
    p_cp.add_argument("--sriov-dp-config", choices=controlplane.SRIOV_DP_SOURCES,
                      default=os.environ.get("HFTLAB_SRIOV_DP_CONFIG", "configmap"),
                      help="up: where the emulated SR-IOV device plugin's DaemonSet takes /etc/pcidp from: the "
                           "ConfigMap kube-system/sriovdp-config or a hostPath on the node (default %(default)s, "
                           "env HFTLAB_SRIOV_DP_CONFIG); match the sriov role's deployment mode")
    args = parser.parse_args(argv)

    paths = default_paths()
    lab = vm.Lab(paths)
    try:
        if args.cmd == "up":
            os.makedirs(paths.run, exist_ok=True)
            with open(paths.run_file("up.log"), "w", encoding="utf-8"):
                pass
            vm.log_to_file(paths.run_file("up.log"))
            lab.up(timeout=args.timeout, ssh_port=args.ssh_port, rebuild=args.rebuild)
            return 0
        if args.cmd == "down":
            # The control plane belongs to the instance: stop it too (only by its recorded PID).
            controlplane.ControlPlane(paths.run, paths.instance, log=vm._log).down()
            lab.down()
            return 0
        if args.cmd == "controlplane":
            return _controlplane(args, paths, lab)
        if args.cmd == "status":
            info = lab.status()
            if args.json:
                print(json.dumps(info, indent=2, sort_keys=True))
            else:
                _print_status(info)
            return 0 if info["running"] else 3
        if args.cmd == "ssh":
            cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
            ssh = lab.ssh_argv(cmd)
            sys.stdout.flush()
            os.execvp(ssh[0], ssh)
        if args.cmd == "inventory":
            inv = _inventory(lab)
            if args.json:
                print(json.dumps(inv["lab"]["hosts"]["hft-lab-1"], indent=2))
                return 0
            text = _to_yaml(inv)
            if args.output:
                with open(args.output, "w", encoding="utf-8") as fh:
                    fh.write(text)
                print(f"wrote {args.output}")
            else:
                sys.stdout.write(text)
            return 0
        if args.cmd == "image":
            qemu.check_qemu()
            img = image.ensure_image(paths, vm._log, rebuild=args.rebuild)
            print(json.dumps(image.image_info(paths) | {"disk": img.disk}, indent=2, sort_keys=True))
            return 0
    except LabError as exc:
        print(f"hftlab {args.cmd}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hftlab {args.cmd}: interrupted", file=sys.stderr)
        return 130
    return 2


def _controlplane(args, paths, lab: vm.Lab) -> int:
    cp = controlplane.ControlPlane(paths.run, paths.instance, log=vm._log)
    if args.action == "down":
        cp.down()
        return 0
    if args.action == "status":
        info = cp.status()
        if args.json:
            print(json.dumps(info, indent=2, sort_keys=True))
        else:
            print(f"emulated control plane '{paths.instance}': {'running' if info['running'] else 'stopped'}")
            for k in ("pid", "url", "guest_url", "kubeconfig", "answering"):
                if k in info:
                    print(f"  {k:14} {info[k]}")
        return 0 if info["running"] else 3
    os.environ["HFTLAB_SRIOV_DP_CONFIG"] = args.sriov_dp_config  # read by the `serve` process that `up` starts
    cp.up(port=args.port)
    if not args.no_node:
        st = lab.state()
        if not lab.pid() or not st.get("ssh_port"):
            raise LabError("the control plane runs, but the lab VM is not up: run `hftlab up`, then "
                           "`hftlab controlplane up` again to install the kubeadm/kubelet stand-ins")
        bundle = controlplane.node_bundle(paths.run_file("kube-node.tgz"))
        controlplane.install_node(vm.ssh_run, lab.key, st["ssh_port"], bundle, log=vm._log)
    return 0


def _print_status(info: dict) -> None:
    if not info["running"]:
        print(f"lab VM '{info['instance']}': stopped")
    else:
        print(f"lab VM '{info['instance']}': running")
        for k in (
            "pid",
            "ssh_port",
            "ssh_reachable",
            "accel",
            "uptime_s",
            "boot_to_ssh_s",
            "ssh_user",
            "ssh_key",
            "hft_if",
            "gm_if",
        ):
            print(f"  {k:14} {info.get(k)}")
    img = info.get("image", {})
    print(
        f"  {'image':14} {img.get('recipe_key')} ({'built' if img.get('built') else 'not built'}) {img.get('dir', '')}"
    )
    print(f"  {'run dir':14} {info['run_dir']}")


def _to_yaml(inv: dict) -> str:
    lines = ["# Written by `hftlab inventory` for the running lab VM.", "lab:", "  hosts:", "    hft-lab-1:"]
    for k, v in inv["lab"]["hosts"]["hft-lab-1"].items():
        lines.append(f"      {k}: {json.dumps(v)}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
