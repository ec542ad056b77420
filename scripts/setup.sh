#!/usr/bin/env bash
# What the tests need beyond Node.js: the npm packages, redis-server, Chromium,
# nginx, curl and python3. Installs whatever is missing when it can (root with apt-get);
# otherwise stops at once with one line naming what to install. Run by
# `npm test` (pretest) and by .ci/run; quiet when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Whether any of the given paths is an executable file (or a name on the PATH).
found() {
  local candidate
  for candidate in "$@"; do
    [ -n "$candidate" ] || continue
    if [ -x "$candidate" ] || command -v "$candidate" >/dev/null 2>&1; then return 0; fi
  done
  return 1
}

# The same places the tests look (test/helpers/redis-server.ts, test/browser/shop.test.ts, test/ops/nginx.test.ts).
missing=()
found redis-server || missing+=(redis-server)
found "${CHROMIUM_PATH:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome-stable /usr/bin/google-chrome || missing+=(chromium)
found "${NGINX_PATH:-}" /usr/sbin/nginx /usr/local/sbin/nginx /usr/local/nginx/sbin/nginx || missing+=(nginx-light)
# The example tests run the README's curl flow and docs/integrating.md's Python.
found curl || missing+=(curl)
found python3 || missing+=(python3)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: missing ${missing[*]}: install with \`sudo apt-get install ${missing[*]}\` (or your system's packages), then run npm test again" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  # Debian starts a service when its package is installed (nginx on :80, redis on :6379);
  # the tests start their own, so forbid that for this install unless a policy is already in place.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/tap ]; then
  echo "setup: installing the npm packages (npm ci)"
  npm ci --no-audit --no-fund
fi
