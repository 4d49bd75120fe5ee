#!/bin/sh
# Installs an Outpost release bundle as a systemd service (docs/deploy.md). POSIX sh: no Node needed.
#
#   sh install.sh [--prefix DIR] [BUNDLE.tar.gz]
#
# Without BUNDLE it installs the unpacked bundle it lies in. It checks every file against SHA256SUMS, copies
# the release to <prefix>/opt/outpost/releases/<version>, installs the launcher outpost-boot in
# <prefix>/opt/outpost/bin, points <prefix>/opt/outpost/current at the release (one rename; a recorded
# update is forgotten), creates the `outpost` system user in the dialout and gpio groups, puts a manifest in
# /etc/outpost/ (never replacing one), keeps state in /var/lib/outpost and installs the systemd unit.
# Running it again with the same bundle changes nothing. --prefix installs into a folder (tests): no user
# is created, nothing is chowned and systemd is not told.
set -eu

prefix=""
bundle=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$bundle" ] || { echo "install.sh: one bundle at a time" >&2; exit 2; }; bundle=$1; shift ;;
  esac
done
if [ -n "$prefix" ]; then
  mkdir -p "$prefix"
  prefix=$(cd "$prefix" && pwd)
fi

say () { echo "install.sh: $*"; }
fail () { echo "install.sh: $*" >&2; exit 1; }

base="$prefix/opt/outpost"
mkdir -p "$base/releases"
work=""
cleanup () { [ -z "$work" ] || rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

if [ -n "$bundle" ]; then
  [ -f "$bundle" ] || fail "no bundle file $bundle"
  work=$(mktemp -d "$base/.install.XXXXXX")
  tar -xzf "$bundle" -C "$work" --no-same-owner || fail "$bundle is not a readable gzip'd tar"
  set -- "$work"/*
  [ $# -eq 1 ] && [ -d "$1" ] || fail "$bundle does not hold exactly one folder"
  src=$1
else
  src=$(cd "$(dirname "$0")" && pwd)
fi
[ -f "$src/release.json" ] && [ -f "$src/SHA256SUMS" ] || fail "$src is not a release bundle (no release.json or SHA256SUMS)"

# release.json is written with two-space indents: the top level's "version" is the one at that depth
version=$(sed -n 's/^  "version": "\([^"]*\)",$/\1/p' "$src/release.json")
case "$version" in
  ''|.*|*/*|*[!0-9A-Za-z.+_-]*) fail "$src/release.json names no valid version" ;;
esac
(cd "$src" && sha256sum --quiet --strict -c SHA256SUMS) || fail "files in $src do not match SHA256SUMS: the bundle is damaged"

dest="$base/releases/$version"
if [ -d "$dest" ]; then
  cmp -s "$src/release.json" "$dest/release.json" || fail "another release named $version is installed in $dest"
  say "release $version is already in $dest"
else
  # copied under a temporary name and renamed: a cut-off copy is never taken for a release
  rm -rf "$dest.partial"
  cp -R "$src" "$dest.partial"
  mv "$dest.partial" "$dest"
  say "release $version copied to $dest"
fi

etc="$prefix/etc/outpost"
state="$prefix/var/lib/outpost"
mkdir -p "$etc" "$state" "$prefix/etc/systemd/system" "$base/bin"
chmod 0750 "$etc" "$state"

# the launcher lives outside the releases (an update never replaces it): copied and renamed into place
if ! cmp -s "$dest/outpost-boot" "$base/bin/outpost-boot"; then
  cp "$dest/outpost-boot" "$base/bin/outpost-boot.new"
  chmod 0755 "$base/bin/outpost-boot.new"
  mv "$base/bin/outpost-boot.new" "$base/bin/outpost-boot"
  say "launcher $base/bin/outpost-boot installed"
fi

# `current` is replaced by one rename, so it always points at a whole release; a release installed by hand
# ends whatever update was recorded (outpost-boot would otherwise finish or undo it)
if [ "$(readlink "$base/current" || true)" != "releases/$version" ]; then
  rm -f "$state/update.json" "$state/update.boots"
  ln -sfn "releases/$version" "$base/current.new"
  mv -T "$base/current.new" "$base/current"
fi
say "$base/current -> releases/$version"
if [ -e "$etc/gateway.json" ]; then
  say "keeping the manifest $etc/gateway.json"
else
  cp "$dest/default-gateway.json" "$etc/gateway.json"
  say "manifest $etc/gateway.json written (edit it, then restart outpost)"
fi
cp "$dest/outpost.service" "$prefix/etc/systemd/system/outpost.service.new"
chmod 0644 "$prefix/etc/systemd/system/outpost.service.new"
mv "$prefix/etc/systemd/system/outpost.service.new" "$prefix/etc/systemd/system/outpost.service"

if [ -n "$prefix" ]; then
  say "--prefix given: no outpost user created, nothing chowned, systemd not told"
  exit 0
fi

if ! getent passwd outpost >/dev/null; then
  useradd --system --user-group --home-dir /var/lib/outpost --no-create-home --shell /usr/sbin/nologin outpost
  say "system user outpost created"
fi
for group in dialout gpio; do
  if getent group "$group" >/dev/null; then usermod -a -G "$group" outpost; else say "no group $group on this system: skipped"; fi
done
chown -R outpost:outpost "$base" "$etc" "$state"
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable outpost.service
  say "enabled; start it with: systemctl start outpost (restart it after an install over a running one)"
fi
