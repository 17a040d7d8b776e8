"""Host tuning on the lab VM: one property per test.

The converge records the plan it applied (/var/lib/quantbot-hft-test/plan.json)
and the boot id after the first converge; the side_effect records the bad-plan
refusals. A failing test prints the journal of the unit concerned.
"""

import json


MARKERS = "/var/lib/quantbot-hft-test"
SIZE_DIR = {"2M": "hugepages-2048kB", "1G": "hugepages-1048576kB"}


def _journal(host, unit):
    return host.run(f"journalctl --boot --no-pager --lines=50 --unit={unit}").stdout


def _read(host, path):
    with host.sudo():
        return host.file(path).content_string.strip()


def test_cmdline_has_planned_args(host, plan):
    running = _read(host, "/proc/cmdline").split()
    missing = [arg for arg in plan["kernel_args"] if arg not in running]
    assert not missing, f"missing from /proc/cmdline: {missing}"


def _domain_isolated(plan):
    """What the kernel lists in /sys/devices/system/cpu/isolated for the planned isolcpus=.

    Only CPUs isolated from the scheduler domains (no flag, or the "domain"
    flag) are listed; isolcpus=managed_irq,<cpus> alone lists none.
    """
    args = [arg for arg in plan["kernel_args"] if arg.startswith("isolcpus=")]
    if not args:
        return ""
    parts = args[-1].split("=", 1)[1].split(",")
    flags = [part for part in parts if part.replace("_", "").isalpha()]
    cpus = ",".join(part for part in parts if part not in flags)
    return cpus if not flags or "domain" in flags else ""


def test_isolated_cpus_match_plan(host, plan):
    expected = _domain_isolated(plan)
    if expected:
        assert expected == plan["isolated_cpus"]
    assert _read(host, "/sys/devices/system/cpu/isolated") == expected


def test_nohz_full_matches_plan(host, plan):
    assert _read(host, "/sys/devices/system/cpu/nohz_full") == plan["isolated_cpus"]


def test_hugepages_per_node_match_plan(host, plan):
    wrong = {}
    for size, per_node in plan["hugepages"].items():
        for node, count in per_node.items():
            path = f"/sys/devices/system/node/node{node}/hugepages/{SIZE_DIR[size]}/nr_hugepages"
            have = int(_read(host, path)) if host.file(path).exists else 0
            if have != count:
                wrong[f"{size} node{node}"] = (have, count)
    assert not wrong, f"(have, planned): {wrong}\n{_journal(host, 'quantbot-hugepages.service')}"


def test_hugepages_unit_ran_at_boot(host):
    with host.sudo():
        unit = host.service("quantbot-hugepages.service")
        assert unit.is_enabled and unit.is_running, _journal(host, "quantbot-hugepages.service")


def test_tuned_active_profile_is_quantbot_hft(host):
    with host.sudo():
        out = host.check_output("tuned-adm active")
    assert "Current active profile: quantbot-hft" in out, out


def test_tuned_adm_verify_passes(host):
    with host.sudo():
        result = host.run("tuned-adm verify")
        log = host.run("tail -n 40 /var/log/tuned/tuned.log").stdout
    assert result.rc == 0, f"{result.stdout}\n{result.stderr}\n{log}"


def test_numa_balancing_off(host):
    assert _read(host, "/proc/sys/kernel/numa_balancing") == "0"


def test_tuned_bootloader_plugin_writes_no_cmdline(host):
    with host.sudo():
        bootcmdline = host.file("/etc/tuned/bootcmdline")
        leftover = [
            line for line in (bootcmdline.content_string.splitlines() if bootcmdline.exists else [])
            if line.startswith("TUNED_BOOT_CMDLINE=") and line.split("=", 1)[1].strip('"')
        ]
    assert not leftover, leftover


def test_workqueues_stay_off_isolated_cpus(host, plan, cpuset):
    # cpu-partitioning writes the housekeeping mask here from isolated_cores:
    # this proves the profile's own [variables] took effect.
    mask = int(_read(host, "/sys/devices/virtual/workqueue/cpumask").replace(",", ""), 16)
    on_isolated = {cpu for cpu in cpuset(plan["isolated_cpus"]) if mask >> cpu & 1}
    assert not on_isolated, f"workqueue cpumask {mask:x} includes isolated CPUs {sorted(on_isolated)}"


