#!/bin/bash
# Renders a pare tune report (OUT/report.html) to a PNG with Debian's headless Chromium.
# usage: scripts/screenshot_report.sh REPORT.html OUT.png [WIDTH HEIGHT]
set -euo pipefail
html="$(realpath "$1")"
png="$2"
w="${3:-1240}"
h="${4:-1600}"
exe="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$exe" ] || { echo "screenshot_report: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
mkdir -p "$(dirname "$png")"
"$exe" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$w,$h" \
  --screenshot="$(realpath -m "$png")" "file://$html" 2>/dev/null
echo "wrote $png"
