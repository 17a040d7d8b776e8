# -*- coding: utf-8 -*-
# Copyright (c) 2026, quantbot.hft maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Shared `attributes` documentation, after community.general's _attributes
# fragment. Use the base fragment plus the ones that fit:
#   extends_documentation_fragment:
#     - quantbot.hft.attributes
#     - quantbot.hft.attributes.info_module   # read-only modules
#     - quantbot.hft.attributes.platform      # then set attributes.platform.platforms

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):

    # Base fragment: describes check_mode and diff_mode; the module (or one of
    # the fragments below) states its support level.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Returns details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
"""

    # For modules that only read state. Use together with the base fragment.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This action does not modify state.
  diff_mode:
    support: N/A
    details:
      - This action does not modify state.
"""

    # The module still sets O(attributes.platform.platforms) itself.
    PLATFORM = r"""
options: {}
attributes:
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
"""
