# Shared by the scripts that build test components from pinned Go modules
# (scripts/build-envtest, scripts/build-e2e). Source it; it defines functions only.

# The directory binaries are cached under: $CARGO_TARGET_DIR, else <repo>/target,
# always absolute.
target_dir() { # <repo>
    local target="${CARGO_TARGET_DIR:-$1/target}"
    [[ "$target" = /* ]] || target="$1/$target"
    printf '%s\n' "$target"
}

# The version a go.mod selects for a module, read from the file itself (no module
# download, so it is cheap enough for the cached fast path). Empty when absent.
gomod_version() { # <go.mod> <module path>
    awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}

# -ldflags for binaries built from k8s.io/kubernetes: without them they report
# v0.0.0-master through --version and /version instead of the real release.
kube_version_ldflags() { # <version, e.g. v1.37.2>
    local ver="${1#v}" major minor pkg flags=""
    major="${ver%%.*}"
    minor="${ver#*.}"
    minor="${minor%%.*}"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$1"
        flags+=" -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        # A fixed date keeps the binaries reproducible.
        flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    printf '%s\n' "${flags# }"
}

# Builds Go main packages of one module into a directory, reproducibly
# (CGO_ENABLED=0, -trimpath, -mod=readonly, no VCS stamp). One `go build` compiles
# all of them, so packages they share are compiled once and in parallel. Binaries
# are written to a temporary directory first and renamed into place, so an
# interrupted build never leaves a half-written binary that a later run would trust.
# Packages are given as NAME=IMPORT_PATH; their last path elements must differ.
go_build_into() { # <module dir> <output dir> <ldflags> NAME=IMPORT_PATH...
    local dir="$1" out="$2" ldflags="$3" tmp spec pkgs=()
    shift 3
    for spec in "$@"; do pkgs+=("${spec#*=}"); done
    tmp="$(mktemp -d "$out/.build.XXXXXX")"
    if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS='-mod=readonly -buildvcs=false' \
        go build -trimpath -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}"); then
        rm -rf "$tmp"
        return 1
    fi
    for spec in "$@"; do
        mv -f "$tmp/${spec##*/}" "$out/${spec%%=*}"
    done
    rm -rf "$tmp"
}
