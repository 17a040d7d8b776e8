"""Find the Debian mirror the machine itself uses (never hard-coded).

Reads one-line style ``/etc/apt/sources.list`` and ``sources.list.d/*.list``
as well as deb822 ``sources.list.d/*.sources`` and returns the URI that
serves ``<suite> main`` (``bookworm`` by default).
"""

from __future__ import annotations

import glob
import os
import re

_ONE_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$")


class MirrorNotFound(RuntimeError):
    pass


def parse_one_line(text: str, suite: str = "bookworm", component: str = "main") -> list[str]:
    """URIs of ``deb`` lines in one-line format serving *suite* *component*."""
    uris = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        m = _ONE_LINE.match(line)
        if m and m.group(2) == suite and component in m.group(3).split():
            uris.append(m.group(1))
    return uris


def parse_deb822(text: str, suite: str = "bookworm", component: str = "main") -> list[str]:
    """URIs of deb822 stanzas (``*.sources``) serving *suite* *component*."""
    uris = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, list[str]] = {}
        key = None
        for raw in stanza.splitlines():
            if raw.lstrip().startswith("#"):
                continue
            if raw[:1] in (" ", "\t") and key:  # continuation line
                fields[key].extend(raw.split())
                continue
            if ":" in raw:
                key, value = raw.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.split()
        if fields.get("enabled", ["yes"])[0].lower() == "no":
            continue
        if (
            "deb" in fields.get("types", [])
            and suite in fields.get("suites", [])
            and component in fields.get("components", [])
        ):
            uris.extend(fields.get("uris", []))
    return uris


def find_mirror(root: str = "/", suite: str = "bookworm", component: str = "main") -> str:
    """Return the first URI serving *suite* *component* in the apt sources under *root*.

    ``HFTLAB_MIRROR`` overrides (useful on a machine without such a source).
    """
    env = os.environ.get("HFTLAB_MIRROR")
    if env:
        return env.rstrip("/")
    base = os.path.join(root, "etc/apt")
    found: list[str] = []
    for path in [os.path.join(base, "sources.list")] + sorted(glob.glob(os.path.join(base, "sources.list.d/*.list"))):
        try:
            with open(path, encoding="utf-8") as fh:
                found += parse_one_line(fh.read(), suite, component)
        except OSError:
            pass
    for path in sorted(glob.glob(os.path.join(base, "sources.list.d/*.sources"))):
        try:
            with open(path, encoding="utf-8") as fh:
                found += parse_deb822(fh.read(), suite, component)
        except OSError:
            pass
    # Prefer plain http(s) mirrors apt inside debootstrap can use without extra transports.
    for uri in found:
        if uri.startswith(("http://", "https://", "file:/")):
            return uri.rstrip("/")
    if found:
        return found[0].rstrip("/")
    raise MirrorNotFound(
        f"no apt source serving '{suite} {component}' found in {base}/sources.list or "
        f"{base}/sources.list.d/*.list|*.sources; set HFTLAB_MIRROR=<uri> to choose one"
    )
