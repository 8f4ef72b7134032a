# bench/cdf.gp - latency CDF of one scenario, tern against mosquitto.
# Called by bench/compare.sh --plots:
#   gnuplot -e "tern='T.txt'; mosq='M.txt'; out='cdf-NAME.png'; name='NAME'" cdf.gp
# Input files are tern-bench --cdf output: "microseconds fraction" lines.
set terminal pngcairo size 900,560 noenhanced
set output out
set title sprintf("%s: end-to-end latency CDF (tern-bench)", name)
set xlabel "latency (microseconds, log scale)"
set ylabel "fraction of messages"
set logscale x
set yrange [0:1]
set grid
set key bottom right
plot tern with lines lw 2 title "tern", \
     mosq with lines lw 2 title "mosquitto"
