#!/usr/bin/env bash
# Media relay benchmark: causeway's RTP relay against rtpengine's userspace relay, driven by
# the same generator (../shared/bench/rtpengine/rtpgen.c: paced 172-byte RTP, 50 pps per
# stream, both directions, all on 127.0.0.1), step by step in the same run.
#
# For each RATE in RATES (aggregate packets/s, both directions together; RATE/100 calls):
#   causeway:  media/examples/relay_bench sets up the calls (sides A and B on
#              127.0.0.1:BASE+2i and BASE+2i+1, as ng.py does) and writes the map; rtpgen runs
#              against it and reads the relay's CPU from /proc/PID/stat over the measured window.
#   rtpengine: (MODE both or rtpengine) the steps of ../shared/bench/rtpengine/run.sh: one
#              rtpengine (table=-1, no kernel forwarding) for the whole run, calls set up and
#              deleted per step with ng.py, the same rtpgen.
# Each line: achieved send rate, loss over the whole run, relay CPU % and CPU us per packet in
# the DUR window (utime+stime of all the relay's threads from /proc/PID/stat, as rtpgen reads
# it; "sched" is the same from /proc/PID/task/*/schedstat, nanosecond run time that tick
# sampling cannot bias; on this kernel loopback delivery into the receiving socket is charged
# to the sender, so both relays pay for delivering what they send), then the ratio
# causeway/rtpengine of CPU per packet. A step passes with loss < 0.1 %
# and a send rate >= 95 % of the target; a failing step ends that relay's ramp.
#
# Usage: bench/media.sh [causeway|rtpengine|both|layouts]  (default both)
#   layouts: causeway alone, each RATE three times in a row: side B's leg a pair of its own
#            (plain: every SIP and H.323 leg off a traversal link), E's multiplexed pair told
#            apart by source (mux, marked as E's end of a link), a pair of its own marked as E's
#            end of a link (nonmux, H.460.19's non-multiplexed layout); then the ratios of CPU
#            per packet mux/plain and nonmux/plain (traversal media's target: within 10 %).
#            REPEAT=N runs the three N times over, interleaved, and takes each one's median.
#            E's end of a link forwards nothing towards B before B's first packet, so mux and
#            nonmux lose up to one packet per call (A's first): 0.083 % at DUR=10 WARM=2, over
#            the 0.1 % pass rule below DUR=9.
# Knobs: RATES="10000 25000 50000" DUR=10 WARM=2 BASE=20000
#        THREADS=1        causeway relay worker threads (1 = current-thread runtime)
#        CW_PORTS=50000-59999  causeway's relay ports (clear of rtpengine's 40000-47999)
#                         (61000-65535 is clear of the ephemeral range too, when other
#                         programs on the machine bind ports: relay_bench stops on EADDRINUSE)
#        MUX_PORT=30000   layouts: E's multiplexed pair MUX_PORT/+1 (even; clear of BASE's
#                         ports, of CW_PORTS and of the ephemeral range 32768-60999, where
#                         other programs' sockets land; not 36000, which a causeway E may hold)
#        REPEAT=1         layouts: rounds of the three per RATE (ratios of medians)
#        CW_RCVBUF=       causeway's SO_RCVBUF per relay socket in bytes (relay_bench --rcvbuf;
#                         empty: the kernel default, net.core.rmem_default; capped at rmem_max)
#        CW_IO=auto       causeway's relay I/O path (relay_bench --io: auto, io_uring, epoll;
#                         auto is io_uring where the kernel has it)
#        RTPE_THREADS=2   rtpengine num-threads
#        PIN=1            relay on CPU 0, generator on CPU 1 (taskset)
#        KEEP=1           keep the work directory (logs, maps)
#        SYSCALLS=1       also count the relay's system calls in the window (perf stat on the
#                         syscall tracepoints: no ptrace, the relay runs at full speed) and
#                         print them per relayed packet: all, the receives and sends (with
#                         the packets each batched receive returned), the waits, futex
# Needs: apt-get install -y rtpengine-daemon gcc python3; cargo. Honours CARGO_TARGET_DIR.
# Starts its relays itself and stops exactly the PIDs it started.
set -u
MODE="${1:-both}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/bench/rtpengine"
RATES="${RATES:-10000 25000 50000}"
DUR="${DUR:-10}"
WARM="${WARM:-2}"
BASE="${BASE:-20000}"
THREADS="${THREADS:-1}"
CW_PORTS="${CW_PORTS:-50000-59999}"
MUX_PORT="${MUX_PORT:-30000}"
REPEAT="${REPEAT:-1}"
CW_RCVBUF="${CW_RCVBUF:-}"
CW_IO="${CW_IO:-auto}"
RTPE_THREADS="${RTPE_THREADS:-2}"
NG=127.0.0.1:2223
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"

