#!/usr/bin/env bash
# Builds the guest example components into guest-examples/dist/<name>.wasm.
#
#   guest-examples/build.sh             # all of them
#   guest-examples/build.sh redact c-filter ...   # only these
#
# Installs what is missing, at pinned versions: the wasm32-wasip2 Rust target
# (rustup), clang/lld/wasi-libc (Debian apt, as root or through sudo),
# componentize-py (PyPI, in a venv under python/.venv), ComponentizeJS (npm ci
# in js/), and wasm-tools + wit-bindgen-cli (cargo install --locked).
#
# Environment:
#   FORCE=1   rebuild the Python, JavaScript and C components even when their
#             inputs have not changed (Rust is always handed to cargo, which
#             rebuilds only what changed).
set -euo pipefail

# --- pinned versions ---------------------------------------------------------
WASM_TOOLS_VERSION=1.263.0
WASM_TOOLS_FEATURES=component,validate,print,parse,metadata
WIT_BINDGEN_CLI_VERSION=0.46.0 # the same release as the `wit-bindgen` crate the Rust guests use
WIT_BINDGEN_CLI_FEATURES=c
COMPONENTIZE_PY_VERSION=0.25.1
# ComponentizeJS: js/package.json + js/package-lock.json (0.23.0)
# wasi_snapshot_preview1 adapter for the C guest: c/wasi-adapter/Cargo.toml (48.0.8)
LLVM_VERSION=19
APT_PACKAGES=("clang-${LLVM_VERSION}" "lld-${LLVM_VERSION}" "libclang-rt-${LLVM_VERSION}-dev-wasm32" wasi-libc)

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
WIT="$ROOT/wit"
DIST="$HERE/dist"
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

RUST_GUESTS=(filter-by-type redact fan-out webhook-hmac misbehave)
ALL=("${RUST_GUESTS[@]}" python-transform js-transform c-filter)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
run() {
    printf '+ %s\n' "$*"
    "$@"
}
die() {
    printf 'build.sh: error: %s\n' "$*" >&2
    exit 1
}

# --- what to build -------------------------------------------------------------
if [ "$#" -eq 0 ]; then
    WANT=("${ALL[@]}")
else
    WANT=("$@")
    for name in "${WANT[@]}"; do
        case " ${ALL[*]} " in
        *" $name "*) ;;
        *) die "unknown component '$name' (known: ${ALL[*]})" ;;
        esac
    done
fi
wants() {
    local name
    for name in "${WANT[@]}"; do
        [ "$name" = "$1" ] && return 0
    done
    return 1
}
wants_any() {
    local name
    for name in "$@"; do
        wants "$name" && return 0
    done
    return 1
}

mkdir -p "$DIST"

# --- helpers -----------------------------------------------------------------
# Hash of the given files and folders (their paths and contents) and of extra
# strings, to skip the slow builds whose inputs have not changed.
inputs_hash() {
    local paths=() extra=()
    while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
        paths+=("$1")
        shift
    done
    [ "$#" -gt 0 ] && shift
    extra=("$@")
    {
        find "${paths[@]}" -type f \
            -not -path '*/node_modules/*' -not -path '*/__pycache__/*' \
            -not -path '*/.venv/*' -not -path '*/target/*' -not -path '*/gen/*' \
            -not -path '*/build/*' -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum
        printf '%s\n' "${extra[@]}"
    } | sha256sum | cut -d' ' -f1
}
# up_to_date <name> <hash>: whether dist/<name>.wasm was built from these inputs.
up_to_date() {
    [ "${FORCE:-0}" != 1 ] && [ -f "$DIST/$1.wasm" ] && [ -f "$DIST/.$1.inputs" ] &&
        [ "$(cat "$DIST/.$1.inputs")" = "$2" ]
}
mark_built() { printf '%s\n' "$2" >"$DIST/.$1.inputs"; }
# Forget what dist/<name>.wasm was built from, before a build that may fail
# half-way.
unmark() { rm -f "$DIST/.$1.inputs"; }

