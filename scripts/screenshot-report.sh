#!/usr/bin/env bash
# Render a theme report's HTML in headless Chromium to a PNG, to look at it as a reader would.
#
#   scripts/screenshot-report.sh [REPORT_HTML] [OUT_PNG] [WIDTH] [HEIGHT]
#   (defaults: semclust-report/themes.html, semclust-report/themes.png, 1280, 3600)
#
# Needs Debian's chromium (`apt-get install chromium`). The flags keep Chromium off the network:
# the report is self-contained and must render without it.
set -euo pipefail
HTML=${1:-semclust-report/themes.html}
PNG=${2:-${HTML%.html}.png}
W=${3:-1280}
H=${4:-3600}
BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ]; then
    echo "chromium not found: install it (Debian: apt-get install chromium)" >&2
    exit 1
fi
[ -f "$HTML" ] || { echo "$HTML: no such report; write one with \`semclust report\`" >&2; exit 1; }
PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
"$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$PROFILE" --hide-scrollbars --window-size="$W,$H" \
    --screenshot="$(realpath -m "$PNG")" "file://$(realpath "$HTML")" 2>/dev/null
echo "$PNG"
