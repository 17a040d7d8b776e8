"""A fake sysfs with SR-IOV PFs and VFs laid out as the kernel does (for the kubelet stand-in's device plugin).

Shared by lab/tests/test_sriov_dp_standin.py and tests/integration/test_lab_sriov_dp.py.
"""


def make_sysfs(root, pfs):
    """A sysfs with PCI devices under devices/pci0000:40 and class/net links, as the kernel lays them out.

    pfs: {pf: {"bus": 0x41, "vfs": n, "vendor": "0x8086", "vf_device": "0x10ca", "driver": "igbvf",
               "vf_netdev": True, "rdma": False, "type": 1}}
    """
    pci = root / "devices" / "pci0000:40"
    for pf, spec in pfs.items():
        bus = spec.get("bus", 0x41)
        pf_dir = pci / ("0000:%02x:00.0" % bus)
        (pf_dir / "net" / pf).mkdir(parents=True)
        (pf_dir / "net" / pf / "type").write_text("%d\n" % spec.get("type", 1))
        (root / "class" / "net").mkdir(parents=True, exist_ok=True)
        (root / "class" / "net" / pf).symlink_to(pf_dir / "net" / pf)
        (pf_dir / "net" / pf / "device").symlink_to(pf_dir)
        driver = spec.get("driver", "igbvf")
        drv = root / "bus" / "pci" / "drivers" / driver
        drv.mkdir(parents=True, exist_ok=True)
        for index in range(spec.get("vfs", 0)):
            vf = pci / ("0000:%02x:10.%d" % (bus, index))
            vf.mkdir()
            (vf / "vendor").write_text(spec.get("vendor", "0x8086") + "\n")
            (vf / "device").write_text(spec.get("vf_device", "0x10ca") + "\n")
            if driver:
                (vf / "driver").symlink_to(drv)
            if spec.get("vf_netdev", driver != "vfio-pci"):
                (vf / "net" / ("%sv%d" % (pf, index))).mkdir(parents=True)
                (vf / "net" / ("%sv%d" % (pf, index)) / "type").write_text("%d\n" % spec.get("type", 1))
            if spec.get("rdma"):
                (vf / "infiniband").mkdir()
            (pf_dir / ("virtfn%d" % index)).symlink_to(vf)
            (vf / "physfn").symlink_to(pf_dir)
    return str(root)
