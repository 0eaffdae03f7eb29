# shellcheck shell=bash
# Shared by the scripts: where the Python 3.14 environment lives and how to run a command in it.
# Home Assistant 2026.10+ needs Python >= 3.14.2; hosts that lack it get a Debian sid root (design §6),
# cached outside the repository and keyed by what goes into it, so a re-run costs nothing.
set -euo pipefail

REPO_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${EV_CLOUD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ev_cloud}
# A compiler and headers: Home Assistant builds a few voice packages at its first start.
ROOT_PACKAGES="python3.14,python3.14-venv,python3.14-dev,g++,ca-certificates"
ROOT_SUITE=sid
ROOT_MIRROR=${EV_CLOUD_DEBIAN_MIRROR:-http://deb.debian.org/debian}

_hash() { sha256sum | cut -c1-12; }
ROOT_KEY=$(printf '%s %s' "$ROOT_SUITE" "$ROOT_PACKAGES" | _hash)
REQ_KEY=$(cat "$REPO_DIR/requirements_test.txt" "$REPO_DIR/requirements_dev.txt" | _hash)
ROOT_DIR="$CACHE_DIR/root-$ROOT_KEY"
ROOT_VENV="/opt/ev_cloud-venv-$REQ_KEY"
HOST_VENV="$REPO_DIR/.venv"

log() { printf '[ev_cloud] %s\n' "$*" >&2; }
die() { printf '[ev_cloud] error: %s\n' "$*" >&2; exit 1; }

# Prints the path of a host python3.14 that is new enough, or nothing.
host_python() {
  local candidate
  for candidate in "${EV_CLOUD_PYTHON:-}" python3.14; do
    [ -n "$candidate" ] || continue
    command -v "$candidate" >/dev/null 2>&1 || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 14, 2))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 0
}

# "host" when a host python3.14 serves, "root" when the sid root is needed.
env_mode() {
  if [ -n "$(host_python)" ]; then echo host; else echo root; fi
}

env_ready() {
  if [ "$(env_mode)" = host ]; then
    [ -f "$HOST_VENV/.ev_cloud-$REQ_KEY" ]
  else
    [ -f "$ROOT_DIR$ROOT_VENV/.ready" ]
  fi
}

# Runs "$@" (a command whose first word is looked up in the venv) from the current directory.
in_env() {
  if [ "$(env_mode)" = host ]; then
    PATH="$HOST_VENV/bin:$PATH" "$@"
    return
  fi
  in_root env PATH="$ROOT_VENV/bin:/usr/local/bin:/usr/bin:/bin" VIRTUAL_ENV="$ROOT_VENV" "$@"
}

# Runs "$@" inside the sid root, with the repository bind-mounted at the same path.
in_root() {
  local cwd
  cwd=$(pwd)
  case "$cwd" in "$REPO_DIR"*) ;; *) cwd="$REPO_DIR" ;; esac
  unshare --mount --fork --kill-child -- /bin/bash -c '
    set -e
    root=$1 repo=$2 cwd=$3; shift 3
    mount --make-rprivate /
    mkdir -p "$root$repo"
    mount --bind "$repo" "$root$repo"
    mount --rbind /dev "$root/dev"
    mount --rbind /proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --bind /tmp "$root/tmp"
    cp -fL /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$root" /usr/bin/env -i \
      HOME=/root PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" \
      SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt UV_NATIVE_TLS=1 UV_SYSTEM_CERTS=1 \
      PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-}" EV_CLOUD_SIM_PORT="${EV_CLOUD_SIM_PORT:-}" \
      /bin/bash -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
  ' ev_cloud-root "$ROOT_DIR" "$REPO_DIR" "$cwd" "$@"
}