def test_irqbalance_bans_isolated_cpus(host, plan):
    with host.sudo():
        env = host.check_output("systemctl show --property=Environment --value irqbalance.service")
    assert f"IRQBALANCE_BANNED_CPULIST={plan['isolated_cpus']}" in env.split(), env


def test_pid1_stays_off_isolated_cpus(host, plan, cpuset):
    allowed = next(
        line.split(":", 1)[1] for line in _read(host, "/proc/1/status").splitlines()
        if line.startswith("Cpus_allowed_list:")
    )
    assert not cpuset(allowed) & cpuset(plan["isolated_cpus"]), allowed


def test_no_reboot_in_second_run(host):
    assert _read(host, f"{MARKERS}/boot_id_after_converge") == _read(host, "/proc/sys/kernel/random/boot_id")


def test_bad_plans_refused_and_host_untouched(host):
    result = json.loads(_read(host, f"{MARKERS}/bad_plans.json"))
    assert result["untouched"] is True
    assert len(result["refused"]) == 8, result


# --- the latency settings (checked from outside the collection: plain reads) ----------
def test_transparent_hugepages_never(host):
    assert "[never]" in _read(host, "/sys/kernel/mm/transparent_hugepage/enabled")


def test_no_swap_active(host):
    assert _read(host, "/proc/swaps").splitlines()[1:] == []


def test_watchdogs_off(host):
    assert _read(host, "/proc/sys/kernel/nmi_watchdog") == "0"
    running = _read(host, "/proc/cmdline").split()
    assert "nosoftlockup" in running and "nmi_watchdog=0" in running, running


def test_skew_tick(host):
    assert "skew_tick=1" in _read(host, "/proc/cmdline").split()


def test_timer_migration_and_stat_interval(host):
    assert _read(host, "/proc/sys/kernel/timer_migration") == "0"
    assert _read(host, "/proc/sys/vm/stat_interval") == "10"


def test_isolated_cpus_stay_out_of_c_states(host, plan, cpuset):
    wrong = {}
    for cpu in sorted(cpuset(plan["isolated_cpus"])):
        value = _read(host, f"/sys/devices/system/cpu/cpu{cpu}/power/pm_qos_resume_latency_us")
        if value != "n/a":
            wrong[cpu] = value
    assert not wrong, f"pm_qos_resume_latency_us of the isolated CPUs: {wrong}"


def _nic_irqs(host, iface):
    """The MSI interrupts of a PF and of its VFs, from sysfs, that the driver requested (have /proc/irq/N).

    A vector listed in msi_irqs without /proc/irq/N (a VF whose interface is
    down) has no affinity yet; the irqbalance policy script pins it when it appears.
    """
    with host.sudo():
        out = host.check_output(
            f"for d in /sys/class/net/{iface}/device /sys/class/net/{iface}/device/virtfn*; do "
            f"for i in $(ls $d/msi_irqs 2>/dev/null); do [ -d /proc/irq/$i ] && echo $i; done; done; true")
    return sorted(set(int(irq) for irq in out.split()))


def test_nic_interrupts_on_the_housekeeping_cpus_of_its_node(host, plan, cpuset):
    node_cpus = cpuset(_read(host, "/sys/devices/system/node/node1/cpulist"))
    housekeeping = node_cpus & cpuset(plan["reserved_cpus"])
    irqs = _nic_irqs(host, "enp65s0")
    assert irqs, "no MSI interrupts found for enp65s0 and its VFs"
    wrong = {}
    for irq in irqs:
        effective = cpuset(_read(host, f"/proc/irq/{irq}/effective_affinity_list"))
        if not effective or not effective <= housekeeping:
            wrong[irq] = sorted(effective)
    assert not wrong, (f"interrupts off CPUs {sorted(housekeeping)}: {wrong}\n"
                       f"{_journal(host, 'quantbot-irq-affinity.service')}")


def test_nic_queue_masks_exclude_isolated_cpus(host, plan, cpuset):
    isolated = cpuset(plan["isolated_cpus"])
    with host.sudo():
        out = host.check_output("grep -H . /sys/class/net/enp65s0/queues/*/[rx]ps_cpus || true")
    wrong = []
    for line in out.splitlines():
        path, mask = line.split(":", 1)
        value = int(mask.replace(",", "") or "0", 16)
        if {cpu for cpu in isolated if value >> cpu & 1}:
            wrong.append(line)
    assert not wrong, wrong