# cargo_tool <binary> <crate> <version> <features>: cargo install --locked,
# with only the features used here (much faster to build), unless the binary
# on PATH already reports that version.
cargo_tool() {
    local bin="$1" crate="$2" version="$3" features="$4"
    if command -v "$bin" >/dev/null 2>&1 && "$bin" --version 2>/dev/null | grep -qF " $version"; then
        echo "$bin $version: present"
    else
        say "installing $crate $version (cargo install --locked)"
        run cargo install --locked "$crate" --version "$version" --no-default-features --features "$features"
    fi
}

apt_missing() {
    local pkg missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    echo "${missing[@]}"
}

# --- tools ---------------------------------------------------------------------
say "tools"
command -v cargo >/dev/null || die "cargo is needed (a Rust toolchain)"

if wants_any "${RUST_GUESTS[@]}"; then
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        echo "rust target wasm32-wasip2: present"
    else
        run rustup target add wasm32-wasip2
    fi
fi

if wants c-filter; then
    apt_needed="$(apt_missing)"
    if [ -z "$apt_needed" ]; then
        echo "apt packages ${APT_PACKAGES[*]}: present"
    else
        say "installing Debian packages: $apt_needed"
        SUDO=()
        if [ "$(id -u)" -ne 0 ]; then
            command -v sudo >/dev/null || die "not root and no sudo: install $apt_needed"
            SUDO=(sudo)
        fi
        run "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
        # shellcheck disable=SC2086 # one word per package
        run "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $apt_needed
    fi
    cargo_tool wit-bindgen wit-bindgen-cli "$WIT_BINDGEN_CLI_VERSION" "$WIT_BINDGEN_CLI_FEATURES"
fi
# wasm-tools builds the C component and checks every component's interface.
cargo_tool wasm-tools wasm-tools "$WASM_TOOLS_VERSION" "$WASM_TOOLS_FEATURES"