LAYOUTS=0; LAYOUT=plain
[ "$MODE" = layouts ] && { LAYOUTS=1; MODE=causeway; }
case "$MODE" in causeway|rtpengine|both) ;; *) echo "usage: $0 [causeway|rtpengine|both|layouts]" >&2; exit 2 ;; esac
need="gcc python3"; [ "$MODE" != causeway ] && need="$need rtpengine"
for bin in $need; do
    command -v "$bin" >/dev/null || { echo "missing $bin: apt-get install -y rtpengine-daemon gcc python3" >&2; exit 2; }
done
[ -f "$SHARED/rtpgen.c" ] || { echo "missing $SHARED/rtpgen.c" >&2; exit 2; }
if [ "$MODE" != causeway ]; then
    for p in 2223 2224; do
        if ss -Hlun "sport = :$p" | grep -q .; then echo "UDP port $p is busy" >&2; exit 2; fi
    done
fi
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK="$(mktemp -d /tmp/mediabench.XXXXXX)"
CW_PID=""; RTPE_PID=""; GEN_PID=""
stop_pid() {  # $1 pid: TERM, up to 5 s, then KILL; only ever a PID this script started
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 0
}
cleanup() {
    stop_pid "$GEN_PID"; stop_pid "$CW_PID"; stop_pid "$RTPE_PID"
    GEN_PID=""; CW_PID=""; RTPE_PID=""
    if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -Wall -pthread -o "$WORK/rtpgen" "$SHARED/rtpgen.c" || exit 2
if [ "$MODE" != rtpengine ]; then
    (cd "$ROOT" && cargo build --release -q -p causeway-media --example relay_bench) || exit 2
    RELAY_BENCH="$TARGET/release/examples/relay_bench"
fi

RPIN=""; GPIN=""
if [ "${PIN:-0}" = 1 ]; then RPIN="taskset -c 0"; GPIN="taskset -c 1"; fi

start_rtpengine() {
    $RPIN rtpengine --config-file="$SHARED/rtpengine.conf" --config-section=bench \
        --num-threads="$RTPE_THREADS" >"$WORK/rtpengine.log" 2>&1 &
    RTPE_PID=$!
    for _ in $(seq 50); do
        python3 "$SHARED/ng.py" ping --ng "$NG" >/dev/null 2>&1 && break
        kill -0 "$RTPE_PID" 2>/dev/null || { echo "rtpengine died:"; cat "$WORK/rtpengine.log"; exit 1; }
        sleep 0.2
    done
    echo "# rtpengine $(dpkg-query -W -f='${Version}' rtpengine-daemon 2>/dev/null) pid $RTPE_PID, num-threads=$RTPE_THREADS, table=-1"
}

# CPU time of all threads of $1 in ns, from the scheduler's own clock (/proc/PID/task/*/schedstat)
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }

# run rtpgen on map $1 at rate $2 watching pid $3; sets sent_pps loss_pct watched_cpu_pct
# watched_us_per_pkt gen_cpu_pct gen_us_per_pkt bad (rtpgen's, from /proc/PID/stat in clock
# ticks) and sched_us_per_pkt (the same window read from schedstat in ns: a second opinion that
# tick sampling cannot bias)
SC_EVENTS="raw_syscalls:sys_enter,syscalls:sys_enter_recvmmsg,syscalls:sys_exit_recvmmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_recvmsg,syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_futex,syscalls:sys_enter_io_uring_enter"
generate() {
    $GPIN "$WORK/rtpgen" -m "$1" -r "$2" -d "$DUR" -w "$WARM" -p "$3" >"$WORK/gen.out" &
    GEN_PID=$!
    sleep "$WARM"; local c0; c0=$(cpu_ns "$3")
    local sc_pid=""
    if [ "${SYSCALLS:-0}" = 1 ]; then
        perf stat -x, -e "$SC_EVENTS" -p "$3" -o "$WORK/syscalls" -- sleep "$DUR" 2>/dev/null &
        sc_pid=$!
    fi
    sleep "$DUR"; local c1; c1=$(cpu_ns "$3")
    [ -n "$sc_pid" ] && wait "$sc_pid"
    wait "$GEN_PID"; GEN_PID=""
    sent_pps=0; loss_pct=100; watched_cpu_pct=0; watched_us_per_pkt=0; gen_cpu_pct=0; gen_us_per_pkt=0; bad=0
    eval "$(tr ' ' '\n' <"$WORK/gen.out" | grep -E '^[a-z_]+=[-0-9.]+$')"
    sched_us_per_pkt=$(awk -v a="$c0" -v b="$c1" -v p="$sent_pps" -v d="$DUR" 'BEGIN { printf "%.2f", (p > 0 ? (b - a) / 1000 / (p * d) : 0) }')
}

