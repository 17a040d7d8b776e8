"""The golden image: Debian 12 that boots from its own disk through GRUB.

Built with debootstrap from the machine's own mirror, customised by
``recipe/customize.sh``, written into a partitioned raw disk with
``mkfs.ext4 -E offset=... -d TREE`` (no mounting), booted once directly to
run grub-install + update-grub inside, and stored as qcow2 under
``~/.cache/quantbot-hft/images/<recipe hash>/``. Every ``up`` boots a
throwaway copy-on-write overlay on top of it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid

from . import qemu
from .mirror import find_mirror
from .state import LabError, Paths, file_lock, save_json, tail

RECIPE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipe")
SUITE = "bookworm"
DISK_SIZE_MB = 8192
PART_OFFSET = 1048576  # partition 1 starts at sector 2048
BUILD_TOOLS = {  # command -> Debian package
    "debootstrap": "debootstrap",
    "mkfs.ext4": "e2fsprogs",
    "sfdisk": "fdisk",
    "qemu-img": "qemu-utils",
    "ssh-keygen": "openssh-client",
    "dpkg-deb": "dpkg",
    "chroot": "coreutils",
}


def read_list(path: str) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(line)
    return out


# Bump when the build logic in this module changes in a way that changes the image.
RECIPE_VERSION = 2


def recipe_files() -> list[str]:
    """The build scripts, package lists and GM fixture files under recipe/."""
    files = []
    for root, _dirs, names in os.walk(RECIPE_DIR):
        files += [os.path.join(root, n) for n in names if not n.endswith((".pyc", "~"))]
    return sorted(files)


def recipe_params() -> str:
    """Build parameters that live in Python, as part of the recipe."""
    return json.dumps(
        {
            "version": RECIPE_VERSION,
            "suite": SUITE,
            "disk_mb": DISK_SIZE_MB,
            "hft": [qemu.HFT_IF, qemu.HFT_PCI],
            "gm": [qemu.GM_IF, qemu.GM_PCI],
        },
        sort_keys=True,
    )


def recipe_key(contents: dict[str, bytes], mirror: str, extra: str = "") -> str:
    """Hash of the recipe: file contents (by relative name), the mirror URI and *extra*."""
    h = hashlib.sha256()
    for name in sorted(contents):
        h.update(name.encode() + b"\0" + hashlib.sha256(contents[name]).digest())
    h.update(b"mirror\0" + mirror.encode())
    h.update(b"extra\0" + extra.encode())
    return h.hexdigest()[:16]


def current_recipe_key(mirror: str) -> str:
    contents = {}
    for path in recipe_files():
        with open(path, "rb") as fh:
            contents[os.path.relpath(path, RECIPE_DIR)] = fh.read()
    return recipe_key(contents, mirror, extra=recipe_params())


class Image:
    def __init__(self, directory: str):
        self.dir = directory
        self.disk = os.path.join(directory, "disk.qcow2")
        self.key = os.path.join(directory, "id_ed25519")
        self.kernel = os.path.join(directory, "vmlinuz")
        self.initrd = os.path.join(directory, "initrd.img")
        self.meta = os.path.join(directory, "meta.json")

    def complete(self) -> bool:
        return all(os.path.exists(p) for p in (self.disk, self.key, self.kernel, self.initrd, self.meta))


def missing_tools() -> list[str]:
    return [f"{cmd} (apt package {pkg})" for cmd, pkg in BUILD_TOOLS.items() if not shutil.which(cmd)]


def run_logged(argv, logfh, log, stage: str, env=None, throttle: float = 10.0, cwd=None):
    """Run *argv*, appending output to *logfh*; show the latest line at most every *throttle* s."""
    logfh.write(f"\n### {stage}: {' '.join(argv)}\n")
    logfh.flush()
    start = time.monotonic()
    last_shown = start
    last_line = ""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        text=True,
        errors="replace",
        bufsize=1,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        logfh.write(line)
        if line.strip():
            last_line = line.strip()
        now = time.monotonic()
        if now - last_shown >= throttle:
            log(f"  {stage}: {int(now - start)}s  {last_line[:110]}")
            last_shown = now
    rc = proc.wait()
    logfh.flush()
    if rc != 0:
        raise LabError(f"golden image build failed in stage '{stage}' (exit {rc}): {last_line[:200]}")
    return time.monotonic() - start


def mounts_under(path: str, mounts_text: str) -> list[str]:
    """Mount points at or below *path* in /proc/mounts text, deepest first."""
    path = os.path.realpath(path)
    out = []
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            mp = fields[1].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return sorted(out, key=len, reverse=True)


def unmount_under(path: str) -> None:
    """Unmount anything an interrupted debootstrap/customize left mounted in the tree."""
    try:
        with open("/proc/mounts", encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return
    for mp in mounts_under(path, text):
        subprocess.run(["umount", "-l", mp], check=False)


def safe_rmtree(path: str) -> None:
    unmount_under(path)
    shutil.rmtree(path)


def ensure_image(paths: Paths, log, rebuild: bool = False) -> Image:
    """Return the cached golden image for the current recipe, building it if needed."""
    mirror = find_mirror()
    key = current_recipe_key(mirror)
    img = Image(paths.image_dir(key))
    if img.complete() and not rebuild:
        return img
    with file_lock(paths.build_lock, "image build", log=log):
        if img.complete() and not rebuild:  # built by a concurrent up while we waited
            return img
        build(img, key, mirror, paths, log)
    return img


def build(img: Image, key: str, mirror: str, paths: Paths, log) -> None:
    if os.geteuid() != 0:
        raise LabError("building the golden image needs root (debootstrap, chroot); run `hftlab up` as root")
    missing = missing_tools()
    if missing:
        raise LabError(
            "cannot build the golden image, missing: "
            + ", ".join(missing)
            + "  (scripts/setup.sh --install installs them)"
        )
    qemu.check_qemu()
    work = img.dir + ".build"
    if os.path.isdir(work):
        safe_rmtree(work)
    os.makedirs(work)
    if os.path.isdir(img.dir):
        shutil.rmtree(img.dir)
    tree = os.path.join(work, "tree")
    raw = os.path.join(work, "disk.raw")
    logpath = os.path.join(work, "build.log")
    debcache = os.path.join(paths.root, "debootstrap-cache")
    os.makedirs(debcache, exist_ok=True)
    t0 = time.monotonic()
    log(f"building golden image {key} (Debian 12 from {mirror}); log: {logpath}")
    try:
        with open(logpath, "w", encoding="utf-8") as logfh:
            pkgs = read_list(os.path.join(RECIPE_DIR, "packages.txt"))
            log("[1/6] debootstrap --variant=minbase (about 2-3 min)")
            run_logged(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(pkgs)}",
                    f"--cache-dir={debcache}",
                    SUITE,
                    tree,
                    mirror,
                ],
                logfh,
                log,
                "debootstrap",
            )

            log("[2/6] SSH key and customisation (users, network, GRUB defaults, apt cache, GM fixture)")
            subprocess.run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"hftlab-{key}",
                    "-f",
                    os.path.join(work, "id_ed25519"),
                ],
                check=True,
            )
            root_uuid = str(uuid.uuid4())
            env = dict(
                os.environ,
                TREE=tree,
                MIRROR=mirror,
                PUBKEY_FILE=os.path.join(work, "id_ed25519.pub"),
                ROOT_UUID=root_uuid,
                HFT_IF=qemu.HFT_IF,
                GM_IF=qemu.GM_IF,
                HFT_PCI=qemu.HFT_PCI,
                GM_PCI=qemu.GM_PCI,
                RECIPE_DIR=RECIPE_DIR,
            )
            run_logged(["sh", os.path.join(RECIPE_DIR, "customize.sh")], logfh, log, "customize", env=env)
            kernels = sorted(glob.glob(os.path.join(tree, "boot", "vmlinuz-*")))
            initrds = sorted(glob.glob(os.path.join(tree, "boot", "initrd.img-*")))
            if not kernels or not initrds:
                raise LabError("golden image build failed: no kernel/initrd in the tree's /boot")
            shutil.copy(kernels[-1], os.path.join(work, "vmlinuz"))
            shutil.copy(initrds[-1], os.path.join(work, "initrd.img"))

            log(f"[3/6] partitioned raw disk ({DISK_SIZE_MB} MiB, sparse) and mkfs.ext4 -d")
            with open(raw, "wb") as fh:
                fh.truncate(DISK_SIZE_MB * 1024 * 1024)
            part = subprocess.run(
                ["sfdisk", "-q", raw],
                input="label: dos\nstart=2048, type=83, bootable\n",
                text=True,
                capture_output=True,
                check=False,
            )
            logfh.write(part.stdout + part.stderr)
            if part.returncode != 0:
                raise LabError(f"golden image build failed in stage 'sfdisk': {part.stderr.strip()}")
            run_logged(
                [
                    "mkfs.ext4",
                    "-F",
                    "-q",
                    "-L",
                    "hftroot",
                    "-U",
                    root_uuid,
                    "-E",
                    f"offset={PART_OFFSET}",
                    "-d",
                    tree,
                    raw,
                    f"{DISK_SIZE_MB - 1}M",
                ],
                logfh,
                log,
                "mkfs.ext4",
            )
            safe_rmtree(tree)

            log("[4/6] first boot (direct kernel): grub-install + update-grub inside the image")
            first_boot(work, raw, logfh, log)

            log("[5/6] converting to qcow2")
            run_logged(
                ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, os.path.join(work, "disk.qcow2")],
                logfh,
                log,
                "qemu-img convert",
            )
            os.unlink(raw)
            save_json(
                os.path.join(work, "meta.json"),
                {
                    "recipe_key": key,
                    "mirror": mirror,
                    "suite": SUITE,
                    "root_uuid": root_uuid,
                    "kernel": os.path.basename(kernels[-1]),
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "build_seconds": round(time.monotonic() - t0, 1),
                    "hft_if": qemu.HFT_IF,
                    "gm_if": qemu.GM_IF,
                },
            )
        log("[6/6] storing image in the cache")
        os.rename(work, img.dir)
    except LabError as exc:
        raise LabError(f"{exc}\n--- last lines of {logpath} ---\n{tail(logpath)}") from None
    except BaseException:
        log(f"golden image build interrupted; partial build left in {work} (removed by the next build)")
        raise
    finally:
        unmount_under(tree)
    log(f"golden image ready in {time.monotonic() - t0:.0f}s: {img.disk}")


def first_boot(work: str, raw: str, logfh, log, timeout: float = 900.0) -> None:
    console = os.path.join(work, "firstboot-console.log")
    argv = qemu.firstboot_argv(
        qemu.qemu_binary(), raw, os.path.join(work, "vmlinuz"), os.path.join(work, "initrd.img"), console
    )
    logfh.write("\n### first boot: " + " ".join(argv) + "\n")
    logfh.flush()
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=logfh, stderr=subprocess.STDOUT)
    last_shown = start
    try:
        while proc.poll() is None:
            time.sleep(1)
            now = time.monotonic()
            if now - start > timeout:
                proc.kill()
                proc.wait()
                raise LabError(
                    f"first boot did not finish within {timeout:.0f}s\n" f"--- console tail ---\n{tail(console)}"
                )
            if now - last_shown >= 10:
                log(f"  first boot: {int(now - start)}s  [console: {qemu.last_console_line(console)[:100]}]")
                last_shown = now
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = tail(console, 200)
    if "HFTLAB-FIRSTBOOT-OK" not in text:
        raise LabError(f"first boot (grub-install/update-grub) failed\n--- console tail ---\n{tail(console)}")
    log(f"  first boot done in {time.monotonic() - start:.0f}s")


def image_info(paths: Paths) -> dict:
    try:
        key = current_recipe_key(find_mirror())
    except Exception as exc:  # noqa: BLE001 - status must not fail on this
        return {"error": str(exc)}
    img = Image(paths.image_dir(key))
    info = {"recipe_key": key, "dir": img.dir, "built": img.complete()}
    if img.complete():
        with open(img.meta, encoding="utf-8") as fh:
            info.update(json.load(fh))
    return info
