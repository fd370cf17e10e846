#!/usr/bin/env bash
# scripts/deps.sh - make sure everything Sluice needs to build and test is
# installed, on Debian 12 (bookworm).
#
# It probes each entry of DEPS_TABLE below (a pkg-config module, a command,
# a file or a Debian package); for those missing it collects the Debian
# packages that provide them. Nothing missing: it prints one line,
# "deps: all present", and exits 0. Something missing: as root it runs
# `apt-get update` once and installs the packages (no recommends, no
# questions), then probes again; as any other user it prints the exact
# command to run and exits 1.
#
#   scripts/deps.sh           check, install what is missing (root)
#   scripts/deps.sh --check   check only: list what is missing, exit 1 if any
#
# Written in plain POSIX sh (no arrays), so `sh scripts/deps.sh` works too.
set -eu

# The table: one dependency per line, three columns.
#   kind     pc (pkg-config module), cmd (command on PATH),
#            file (a path that must exist), deb (a Debian package, by dpkg)
#   probe    the module, command, path or package name
#   package  the Debian package that provides it; "@hyperscan" stands for
#            libhyperscan-dev on amd64 and libvectorscan-dev elsewhere
#            (same API and pkg-config module, libhs).
# To add a dependency, add a line; for example:
#   pc    hiredis        libhiredis-dev
#   cmd   redis-server   redis-server
DEPS_TABLE='
cmd  cc            build-essential
cmd  make          build-essential
cmd  pkg-config    pkg-config
cmd  python3       python3
pc   libpcre2-8    libpcre2-dev
pc   icu-uc        libicu-dev
pc   icu-i18n      libicu-dev
pc   libsodium     libsodium-dev
pc   yaml-0.1      libyaml-dev
pc   libhs         @hyperscan
pc   cmocka        libcmocka-dev
pc   libcjson      libcjson-dev
pc   hiredis       libhiredis-dev
cmd  redis-server  redis-server
deb  nginx-dev     nginx-dev
cmd  nginx         nginx
pc   zlib          zlib1g-dev
deb  python3-pytest python3-pytest
cmd  clang         clang
deb  libclang-rt-14-dev libclang-rt-14-dev
cmd  wrk           wrk
'

usage() {
    echo "usage: scripts/deps.sh [--check]" >&2
    exit 2
}

check_only=0
case "${1:-}" in
    "") ;;
    --check) check_only=1 ;;
    -h|--help) echo "usage: scripts/deps.sh [--check]"; exit 0 ;;
    *) usage ;;
esac

# The Debian architecture (amd64, arm64, ...).
deb_arch() {
    if command -v dpkg >/dev/null 2>&1; then
        dpkg --print-architecture
    else
        case "$(uname -m)" in
            x86_64) echo amd64 ;;
            *) uname -m ;;
        esac
    fi
}

# Resolve a table package name to a real one.
resolve_pkg() {
    case "$1" in
        @hyperscan)
            if [ "$(deb_arch)" = amd64 ]; then
                echo libhyperscan-dev
            else
                echo libvectorscan-dev
            fi ;;
        *) echo "$1" ;;
    esac
}

# Exit 0 if the dependency (kind, probe) is there.
probe() {
    case "$1" in
        pc)
            command -v pkg-config >/dev/null 2>&1 &&
                pkg-config --exists "$2" ;;
        cmd)
            command -v "$2" >/dev/null 2>&1 ;;
        file)
            [ -e "$2" ] ;;
        deb)
            command -v dpkg-query >/dev/null 2>&1 &&
                [ "$(dpkg-query -W -f='${Status}' "$2" 2>/dev/null)" = \
                  "install ok installed" ] ;;
        *)
            echo "deps: unknown kind '$1' in DEPS_TABLE" >&2
            exit 2 ;;
    esac
}

# Sets $missing (descriptions) and $pkgs (deduplicated package names).
scan() {
    missing=""
    pkgs=""
    while read -r kind name pkg; do
        [ -n "$kind" ] || continue
        if probe "$kind" "$name"; then
            continue
        fi
        missing="$missing $kind:$name"
        pkg=$(resolve_pkg "$pkg")
        case " $pkgs " in
            *" $pkg "*) ;;
            *) pkgs="$pkgs $pkg" ;;
        esac
    done <<EOF
$DEPS_TABLE
EOF
    missing=${missing# }
    pkgs=${pkgs# }
}

scan
if [ -z "$missing" ]; then
    echo "deps: all present"
    exit 0
fi

echo "deps: missing: $missing"
if [ "$check_only" = 1 ]; then
    echo "deps: packages: $pkgs"
    exit 1
fi

install_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs"
if [ "$(id -u)" != 0 ]; then
    echo "deps: not root; install them with:"
    if command -v sudo >/dev/null 2>&1; then
        echo "  sudo apt-get update && sudo env $install_cmd"
    else
        echo "  su -c 'apt-get update && $install_cmd'"
    fi
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: no apt-get here (Sluice targets Debian 12); install: $pkgs" >&2
    exit 1
fi

echo "deps: installing: $pkgs"
apt-get update
# $pkgs is a space-separated list of package names: split it on purpose.
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $pkgs

installed=$pkgs
scan
if [ -n "$missing" ]; then
    echo "deps: still missing after install: $missing" >&2
    exit 1
fi
echo "deps: all present (installed: $installed)"
