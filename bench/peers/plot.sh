#!/usr/bin/env bash
# Plots of a contention sweep: committed updates/s and p99 commit latency
# against the number of agents on one key (workload cas), log scales, one
# line per system, as SVG and PNG beside the csv.
#   bench/peers/plot.sh CSV [system...]   (default: every system in CSV)
set -euo pipefail
csv=$1
shift
out=$(dirname "$csv")
systems=${*:-$(awk -F, 'NR > 1 && !seen[$1]++ {print $1}' "$csv")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# pngcairo when gnuplot has it, else the plain png terminal.
png_term="pngcairo size 800,480"
gnuplot -e "set terminal pngcairo" >/dev/null 2>&1 || png_term="png size 800,480"
plot_tp="" plot_lat=""
for sys in $systems; do
  awk -F, -v s="$sys" '$1==s && $2=="cas" && $4==1 {print $3, $6, $13}' "$csv" > "$tmp/$sys.dat"
  plot_tp="$plot_tp${plot_tp:+, }'$tmp/$sys.dat' using 1:2 with linespoints title '$sys'"
  plot_lat="$plot_lat${plot_lat:+, }'$tmp/$sys.dat' using 1:3 with linespoints title '$sys'"
done
for fmt in svg png; do
  term=$([ $fmt = svg ] && echo "svg size 800,480" || echo "$png_term")
  # Throughput falls to the right and latency rises: each key goes where
  # its curves are not.
  gnuplot <<GP
set terminal $term
set logscale xy
set grid
set xlabel "agents on one key"
set output "$out/contention-throughput.$fmt"
set ylabel "committed updates/s"
set key bottom left
plot $plot_tp
set output "$out/contention-p99.$fmt"
set ylabel "p99 commit latency (ms)"
set key top left
plot $plot_lat
GP
done
