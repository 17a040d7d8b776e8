"""The lab VM has the shape the collection's roles are tested against.

Each test checks one property; a failing fixture test prints its unit's journal.
"""

HFT_IF = "enp65s0"
GM_IF = "enp66s0"
IGB_PCI = ["0000:41:00.0", "0000:42:00.0"]


def _lscpu(host):
    out = host.check_output("LC_ALL=C lscpu")
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def test_two_numa_nodes(host):
    assert _lscpu(host)["NUMA node(s)"] == "2"


def test_two_threads_per_core(host):
    assert _lscpu(host)["Thread(s) per core"] == "2"


def test_cpu0_has_an_smt_sibling(host):
    assert host.file("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list").content_string.strip() == "0-1"


def test_igb_ports_on_numa_node_1(host):
    for pci in IGB_PCI:
        dev = f"/sys/bus/pci/devices/{pci}"
        assert host.file(f"{dev}/driver").linked_to.endswith("/igb"), pci
        assert host.file(f"{dev}/numa_node").content_string.strip() == "1", pci


def test_igb_sriov_totalvfs_7(host):
    for pci in IGB_PCI:
        assert host.file(f"/sys/bus/pci/devices/{pci}/sriov_totalvfs").content_string.strip() == "7", pci


def test_hft_port_is_the_first_igb(host):
    assert host.file(f"/sys/class/net/{HFT_IF}/device").linked_to.endswith(IGB_PCI[0])


def test_hft_port_has_a_ptp_clock(host):
    assert host.run(f"ls /sys/class/net/{HFT_IF}/device/ptp/").stdout.strip().startswith("ptp")
    assert host.run("ls /dev/ptp*").rc == 0


def test_booted_through_grub(host):
    assert "BOOT_IMAGE=" in host.file("/proc/cmdline").content_string
    assert host.file("/etc/default/grub").is_file
    assert host.file("/boot/grub/grub.cfg").is_file


def test_grandmaster_fixture_runs_in_netns_gm(host):
    with host.sudo():
        active = host.run("systemctl is-active hftlab-gm.service").stdout.strip()
        pids = host.run("ip netns pids gm").stdout.split()
        comms = [host.file(f"/proc/{p}/comm").content_string.strip() for p in pids]
        journal = host.run("journalctl -u hftlab-gm.service --no-pager -n 30").stdout
    assert active == "active", journal
    assert "ptp4l" in comms, journal


def test_gm_port_lives_in_netns_gm(host):
    with host.sudo():
        gm_link = host.run(f"ip -n gm -br link show {GM_IF}")
    assert gm_link.rc == 0 and "UP" in gm_link.stdout, gm_link.stdout + gm_link.stderr
    assert not host.file(f"/sys/class/net/{GM_IF}").exists


def test_mgmt_nic_reaches_ssh(host):
    assert host.service("ssh").is_running