COMPONENTIZE_PY=""
if wants python-transform; then
    venv="$HERE/python/.venv"
    if command -v componentize-py >/dev/null 2>&1 &&
        [ "$(componentize-py --version 2>/dev/null)" = "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
        COMPONENTIZE_PY="$(command -v componentize-py)"
        echo "componentize-py $COMPONENTIZE_PY_VERSION: present ($COMPONENTIZE_PY)"
    elif [ -x "$venv/bin/componentize-py" ] &&
        [ "$("$venv/bin/componentize-py" --version 2>/dev/null)" = "componentize-py $COMPONENTIZE_PY_VERSION" ]; then
        COMPONENTIZE_PY="$venv/bin/componentize-py"
        echo "componentize-py $COMPONENTIZE_PY_VERSION: present ($COMPONENTIZE_PY)"
    else
        say "installing componentize-py $COMPONENTIZE_PY_VERSION in $venv"
        command -v python3 >/dev/null || die "python3 is needed for componentize-py"
        [ -x "$venv/bin/python" ] || run python3 -m venv "$venv"
        run "$venv/bin/python" -m pip install --disable-pip-version-check -q "componentize-py==$COMPONENTIZE_PY_VERSION"
        COMPONENTIZE_PY="$venv/bin/componentize-py"
    fi
fi

if wants js-transform; then
    command -v npm >/dev/null || die "node and npm are needed for ComponentizeJS"
    lock="$HERE/js/package-lock.json"
    stamp="$HERE/js/node_modules/.package-lock.json"
    # npm writes node_modules/.package-lock.json on install: if it is newer
    # than the committed lock file, node_modules matches it.
    if [ -f "$stamp" ] && [ "$stamp" -nt "$lock" ] && [ -d "$HERE/js/node_modules/@bytecodealliance/componentize-js" ]; then
        echo "js/node_modules: present"
    else
        say "installing ComponentizeJS (npm ci)"
        (cd "$HERE/js" && run npm ci --no-audit --no-fund)
    fi
fi

# --- Rust ----------------------------------------------------------------------
rust_wanted=()
for name in "${RUST_GUESTS[@]}"; do
    wants "$name" && rust_wanted+=("$name")
done
if [ "${#rust_wanted[@]}" -gt 0 ]; then
    say "Rust: ${rust_wanted[*]}"
    pkgs=()
    for name in "${rust_wanted[@]}"; do pkgs+=(-p "$name"); done
    (cd "$HERE/rust" && run cargo build --locked --release --target wasm32-wasip2 "${pkgs[@]}")
    for name in "${rust_wanted[@]}"; do
        built="$HERE/rust/target/wasm32-wasip2/release/${name//-/_}.wasm"
        # Copy only what changed, so that unchanged components keep their mtime.
        cmp -s "$built" "$DIST/$name.wasm" || run cp "$built" "$DIST/$name.wasm"
    done
fi

# --- Python ----------------------------------------------------------------------
if wants python-transform; then
    src="$HERE/python/uppercase"
    hash="$(inputs_hash "$src" "$WIT" -- "componentize-py $COMPONENTIZE_PY_VERSION")"
    if up_to_date python-transform "$hash"; then
        say "Python: python-transform is up to date"
    else
        say "Python: python-transform (componentize-py, about a minute)"
        unmark python-transform
        (cd "$src" && run "$COMPONENTIZE_PY" -d "$WIT" -w transform componentize app -o "$DIST/python-transform.wasm")
        mark_built python-transform "$hash"
    fi
fi

# --- JavaScript ------------------------------------------------------------------
if wants js-transform; then
    src="$HERE/js/tag-transform"
    hash="$(inputs_hash "$src" "$WIT" "$HERE/js/build.mjs" "$HERE/js/package-lock.json" --)"
    if up_to_date js-transform "$hash"; then
        say "JavaScript: js-transform is up to date"
    else
        say "JavaScript: js-transform (ComponentizeJS, about a minute)"
        unmark js-transform
        (cd "$HERE/js" && run node build.mjs tag-transform/transform.js transform "$DIST/js-transform.wasm")
        mark_built js-transform "$hash"
    fi
fi

# --- C ---------------------------------------------------------------------------
if wants c-filter; then
    src="$HERE/c/prefix-filter"
    hash="$(inputs_hash "$src" "$WIT" "$HERE/c/wasi-adapter/Cargo.toml" "$HERE/c/wasi-adapter/Cargo.lock" "$HERE/c/wasi-adapter/src" -- \
        "wit-bindgen $WIT_BINDGEN_CLI_VERSION" "wasm-tools $WASM_TOOLS_VERSION" "clang $LLVM_VERSION")"
    if up_to_date c-filter "$hash"; then
        say "C: c-filter is up to date"
    else
        say "C: c-filter (clang-$LLVM_VERSION, wasm32-wasi + preview1 adapter)"
        unmark c-filter
        run make -C "$src" WIT="$WIT" LLVM_VERSION="$LLVM_VERSION" OUT="$DIST/c-filter.wasm" \
            ADAPTER_TOOL="$HERE/c/wasi-adapter"
        mark_built c-filter "$hash"
    fi
fi

# --- check -----------------------------------------------------------------------
say "checking the components' interfaces"
for name in "${WANT[@]}"; do
    file="$DIST/$name.wasm"
    wit="$(wasm-tools component wit "$file")" || die "$file is not a valid component"
    case "$name" in
    webhook-hmac) exports=(init deliver) ;;
    *) exports=(init transform) ;;
    esac
    for fn in "${exports[@]}"; do
        grep -qE "^  export $fn: func" <<<"$wit" || die "$name does not export '$fn'"
    done
    bad="$(grep -E '^  import ' <<<"$wit" | grep -vE '^  import (wasi:|kurrent:connector/(logging|types)@)' || true)"
    [ -z "$bad" ] || die "$name has unexpected imports: $bad"
    printf '%-18s %9s bytes  ok\n' "$name" "$(wc -c <"$file")"
done
say "done: $DIST"
