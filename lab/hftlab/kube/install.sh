#!/bin/sh
# EMULATED "kubeadm and kubelet packages" for the hftlab VM (run as root by
# `hftlab controlplane up`, from the bundle unpacked in /opt/hftlab/kube).
# Usage: install.sh (the emulated SR-IOV device plugin takes its configuration from
# the cluster, as the real one does: see kubelet_standin.py)
set -eu
D=/opt/hftlab/kube
for tool in kubeadm kubelet; do
  printf '#!/bin/sh\n# EMULATED %s (hftlab stand-in)\nexec /usr/bin/python3 %s/%s_standin.py "$@"\n' "$tool" "$D" "$tool" \
    > "/usr/local/bin/$tool"
  chmod 0755 "/usr/local/bin/$tool"
done
# The kubernetes Python client for quantbot.hft.node_join (python3-kubernetes on a real node).
site=$(python3 -c 'import site; print([p for p in site.getsitepackages() if p.startswith("/usr/local")][0])')
mkdir -p "$site"
echo "$D/python" > "$site/hftlab-kube.pth"
mkdir -p /etc/kubernetes/manifests /var/lib/kubelet
# The lab used to write its own device plugin file here; a VM set up before that change has it left over.
rm -f /etc/hftlab/sriov-device-plugin.json
install -m 0644 "$D/kubelet.service" /lib/systemd/system/kubelet.service
mkdir -p /etc/systemd/system/kubelet.service.d
install -m 0644 "$D/10-kubeadm.conf" /etc/systemd/system/kubelet.service.d/10-kubeadm.conf
systemctl daemon-reload
# Enabled as the kubeadm packages leave it; it stays inactive until kubeadm join writes kubelet.conf.
systemctl enable kubelet.service >/dev/null 2>&1
python3 -c 'import kubernetes, yaml' 
echo "installed: /usr/local/bin/kubeadm, /usr/local/bin/kubelet, kubelet.service (inactive until join)"
