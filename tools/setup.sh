#!/usr/bin/env bash
# rkmem bootstrap: host packages, bindgen, virtme-ng and a cached kernel build.
#
#   tools/setup.sh [debug|perf|kasan] install what is missing, build the kernel if
#                                 its cache key changed (a no-op when warm)
#   tools/setup.sh kdir [FLAVOUR] print the cached kernel tree for FLAVOUR
#   tools/setup.sh env            print make variables (RUSTC, BINDGEN, ...)
#
# Cache: ${RKMEM_CACHE:-~/.cache/rkmem}. A kernel tree lives in
# kernel/<flavour>-<key>/ where key hashes the kernel source version, the
# config fragments, this script and the toolchain versions; a built tree must
# stay at its path (a copied tree rebuilds from scratch).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${RKMEM_CACHE:-$HOME/.cache/rkmem}
BINDGEN_VERSION=0.70.1
VIRTME_NG_VERSION=1.42
RUSTC=/usr/bin/rustc
LLVM_SUFFIX=-19
LIBCLANG_PATH=/usr/lib/llvm-19/lib
BINDGEN=$CACHE/tools/bindgen-$BINDGEN_VERSION/bin/bindgen
VENV=$CACHE/venv-virtme-ng-$VIRTME_NG_VERSION
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
# Bump when build_kernel() changes how a tree is configured or built.
KERNEL_RECIPE=1
export LIBCLANG_PATH

PACKAGES=(linux-source-6.12 rustc-web rust-web-src clang-19 lld-19 llvm-19
    libclang-19-dev qemu-system-x86 flex bison bc libelf-dev libssl-dev cpio
    pahole make xz-utils build-essential kmod udev python3-venv)

log() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_packages() {
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

ensure_bindgen() {
    [ -x "$BINDGEN" ] && return 0
    log "installing bindgen-cli $BINDGEN_VERSION from crates.io (about 2 min)"
    cargo install --locked bindgen-cli --version "$BINDGEN_VERSION" \
        --root "$CACHE/tools/bindgen-$BINDGEN_VERSION"
}

ensure_virtme_ng() {
    [ -x "$VENV/bin/vng" ] && return 0
    log "installing virtme-ng $VIRTME_NG_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "virtme-ng==$VIRTME_NG_VERSION"
}

kernel_make() { # kernel_make TREE ARGS...
    local tree=$1; shift
    make -C "$tree" LLVM=$LLVM_SUFFIX RUSTC=$RUSTC BINDGEN="$BINDGEN" "$@"
}

# fragments FLAVOUR: its config fragments, in merge order (kasan builds on debug).
fragments() {
    echo "$ROOT/qemu/config/base.config"
    [ "$1" = kasan ] && echo "$ROOT/qemu/config/debug.config"
    echo "$ROOT/qemu/config/$1.config"
}

cache_key() { # cache_key FLAVOUR
    {
        dpkg-query -W -f='${Version}' linux-source-6.12
        fragments "$1" | xargs cat
        echo "recipe $KERNEL_RECIPE"
        $RUSTC --version
        clang$LLVM_SUFFIX --version | head -1
        "$BINDGEN" --version
    } | sha256sum | cut -c1-16
}

kdir() { # an explicit KDIR (another kernel tree) wins over the cache
    if [ -n "${KDIR:-}" ]; then echo "$KDIR"; else echo "$CACHE/kernel/$1-$(cache_key "$1")"; fi
}

# Every CONFIG_X=v and "# CONFIG_X is not set" line of the fragments must hold.
verify_config() { # verify_config TREE FLAVOUR
    local tree=$1 flavour=$2 bad=0 line opt
    while IFS= read -r line; do
        case $line in
        CONFIG_*=*)
            grep -qxF "$line" "$tree/.config" || { log "config: wanted $line, got: $(grep "^${line%%=*}=" "$tree/.config" || echo unset)"; bad=1; } ;;
        "# CONFIG_"*" is not set")
            opt=${line#\# }; opt=${opt%% *}
            ! grep -q "^$opt=" "$tree/.config" || { log "config: wanted $opt unset, got: $(grep "^$opt=" "$tree/.config")"; bad=1; } ;;
        esac
    done < <(fragments "$flavour" | xargs cat)
    return $bad
}

build_kernel() { # build_kernel FLAVOUR
    local flavour=$1 tree start
    tree=$(kdir "$flavour")
    if [ -f "$tree/.rkmem-built" ]; then
        # Out-of-tree modules need Module.symvers (from `make modules`).
        [ -f "$tree/Module.symvers" ] || kernel_make "$tree" -s -j"$(nproc)" modules
        log "kernel $flavour is cached: $tree"
        return 0
    fi
    start=$(date +%s)
    log "building kernel $flavour in $tree (10-16 min on 2 cores)"
    rm -rf "$tree"
    mkdir -p "$tree"
    tar -xf "$KSRC_TARBALL" -C "$tree" --strip-components=1
    kernel_make "$tree" -s tinyconfig
    # shellcheck disable=SC2046
    (cd "$tree" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config \
        $(fragments "$flavour") >/dev/null)
    kernel_make "$tree" -s olddefconfig
    verify_config "$tree" "$flavour" || { log "kernel config does not hold the fragments"; exit 1; }
    kernel_make "$tree" rustavailable >/dev/null
    kernel_make "$tree" -j"$(nproc)" bzImage modules
    echo "$(( $(date +%s) - start ))" > "$tree/.rkmem-built"
    log "kernel $flavour built in $(cat "$tree/.rkmem-built") s"
    # Drop stale trees of this flavour (other keys); they cannot be reused.
    find "$CACHE/kernel" -mindepth 1 -maxdepth 1 -name "$flavour-*" ! -path "$tree" \
        -exec rm -rf {} +
}

case ${1:-debug} in
kdir) kdir "${2:-debug}" ;;
env)
    echo "RUSTC=$RUSTC"
    echo "BINDGEN=$BINDGEN"
    echo "LLVM=$LLVM_SUFFIX"
    echo "VENV=$VENV"
    ;;
debug | perf | kasan)
    ensure_packages
    ensure_bindgen
    ensure_virtme_ng
    if [ -n "${KDIR:-}" ]; then
        log "using KDIR=$KDIR (not building a kernel)"
    else
        build_kernel "$1"
    fi
    ;;
*) echo "usage: $0 [debug|perf|kasan] | kdir [FLAVOUR] | env" >&2; exit 2 ;;
esac
