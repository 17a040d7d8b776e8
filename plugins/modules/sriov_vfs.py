#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r"""
module: sriov_vfs
short_description: Create and configure SR-IOV VFs as asked, only where sysfs differs
version_added: 0.2.0
description:
  - Plans the VF changes against sysfs and C(ip -j link) (VF count per PF, per-VF MAC, VLAN, trust and spoofchk, the
    VF driver C(kernel) or C(vfio-pci)) and applies exactly those. A count change goes through 0, as the kernel demands.
  - The same code (C(plugins/module_utils/_sriov.py)) is what C(quantbot-sriov.service) runs at boot (the sriov role
    ships it to the host as a script), so what the role checks, what it changes and what the boot applies agree.
  - Refuses, before any change, a PF that is not a network interface here, a PF without SR-IOV, more VFs than
    C(sriov_totalvfs), a bad MAC, VF index or VLAN, with a message naming the value.
  - In check mode it reports the planned actions and changes nothing.
author:
  - quantbot.hft maintainers (@quantbot)
extends_documentation_fragment:
  - quantbot.hft.attributes
  - quantbot.hft.attributes.platform
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: linux
options:
  pfs:
    description:
      - The physical functions, each C({name, num_vfs, driver, vfs}); C(driver) is V(kernel) (the VF's own driver)
        or V(vfio-pci); C(vfs) lists per-VF settings C({index, mac, trust, spoofchk, vlan}).
    type: list
    elements: dict
    required: true
  defer_vfio:
    description: Skip vfio-pci binding while the IOMMU is off (a reboot for the IOMMU arguments is pending).
    type: bool
    default: false
  sysfs_root:
    description: Root of sysfs (tests).
    type: path
    default: /sys
seealso:
  - module: quantbot.hft.host_facts
"""

EXAMPLES = r"""
- name: Two VFs on the HFT port
  quantbot.hft.sriov_vfs:
    pfs:
      - name: ens1f0
        num_vfs: 2
        vfs:
          - {index: 0, mac: "02:00:5e:10:00:01", trust: true, spoofchk: false}
"""

RETURN = r"""
actions:
  description: "What was done (or would be, in check mode), e.g. C({pf, action: set_num_vfs, from, to})."
  returned: success
  type: list
  elements: dict
deferred:
  description: vfio-pci bindings left for after the reboot (O(defer_vfio)).
  returned: success
  type: list
  elements: dict
pfs:
  description: The request, normalised.
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.quantbot.hft.plugins.module_utils._sriov import (
    SriovError,
    apply,
    normalize_pfs,
    observe,
    plan_changes,
    validate_against_host,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pfs=dict(type="list", elements="dict", required=True),
            defer_vfio=dict(type="bool", default=False),
            sysfs_root=dict(type="path", default="/sys"),
        ),
        supports_check_mode=True,
    )

    def run(argv):
        rc, out, err = module.run_command(argv, check_rc=False)
        if rc != 0:
            raise SriovError("%s failed (rc=%d): %s" % (" ".join(argv), rc, err.strip()))
        return out

    try:
        pfs = normalize_pfs(module.params["pfs"])
        root = module.params["sysfs_root"]
        if module.check_mode:
            host = observe(root, pfs, run)
            validate_against_host(pfs, host)
            result = {"changed": False, "actions": plan_changes(pfs, host), "deferred": []}
            result["changed"] = bool(result["actions"])
        else:
            result = apply(pfs, root, run=run, defer_vfio=module.params["defer_vfio"])
    except (SriovError, IOError, OSError) as exc:
        module.fail_json(msg="sriov: %s" % exc)
    module.exit_json(pfs=pfs, **result)


if __name__ == "__main__":
    main()
