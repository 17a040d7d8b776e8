#!/bin/sh
# Turn a debootstrapped Debian 12 tree into the hftlab golden image tree.
# Runs on the build host as root. Inputs (environment):
#   TREE MIRROR PUBKEY_FILE ROOT_UUID HFT_IF GM_IF HFT_PCI GM_PCI RECIPE_DIR
set -eu
: "${TREE:?}" "${MIRROR:?}" "${PUBKEY_FILE:?}" "${ROOT_UUID:?}" "${HFT_IF:?}" "${GM_IF:?}"
: "${HFT_PCI:?}" "${GM_PCI:?}" "${RECIPE_DIR:?}"
T=$TREE
step() { echo "customize: $*"; }
in_chroot() {
  chroot "$T" /usr/bin/env -i DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
}
cleanup() { umount "$T/proc" 2>/dev/null || true; }
trap cleanup EXIT

step "identity, fstab, apt sources"
echo hft-lab-1 > "$T/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thft-lab-1\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$T/etc/hosts"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$ROOT_UUID" > "$T/etc/fstab"
rm -f "$T/etc/apt/sources.list"
printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$MIRROR" > "$T/etc/apt/sources.list.d/debian.sources"
cp /etc/resolv.conf "$T/etc/resolv.conf"   # for the apt steps below; replaced at the end
: > "$T/etc/machine-id"                      # regenerated on every clean boot
rm -f "$T/var/lib/dbus/machine-id"

step "management NIC (DHCP from QEMU user networking) and igb port names"
mkdir -p "$T/etc/systemd/network"
cat > "$T/etc/systemd/network/10-hftlab-mgmt.network" <<NET
[Match]
Driver=virtio_net

[Network]
DHCP=ipv4
LinkLocalAddressing=no
IPv6AcceptRA=no
NET
# The HFT port is up at boot with no address, as a server's own network
# configuration leaves a PTP/SR-IOV port (ptp4l needs the link up; the roles do
# not own the host's network configuration).
cat > "$T/etc/systemd/network/20-hftlab-$HFT_IF.network" <<NET
[Match]
Name=$HFT_IF

[Link]
RequiredForOnline=no

[Network]
LinkLocalAddressing=no
IPv6AcceptRA=no
NET
# Pin the igb port names to their PCI path, so they never race at probe time.
for pair in "$HFT_IF:$HFT_PCI" "$GM_IF:$GM_PCI"; do
  name=${pair%%:*}; pci=${pair#*:}
  cat > "$T/etc/systemd/network/10-hftlab-$name.link" <<LINK
[Match]
Path=pci-$pci

[Link]
Name=$name
MACAddressPolicy=none
LINK
done
ln -sf /lib/systemd/system/systemd-networkd.service "$T/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
mkdir -p "$T/etc/systemd/system/sockets.target.wants"
ln -sf /lib/systemd/system/systemd-networkd.socket "$T/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
# apt's daily timers would hold the dpkg lock while a converge runs.
for t in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$T/etc/systemd/system/$t"
done

step "systemd-timesyncd enabled, with no NTP server (the lab sends no traffic off the machine)"
mkdir -p "$T/etc/systemd/timesyncd.conf.d"
cat > "$T/etc/systemd/timesyncd.conf.d/hftlab.conf" <<'TIMESYNCD'
# hftlab: keep timesyncd running as on a Debian server, but with no server to
# ask, so the lab never reaches out; the ptp role stops it, offboarding restores it.
[Time]
NTP=
FallbackNTP=
TIMESYNCD
mkdir -p "$T/etc/systemd/system/sysinit.target.wants"
ln -sf /lib/systemd/system/systemd-timesyncd.service "$T/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service"

step "user hft with key-only SSH and passwordless sudo"
if ! in_chroot id hft >/dev/null 2>&1; then
  in_chroot useradd -m -s /bin/bash -G sudo hft
fi
in_chroot passwd -l hft >/dev/null
install -d -m 700 -o 1000 -g 1000 "$T/home/hft/.ssh"
install -m 600 -o 1000 -g 1000 "$PUBKEY_FILE" "$T/home/hft/.ssh/authorized_keys"
echo 'hft ALL=(ALL:ALL) NOPASSWD: ALL' > "$T/etc/sudoers.d/hft"
chmod 440 "$T/etc/sudoers.d/hft"
printf 'PasswordAuthentication no\nUseDNS no\n' > "$T/etc/ssh/sshd_config.d/hftlab.conf"

step "GRUB defaults (the image boots through its own bootloader)"
cat > "$T/etc/default/grub" <<'GRUB'
# The lab VM boots SeaBIOS -> GRUB -> kernel from its own disk, as on bare
# metal. Roles add kernel arguments through this file / grub.d + update-grub.
GRUB_DEFAULT=0
GRUB_TIMEOUT=0
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0,115200"
GRUB_CMDLINE_LINUX=""
GRUB_TERMINAL=serial
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB
mkdir -p "$T/etc/default/grub.d"
install -m 755 "$RECIPE_DIR/firstboot.sh" "$T/usr/local/sbin/hftlab-firstboot"

mount -t proc proc "$T/proc"
step "apt-get update (lists are kept in the image)"
in_chroot apt-get update -q
step "pre-downloading the roles' packages into /var/cache/apt/archives"
pkgs=$(sed -e 's/#.*//' "$RECIPE_DIR/apt-cache.txt" | xargs)
# shellcheck disable=SC2086
in_chroot apt-get install -y -q --download-only --no-install-recommends $pkgs

step "PTP grandmaster fixture in /opt/hftlab/gm (linuxptp unpacked, not installed)"
mkdir -p "$T/opt/hftlab/gm/root"
deb=$(ls "$T"/var/cache/apt/archives/linuxptp_*.deb | head -n1)
dpkg-deb -x "$deb" "$T/opt/hftlab/gm/root"
install -m 644 "$RECIPE_DIR/gm/gm.conf" "$T/opt/hftlab/gm/gm.conf"
install -m 755 "$RECIPE_DIR/gm/gm-netns.sh" "$T/opt/hftlab/gm/gm-netns.sh"
install -m 644 "$RECIPE_DIR/gm/hftlab-gm.service" "$T/etc/systemd/system/hftlab-gm.service"
printf 'GM_IF=%s\nHFT_IF=%s\n' "$GM_IF" "$HFT_IF" > "$T/opt/hftlab/gm/gm.env"

step "initramfs with the .link files"
in_chroot update-initramfs -u -k all >/dev/null
umount "$T/proc"

printf 'nameserver 10.0.2.3\n' > "$T/etc/resolv.conf"
rm -f "$T"/var/log/*.log "$T"/var/log/apt/* 2>/dev/null || true
step "done"