# prints the step line; returns 1 when the step fails the pass rule
report() {  # $1 name $2 rate $3 calls
    printf '%-9s %7d pps  calls %5d  sent %7.0f/s  loss %7.4f %%  cpu %5.1f %% = %6.2f us/pkt (sched %5.2f)  gen %5.1f %% = %5.2f us/pkt' \
        "$1" "$2" "$3" "$sent_pps" "$loss_pct" "$watched_cpu_pct" "$watched_us_per_pkt" "$sched_us_per_pkt" "$gen_cpu_pct" "$gen_us_per_pkt"
    [ "$bad" != 0 ] && printf '  MISROUTED %s' "$bad"
    if awk -v l="$loss_pct" -v s="$sent_pps" -v r="$2" -v b="$bad" 'BEGIN{exit !(l < 0.1 && s >= 0.95*r && b == 0)}'; then
        echo "  PASS"; syscalls_line; return 0
    else
        echo "  FAIL"; syscalls_line; return 1
    fi
}

# with SYSCALLS=1: the window's system calls per relayed packet (each packet the generator
# sent is received and sent once by the relay)
syscalls_line() {
    [ "${SYSCALLS:-0}" = 1 ] && [ -s "$WORK/syscalls" ] || return 0
    awk -F, -v p="$sent_pps" -v d="$DUR" '
        $3 ~ /:/ { n[$3] = $1 + 0 }
        END {
            pk = p * d; if (pk <= 0) exit
            recv = n["syscalls:sys_enter_recvmmsg"] + n["syscalls:sys_enter_recvmsg"] + n["syscalls:sys_enter_recvfrom"]
            send = n["syscalls:sys_enter_sendmmsg"] + n["syscalls:sys_enter_sendmsg"] + n["syscalls:sys_enter_sendto"]
            wait = n["syscalls:sys_enter_epoll_wait"] + n["syscalls:sys_enter_epoll_pwait"]
            printf "          syscalls/pkt %.3f: recv %.3f (recvmmsg %.3f, %.1f pkts each) send %.3f (sendmmsg %.3f) wait %.3f futex %.3f io_uring_enter %.3f\n",
                n["raw_syscalls:sys_enter"] / pk, recv / pk, n["syscalls:sys_enter_recvmmsg"] / pk,
                (n["syscalls:sys_enter_recvmmsg"] > 0 ? pk / n["syscalls:sys_enter_recvmmsg"] : 0),
                send / pk, n["syscalls:sys_enter_sendmmsg"] / pk, wait / pk, n["syscalls:sys_enter_futex"] / pk,
                n["syscalls:sys_enter_io_uring_enter"] / pk
        }' "$WORK/syscalls"
    rm -f "$WORK/syscalls"
}

step_causeway() {  # $1 rate -> sets cw_us, returns 1 on failure
    local rate=$1 calls=$(( $1 / 100 )) map="$WORK/cw.map"
    rm -f "$map"
    $RPIN "$RELAY_BENCH" --sessions "$calls" --base "$BASE" --map "$map" --threads "$THREADS" \
        --ports "$CW_PORTS" --layout "$LAYOUT" --mux-port "$MUX_PORT" ${CW_RCVBUF:+--rcvbuf "$CW_RCVBUF"} --io "$CW_IO" \
        2>>"$WORK/relay_bench.log" &
    CW_PID=$!
    for _ in $(seq 300); do
        [ -s "$map" ] && break
        kill -0 "$CW_PID" 2>/dev/null || { echo "relay_bench died: $(tail -n 1 "$WORK/relay_bench.log")"; CW_PID=""; return 1; }
        sleep 0.1
    done
    [ -s "$map" ] || { echo "relay_bench wrote no map"; stop_pid "$CW_PID"; CW_PID=""; return 1; }
    generate "$map" "$rate" "$CW_PID"
    stop_pid "$CW_PID"; CW_PID=""
    cw_us=$watched_us_per_pkt; cw_sched=$sched_us_per_pkt
    report "$LAYOUT" "$rate" "$calls"
}

