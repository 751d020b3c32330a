#!/usr/bin/env bash
# Installs a released rekey: the archive .github/workflows/release.yml attaches to the
# GitHub release of VERSION for this machine, its SHA-256 checked before it is unpacked.
# The GitHub Action runs it; anyone may.
#
#   REKEY_RELEASES=https://github.com/OWNER/rekey/releases/download install-rekey.sh VERSION DIR
#
# REKEY_RELEASES is the base of the release downloads: any URL curl reads, file:// too.
# The platform is `uname -s` / `uname -m`, or REKEY_OS / REKEY_ARCH when set.
# Exit status: 0 DIR/rekey is installed; 3 there is no released binary for VERSION on this
# platform (VERSION is not a release tag, the platform has none, or the release has no
# such archive), so the caller compiles rekey instead; 1 anything else, a checksum that
# does not match included, and nothing is installed then.
set -euo pipefail

usage="usage: REKEY_RELEASES=URL install-rekey.sh VERSION DIR"
version=${1:?$usage}
dir=${2:?$usage}
releases=${REKEY_RELEASES:?$usage}
os=${REKEY_OS:-$(uname -s)}
arch=${REKEY_ARCH:-$(uname -m)}

no_release() {
  echo "install-rekey: $1; compile rekey instead" >&2
  exit 3
}

refuse() {
  echo "install-rekey: error: $1; nothing was installed" >&2
  exit 1
}

# The release's target for a platform as uname names it (the workflow's build matrix).
case "$os/$arch" in
  Linux/x86_64 | Linux/amd64) target=x86_64-unknown-linux-musl ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
  Darwin/x86_64) target=x86_64-apple-darwin ;;
  Darwin/arm64 | Darwin/aarch64) target=aarch64-apple-darwin ;;
  *) no_release "no released binary for $os/$arch" ;;
esac

# Releases are tagged vMAJOR.MINOR.PATCH (maybe -PRERELEASE); a branch or a commit is not.
if ! [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  no_release "$version is not a release tag"
fi

archive="rekey-$version-$target"
url="$releases/$version/$archive.tar.gz"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

if ! curl --fail --silent --show-error --location --retry 3 \
  --output "$scratch/$archive.tar.gz" "$url"; then
  no_release "no release archive at $url"
fi
# An archive whose checksum cannot be read is refused, never installed unverified.
curl --fail --silent --show-error --location --retry 3 \
  --output "$scratch/$archive.tar.gz.sha256" "$url.sha256" ||
  refuse "cannot download $url.sha256"

read -r expected named < "$scratch/$archive.tar.gz.sha256" || true
if ! [[ ${expected:-} =~ ^[0-9a-f]{64}$ ]] || [ "${named:-}" != "$archive.tar.gz" ]; then
  refuse "$url.sha256 does not hold the SHA-256 of $archive.tar.gz"
fi
if command -v sha256sum > /dev/null; then
  actual=$(sha256sum "$scratch/$archive.tar.gz")
else
  actual=$(shasum -a 256 "$scratch/$archive.tar.gz")
fi
actual=${actual%% *}
if [ "$actual" != "$expected" ]; then
  refuse "checksum mismatch for $url: SHA-256 $actual, the release says $expected"
fi

tar -xzf "$scratch/$archive.tar.gz" -C "$scratch" "$archive/rekey" ||
  refuse "$archive.tar.gz holds no $archive/rekey"
mkdir -p "$dir"
cp "$scratch/$archive/rekey" "$dir/rekey"
chmod 755 "$dir/rekey"
echo "Installed rekey $version ($target) from $url, SHA-256 $actual verified"
