# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The tuned role's shell scripts (irq-affinity, irqbalance-policy) on a fake sysfs and procfs."""

from __future__ import annotations

import os
import subprocess

import pytest

FILES = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "tuned", "files")


@pytest.fixture
def tree(tmp_path):
    """enp65s0 (PF, 2 vectors, 2 TX queues) with VF 0 (1 vector requested, 1 TX queue) and VF 1 (down)."""
    sysfs, procfs = tmp_path / "sys", tmp_path / "proc"
    pf = sysfs / "devices" / "pci0000:40" / "0000:41:00.0"
    vfs = [sysfs / "devices" / "pci0000:40" / ("0000:41:10.%d" % i) for i in (0, 1)]
    vectors = {pf: [26, 27], vfs[0]: [29], vfs[1]: [31]}
    for dev, irqs in vectors.items():
        (dev / "msi_irqs").mkdir(parents=True)
        for irq in irqs:
            (dev / "msi_irqs" / str(irq)).write_text("msix\n")
    for i, vf in enumerate(vfs):
        os.symlink(str(pf), str(vf / "physfn"))
        os.symlink(str(vf), str(pf / ("virtfn%d" % i)))
    netdevs = {"enp65s0": (pf, ["rx-0", "rx-1", "tx-0", "tx-1"]), "enp65s0v0": (vfs[0], ["rx-0", "tx-0"])}
    (sysfs / "class" / "net").mkdir(parents=True)
    for name, (dev, queues) in netdevs.items():
        net = dev / "net" / name
        for queue in queues:
            (net / "queues" / queue).mkdir(parents=True)
            (net / "queues" / queue / ("rps_cpus" if queue.startswith("rx") else "xps_cpus")).write_text("ff\n")
        os.symlink(str(net), str(sysfs / "class" / "net" / name))
        os.symlink(str(dev), str(net / "device"))
    for irq in (26, 27, 29):  # 31 not requested: no /proc/irq/31
        (procfs / "irq" / str(irq)).mkdir(parents=True)
        (procfs / "irq" / str(irq) / "smp_affinity_list").write_text("0-7\n")
    conf = tmp_path / "irq-affinity.conf"
    conf.write_text('IRQ_INTERFACES="enp65s0"\nIRQ_CPUS="4-5"\nIRQ_CPUMASK="30"\n')
    env = dict(os.environ, IRQ_AFFINITY_CONF=str(conf), IRQ_AFFINITY_SYSFS=str(sysfs),
               IRQ_AFFINITY_PROCFS=str(procfs))
    return {"sysfs": sysfs, "procfs": procfs, "pf": pf, "vfs": vfs, "env": env, "conf": conf}


def run(script, tree, *args):
    return subprocess.run(["sh", os.path.join(FILES, script)] + list(args), env=tree["env"],
                          capture_output=True, text=True, check=False)


def affinity(tree, irq):
    return (tree["procfs"] / "irq" / str(irq) / "smp_affinity_list").read_text().strip()


def test_irq_affinity_pins_requested_vectors_skips_the_rest_and_sets_queues(tree):
    done = run("irq-affinity", tree)
    assert done.returncode == 0, done.stderr
    assert [affinity(tree, irq) for irq in (26, 27, 29)] == ["4-5", "4-5", "4-5"]
    assert not (tree["procfs"] / "irq" / "31").exists()
    queues = tree["pf"] / "net" / "enp65s0" / "queues"
    assert (queues / "rx-0" / "rps_cpus").read_text().strip() == "0"
    assert (queues / "tx-1" / "xps_cpus").read_text().strip() == "30"
    # One TX queue: XPS has nothing to steer and is left alone (igbvf refuses the write).
    vf_tx = tree["vfs"][0] / "net" / "enp65s0v0" / "queues" / "tx-0" / "xps_cpus"
    assert vf_tx.read_text().strip() == "ff"
    assert "enp65s0: 3 interrupts on CPUs 4-5" in done.stdout


def test_irq_affinity_fails_naming_a_missing_interface(tree):
    tree["conf"].write_text('IRQ_INTERFACES="enp99s0"\nIRQ_CPUS="4-5"\nIRQ_CPUMASK="30"\n')
    done = run("irq-affinity", tree)
    assert done.returncode == 1 and "enp99s0 has no device" in done.stderr


def test_irq_affinity_fails_when_a_vector_cannot_be_pinned(tree):
    target = tree["procfs"] / "irq" / "27" / "smp_affinity_list"
    target.unlink()
    target.mkdir()  # writing to a directory fails, as a refused affinity does
    done = run("irq-affinity", tree)
    assert done.returncode == 1 and "cannot pin IRQ 27" in done.stderr


def test_irqbalance_policy_bans_and_pins_the_nics_vectors_only(tree):
    vf = tree["vfs"][0]
    banned = run("irqbalance-policy", tree, str(vf), "29")
    assert banned.stdout.strip() == "ban=true" and affinity(tree, 29) == "4-5"
    other = tree["sysfs"] / "devices" / "pci0000:00" / "0000:00:02.0"
    other.mkdir(parents=True)
    (tree["procfs"] / "irq" / "40").mkdir()
    (tree["procfs"] / "irq" / "40" / "smp_affinity_list").write_text("0-7\n")
    free = run("irqbalance-policy", tree, str(other), "40")
    assert free.stdout == "" and affinity(tree, 40) == "0-7"


def test_irqbalance_policy_ignores_an_irq_that_is_not_a_number(tree):
    done = run("irqbalance-policy", tree, str(tree["pf"]), "../../etc")
    assert done.stdout.strip() == "ban=true" and done.returncode == 0