step_rtpengine() {  # $1 rate -> sets re_us, returns 1 on failure
    local rate=$1 calls=$(( $1 / 100 )) map="$WORK/re.map" prefix="m$1"
    python3 "$SHARED/ng.py" setup "$calls" "$map" --prefix "$prefix" --base "$BASE" --ng "$NG" 2>"$WORK/setup.err" \
        || { cat "$WORK/setup.err"; echo "rtpengine setup failed at $rate"; return 1; }
    generate "$map" "$rate" "$RTPE_PID"
    python3 "$SHARED/ng.py" delete "$calls" --prefix "$prefix" --ng "$NG"
    re_us=$watched_us_per_pkt; re_sched=$sched_us_per_pkt
    report rtpengine "$rate" "$calls"
}

echo "# $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), DUR=$DUR WARM=$WARM, causeway THREADS=$THREADS ports $CW_PORTS rcvbuf ${CW_RCVBUF:-default} io $CW_IO, PIN=${PIN:-0}"
# median of the numbers in $1 that are above 0 (a step whose relay never ran counts 0); 0 if none
median() { tr ' ' '\n' <<<"$1" | awk '$1 > 0' | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR ? (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) : 0 }'; }

if [ "$LAYOUTS" = 1 ]; then
    summary=""
    for r in $RATES; do
        all_plain=""; all_mux=""; all_nonmux=""
        for _ in $(seq "$REPEAT"); do
            for LAYOUT in plain mux nonmux; do
                cw_us=0  # a step whose relay never ran counts 0, not the layout before's figure
                step_causeway "$r"
                eval "all_$LAYOUT=\"\$all_$LAYOUT $cw_us\""
            done
        done
        us_plain=$(median "$all_plain"); us_mux=$(median "$all_mux"); us_nonmux=$(median "$all_nonmux")
        line=$(awk -v p="$us_plain" -v m="$us_mux" -v n="$us_nonmux" -v r="$r" -v k="$REPEAT" \
            'BEGIN{ printf "ratio     %7d pps  mux/plain = %.2f  nonmux/plain = %.2f  (%.2f / %.2f / %.2f us%s)", r, (p > 0 ? m / p : 0), (p > 0 ? n / p : 0), p, m, n, (k > 1 ? ", medians of " k : "") }')
        echo "$line"; summary="$summary$line"$'\n'
    done
    printf '# summary\n%s' "$summary"
    exit 0
fi
[ "$MODE" != causeway ] && start_rtpengine
cw_ok=1; re_ok=1; cw_best=0; re_best=0; summary=""
for r in $RATES; do
    cw_us=""; re_us=""; cw_sched=0; re_sched=0
    if [ "$MODE" != rtpengine ] && [ "$cw_ok" = 1 ]; then
        if step_causeway "$r"; then cw_best=$sent_pps; else cw_ok=0; fi
    fi
    if [ "$MODE" != causeway ] && [ "$re_ok" = 1 ]; then
        if step_rtpengine "$r"; then re_best=$sent_pps; else re_ok=0; fi
    fi
    if [ -n "$cw_us" ] && [ -n "$re_us" ]; then
        line=$(awk -v c="$cw_us" -v e="$re_us" -v cs="$cw_sched" -v es="$re_sched" -v r="$r" \
            'BEGIN{ printf "ratio     %7d pps  causeway/rtpengine CPU per packet = %.2f  (%.2f / %.2f us; sched %.2f: %.2f / %.2f us)", r, (e > 0 ? c / e : 0), c, e, (es > 0 ? cs / es : 0), cs, es }')
        echo "$line"; summary="$summary$line"$'\n'
    fi
    [ "$cw_ok" = 0 ] && [ "$re_ok" = 0 ] && break
    [ "$MODE" = causeway ] && [ "$cw_ok" = 0 ] && break
    [ "$MODE" = rtpengine ] && [ "$re_ok" = 0 ] && break
done
[ "$MODE" != rtpengine ] && echo "# causeway: highest passing step, achieved aggregate rate: $cw_best pps"
[ "$MODE" != causeway ] && echo "# rtpengine: highest passing step, achieved aggregate rate: $re_best pps"
[ -n "$summary" ] && printf '# summary\n%s' "$summary"
exit 0
