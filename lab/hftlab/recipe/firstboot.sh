#!/bin/sh
# Run once as init= during the golden image build (direct kernel boot):
# install GRUB into the image's own MBR and generate its grub.cfg from
# /etc/default/grub, then power off. Every later boot is SeaBIOS -> GRUB.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mount -o remount,rw /
echo "hftlab-firstboot: grub-install /dev/vda"
if grub-install --target=i386-pc /dev/vda && update-grub && test -s /boot/grub/grub.cfg; then
  echo "HFTLAB-FIRSTBOOT-OK"
else
  echo "HFTLAB-FIRSTBOOT-FAILED"
fi
rm -f /usr/local/sbin/hftlab-firstboot
sync
echo u > /proc/sysrq-trigger   # emergency remount read-only (/ is busy as init)
sync
echo o > /proc/sysrq-trigger
sleep 30
