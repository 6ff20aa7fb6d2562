#!/usr/bin/env bash
# make-dist.sh [--output DIR] [--no-build] [SERVICE...]: one release archive per service under dist/
# (all five when none is named): the binary with the Swift runtime linked statically, its systemd
# unit, an example environment file naming every setting, a README and a MANIFEST of the shared
# libraries it needs beyond a base Debian system. docs/deployment.md says how to use it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$root/deploy/dist"
output="$root/dist"
build=1
services=()
all=(order inventory payment shipping notification)
declare -A port=([order]=8081 [inventory]=8082 [payment]=8083 [shipping]=8084 [notification]=8085)

die() { echo "make-dist: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --output) [ $# -ge 2 ] || die "--output needs a folder"; output="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) [ -n "${port[$1]:-}" ] || die "no service '$1' (one of: ${all[*]})"; services+=("$1"); shift ;;
  esac
done
[ ${#services[@]} -gt 0 ] || services=("${all[@]}")
for tool in tar gzip ldd readelf objcopy dpkg-query; do command -v "$tool" >/dev/null || die "needs $tool"; done

version="$(tr -d '[:space:]' < "$root/VERSION")"
commit="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit-modified"; fi
arch="$(dpkg --print-architecture)"
prefix=/opt/troupe
# What every Debian system has (debootstrap --variant=minbase): never listed as to install.
base="libc6 libgcc-s1 libstdc++6 zlib1g"

cd "$root"
if [ "$build" = 1 ]; then
  # The same flags as `make up` (the Makefile's RELEASE), so that the two share one build.
  for service in "${services[@]}"; do swift build -c release --static-swift-stdlib --product "$service-service"; done
fi
bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"
mkdir -p "$output"

for service in "${services[@]}"; do
  binary="$bin/$service-service"
  [ -x "$binary" ] || die "no $binary: build it first (without --no-build)"
  name="troupe-$service-$version"
  stage="$(mktemp -d)"
  trap 'rm -rf "$stage"' EXIT
  mkdir -p "$stage/$name/bin"

  # The binary, without its DWARF (a tenth of the size) but with its symbols, so that a crash's
  # backtrace still names functions.
  objcopy --strip-debug "$binary" "$stage/$name/bin/$service-service"

  # The shared libraries the binary names (apt brings what they need in turn), each with the Debian
  # package that carries it; the ones beyond a minimal Debian system are what to install.
  resolved="$(ldd "$binary")"
  if grep -Eq 'lib(swift|Foundation|_FoundationICU|dispatch|BlocksRuntime)' <<< "$resolved"; then
    die "$service-service loads the Swift runtime from shared libraries: build with --static-swift-stdlib"
  fi
  libraries=""
  packages=()
  for library in $(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path="$(awk -v lib="$library" '$1 == lib && $2 == "=>" { print $3 } $1 ~ "/" lib "$" { print $1 }' <<< "$resolved")"
    [ -n "$path" ] && [ "$path" != "not" ] || die "$service-service needs $library, which this machine lacks"
    package="$(dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "$(readlink -f "$path")" 2>/dev/null || true)"
    package="${package%%:*}"
    [ -n "$package" ] || die "no Debian package carries $path"
    where="install"
    if [[ " $base " == *" $package "* ]]; then where="base system"; fi
    if [ "$where" = install ] && [[ " ${packages[*]} " != *" $package "* ]]; then packages+=("$package"); fi
    libraries+="  $library  $package ($where)"$'\n'
  done

  sed -e "s|@SERVICE@|$service|g" -e "s|@PREFIX@|$prefix/$service|g" \
    "$here/troupe-service.service.in" > "$stage/$name/troupe-$service.service"
  "$binary" --environment-example > "$stage/$name/$service.env"
  sed -e "s|@SERVICE@|$service|g" -e "s|@PREFIX@|$prefix/$service|g" -e "s|@VERSION@|$version|g" \
    -e "s|@ARCH@|$arch|g" -e "s|@PORT@|${port[$service]}|g" -e "s|@PACKAGES@|${packages[*]}|g" \
    "$here/README.md.in" > "$stage/$name/README.md"
  {
    echo "service: $service"
    echo "version: $version"
    echo "commit: $commit"
    echo "architecture: $arch"
    echo "built on: $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "binary: bin/$service-service (Swift runtime linked statically)"
    echo "install: ${packages[*]}"
    echo "libraries:"
    printf '%s' "$libraries"
  } > "$stage/$name/MANIFEST"

  archive="$output/$name-linux-$arch.tar.gz"
  tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$archive.tmp" "$name"
  mv "$archive.tmp" "$archive"
  rm -rf "$stage"
  trap - EXIT
  echo "$archive"
done
