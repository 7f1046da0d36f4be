#!/usr/bin/env bash
# Exercise a theme report's script in headless Chromium, as a reader's clicks and keys would:
# the search box, a legend toggle, the article filter, keyboard focus on points, zoom, and the
# article table's fold. Prints one JSON object of what the page did.
#
#   scripts/check-report-js.sh REPORT_HTML [QUERY]
#
# Needs Debian's chromium. The page is copied with a driver script appended; Chromium stays off
# the network.
set -euo pipefail
HTML=${1:?report html}
QUERY=${2:-debian}
BROWSER=$(command -v chromium || command -v chromium-browser || true)
[ -n "$BROWSER" ] || { echo "chromium not found (apt-get install chromium)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp "$HTML" "$WORK/page.html"
cat >>"$WORK/page.html" <<JS
<script>
(function () {
  var r = {}, svg = document.querySelector('svg.map');
  var pts = svg.querySelectorAll('.point');
  r.points = pts.length;
  var find = document.getElementById('find');
  find.value = '$QUERY'; find.dispatchEvent(new Event('input'));
  r.search = document.getElementById('match-count').textContent;
  r.highlighted = svg.querySelectorAll('.point.match').length;
  find.value = ''; find.dispatchEvent(new Event('input'));
  var b = document.querySelector('.legend button');
  b.click();
  r.hidden_after_toggle = Array.prototype.filter.call(pts, function (p) { return p.style.display === 'none'; }).length;
  r.theme_1_points = svg.querySelectorAll('.point.t1').length;
  b.click();
  var sel = document.getElementById('article');
  sel.value = '1'; sel.dispatchEvent(new Event('change'));
  r.article_filter = document.getElementById('match-count').textContent;
  sel.value = ''; sel.dispatchEvent(new Event('change'));
  svg.focus();
  svg.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
  svg.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }));
  r.focused = document.activeElement.getAttribute('data-id');
  r.panel = document.getElementById('detail').textContent.slice(0, 80);
  var before = svg.getAttribute('viewBox');
  document.getElementById('zoom-in').click();
  r.zoomed = before !== svg.getAttribute('viewBox');
  var more = document.getElementById('table-more');
  r.folded_rows = document.querySelectorAll('tr.folded').length;
  if (more) { more.click(); r.folded_after_show_all = document.querySelectorAll('tr.folded').length; }
  var pre = document.createElement('pre'); pre.id = 'check-result'; pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
})();
</script>
JS
"$BROWSER" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile" --dump-dom "file://$WORK/page.html" 2>/dev/null |
    python3 -c 'import html, re, sys
m = re.search(r"<pre id=\"check-result\">(.*?)</pre>", sys.stdin.read(), re.S)
print(html.unescape(m.group(1)) if m else "no result: the page script failed")'
