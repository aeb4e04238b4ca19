#!/usr/bin/env bash
# Installs the Debian packages the integration tests and the demo start for real on loopback:
# OpenSSH's sshd, HAProxy, PostgreSQL 15, sudo, and the package tools the patch tests drive (dpkg,
# dnf, rpm). Runs `apt-get update` only when something is missing.
set -euo pipefail
need=()
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir 2>/dev/null)/initdb" ] || need+=(postgresql-15 postgresql-client-15 libpq-dev)
command -v git >/dev/null 2>&1 || need+=(git)
# The SSH transport's sudo path (`sudo -n`) is exercised against the test sshd.
command -v sudo >/dev/null 2>&1 || need+=(sudo)
# The patch tests build real .deb packages and index them into a local repository.
command -v dpkg-scanpackages >/dev/null 2>&1 || need+=(dpkg-dev)
# The dnf patch tests build real .rpm packages (rpmbuild), index them (createrepo_c, modifyrepo_c)
# and patch a throwaway root with dnf, asking its needs-restarting plugin whether to reboot.
command -v dnf >/dev/null 2>&1 || need+=(dnf)
command -v rpmbuild >/dev/null 2>&1 || need+=(rpm)
command -v createrepo_c >/dev/null 2>&1 || need+=(createrepo-c)
[ -e /usr/lib/python3/dist-packages/dnf-plugins/needs_restarting.py ] || need+=(dnf-plugins-core)
# The container tests run podman (rootful, with runc: crun refuses this machine's cgroup layout)
# against a local registry (htpasswd needs bcrypt: apache2-utils), with images built from busybox-static.
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx httpd || need+=(busybox-static)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# sshd refuses to start without its privilege-separation directory.
mkdir -p /run/sshd
