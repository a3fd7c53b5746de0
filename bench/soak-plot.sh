#!/usr/bin/env bash
# Plots a soak run (bench/soak.sh's samples.csv) as an SVG: RSS in MB of
# chatload and of the mock against the lifecycles completed so far, with the
# warm-up boundary marked. Flat lines after the warm-up are flat memory.
# No dependencies beyond awk.
#
# Usage: bench/soak-plot.sh SAMPLES.csv [OUT.svg] [WARMUP_SECONDS]
#        (OUT defaults to SAMPLES.csv with .svg; WARMUP to 120)
set -euo pipefail
[[ $# -ge 1 ]] || { sed -n '2,8p' "$0" >&2; exit 2; }
csv=$1
out=${2:-${csv%.csv}.svg}
warmup=${3:-120}
[[ -r $csv ]] || { echo "soak-plot: cannot read $csv" >&2; exit 2; }
awk -F, -v warmup="$warmup" '
NR == 1 { next }
{ n++; s[n] = $1; x[n] = $2; c[n] = $3 / 1e6; m[n] = $4 / 1e6
  if ($2 > xmax) xmax = $2
  if (c[n] > ymax) ymax = c[n]
  if (m[n] > ymax) ymax = m[n]
  if (!wx && $1 >= warmup) wx = $2 }
END {
  if (n < 2) { print "soak-plot: fewer than two samples" > "/dev/stderr"; exit 2 }
  W = 720; H = 360; L = 70; R = 20; T = 30; B = 50
  ymax = (int(ymax / 20) + 1) * 20; if (xmax == 0) xmax = 1
  printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
  printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
  printf "<text x=\"%d\" y=\"18\" font-size=\"14\">Soak: resident memory against completed chat lifecycles</text>\n", L
  for (i = 0; i <= 4; i++) {
    v = ymax * i / 4; y = T + (H - T - B) * (1 - i / 4)
    printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, W - R, y, y
    printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g MB</text>\n", L - 6, y + 4, v
    xv = xmax * i / 4; xx = L + (W - L - R) * i / 4
    printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", xx, H - B + 18, xv
  }
  printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">completed lifecycles</text>\n", (L + W - R) / 2, H - 10
  if (wx) {
    xx = L + (W - L - R) * wx / xmax
    printf "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n", xx, xx, T, H - B
    printf "<text x=\"%.1f\" y=\"%d\" fill=\"#666\">end of warm-up (%d s)</text>\n", xx + 4, T + 12, warmup
  }
  line(x, c, "#1f77b4"); line(x, m, "#d62728")
  printf "<text x=\"%d\" y=\"%d\" fill=\"#1f77b4\">chatload</text>\n", W - R - 130, H - B - 30
  printf "<text x=\"%d\" y=\"%d\" fill=\"#d62728\">mock</text>\n", W - R - 130, H - B - 14
  print "</svg>"
}
function line(xs, ys, color,   i, pts) {
  pts = ""
  for (i = 1; i <= n; i++)
    pts = pts sprintf("%.1f,%.1f ", L + (W - L - R) * xs[i] / xmax, T + (H - T - B) * (1 - ys[i] / ymax))
  printf "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"%s\"/>\n", color, pts
}' "$csv" > "$out"
echo "soak-plot: $out"
