# Shared by the SIP proxy benchmarks (bench/cps.sh, bench/flood.sh), sourced: builds causeway,
# starts and stops causeway, Kamailio and the sipp UAS, registers the UAS contact, reads a
# process's CPU and memory. Owns no measurement and prints nothing of its own.
#
# The sourcing script sets: ROOT, SHARED (../shared/bench/kamailio), IP, WORK, PROXY_PORT,
# UAS_PORT, UAC_PORT, REG_PORT, CHILDREN; optionally ADMIN_EXTRA ([admin] lines), CW_PROTECTION (the
# [protection] section; default: a budget no load generator reaches), CW_EXTRA (more sections),
# KAM_CFG (default: $SHARED/kamailio.cfg), REG_PASSWORD (answer a 401 to the UAS REGISTER),
# CW_UDP_IO ([sip] udp_io: auto, io_uring or epoll; default auto), CW_UDP_BATCH_US ([sip]
# udp_batch_us; unset: the node's default, and no line a build without the setting refuses),
# CW_THREADS ([sip] threads: 1, or 2 for the UDP ring on a thread of its own; unset: the default).

PROXY_PID=""; UAS_PID=""; UAC_PID=""; PROXY_ALL=""; PROXY_COMM=""
HZ=$(getconf CLK_TCK)

build_causeway() {   # sets CAUSEWAY (CW_BIN: that binary instead of building one)
    if [ -n "${CW_BIN:-}" ]; then CAUSEWAY="$CW_BIN"; return; fi
    (cd "$ROOT" && cargo build --release -q -p causeway) || exit 2
    CAUSEWAY="${CARGO_TARGET_DIR:-$ROOT/target}/release/causeway"
}

# signal $1 to PID $2 only while it is still the program named $3 (never a reused PID)
kill_ours() { [ -n "$2" ] && [ "$(cat /proc/$2/comm 2>/dev/null)" = "$3" ] && kill "-$1" "$2" 2>/dev/null; }

stop_proxy() {
    kill_ours TERM "$PROXY_PID" "$PROXY_COMM"; sleep 1
    for pid in $PROXY_ALL; do kill_ours KILL "$pid" "$PROXY_COMM"; done
    PROXY_PID=""; PROXY_ALL=""
}

ticks() {   # utime+stime of the given PIDs (all threads), in clock ticks (HZ)
    stat_ticks all "$@"
}

stime_ticks() {   # stime alone (time in the kernel) of the given PIDs, in clock ticks (HZ)
    stat_ticks kernel "$@"
}

stat_ticks() {   # $1: all or kernel; then PIDs
    local what=$1 t=0 pid f
    shift
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        f=$(sed 's/^.*) //' "/proc/$pid/stat"); set -- $f
        if [ "$what" = all ]; then t=$(( t + ${12} + ${13} )); else t=$(( t + ${13} )); fi
    done
    echo "$t"
}

# each thread of the given PIDs: "pid/tid name run-time-ns" (the scheduler's clock,
# /proc/PID/task/TID/schedstat), one per line
thread_ns() {
    local pid t
    for pid in "$@"; do
        for t in /proc/"$pid"/task/*; do
            [ -r "$t/schedstat" ] || continue
            echo "$pid/${t##*/} $(tr ' ' '_' <"$t/comm") $(cut -d' ' -f1 "$t/schedstat")"
        done
    done
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

pss_kb() {   # proportional set size of the given PIDs together (shared pages counted once)
    local t=0 pid v
    for pid in "$@"; do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
        t=$(( t + ${v:-0} ))
    done
    echo "$t"
}

start_uas() {
    sipp -sf "$SHARED/uas.xml" -i $IP -p "$UAS_PORT" -nostdin -buff_size 4194304 \
        -trace_err -error_file "$WORK/uas_err.log" >"$WORK/uas.out" 2>&1 &
    UAS_PID=$!
}

start_uac() {   # $1=label $2=calls/s $3=calls: sipp UAC in the background (UAC_PID), stats in $WORK/uac_$1_$2.csv
    sipp "$IP:$PROXY_PORT" -sf "$SHARED/uac.xml" -s service -i $IP -p "$UAC_PORT" -r "$2" -m "$3" -d 100 \
        -nostdin -buff_size 4194304 -recv_timeout 10000 -timeout $(( $3 / $2 + 60 ))s \
        -trace_stat -stf "$WORK/uac_$1_$2.csv" -fd 1 >"$WORK/uac_$1_$2.out" 2>&1 &
    UAC_PID=$!
}

register_service() {   # $1: the UDP port of the node the UAS registers with
    # the UAS answers for service@example.com; a 401 is answered with REG_PASSWORD (MD5 digest).
    # The headers a real UA sends: a REGISTER shorter than its challenge gets none over UDP
    # from causeway ([protection] amplification_limit)
    python3 - "$IP" "$1" "$UAS_PORT" "$REG_PORT" "${REG_PASSWORD:-}" <<'PY' || { echo "REGISTER failed"; exit 1; }
import hashlib, re, socket, sys
ip, proxy, uas, reg, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((ip, reg)); s.settimeout(3)
def register(cseq, auth=""):
    s.sendto((f"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ip}:{reg};branch=z9hG4bKbenchreg{cseq}\r\n"
              f"Max-Forwards: 70\r\nFrom: <sip:service@example.com>;tag=b\r\nTo: <sip:service@example.com>\r\n"
              f"Call-ID: bench-register\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:service@{ip}:{uas}>\r\n"
              f"Expires: 3600\r\nUser-Agent: causeway-bench sipp UAS registration 1.0\r\n"
              f"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, MESSAGE, NOTIFY, REFER\r\n"
              f"Accept: application/sdp, application/dtmf-relay, text/plain\r\n"
              f"{auth}Content-Length: 0\r\n\r\n").encode(), (ip, proxy))
    return s.recv(65536).decode("latin-1")
r = register(1)
if r.startswith("SIP/2.0 401") and password:
    md5 = lambda x: hashlib.md5(x.encode()).hexdigest()
    ch = [l for l in r.split("\r\n") if l.lower().startswith("www-authenticate:")]
    ch = next((l for l in ch if "MD5" in l.upper() or "ALGORITHM" not in l.upper()), ch[-1])
    realm, nonce = (re.search(k + r'="([^"]*)"', ch).group(1) for k in ("realm", "nonce"))
    ha1, ha2, uri = md5(f"service:{realm}:{password}"), md5("REGISTER:sip:example.com"), "sip:example.com"
    if "qop=" in ch:
        resp, extra = md5(f"{ha1}:{nonce}:00000001:bench:auth:{ha2}"), ', qop=auth, nc=00000001, cnonce="bench"'
    else:
        resp, extra = md5(f"{ha1}:{nonce}:{ha2}"), ""
    r = register(2, f'Authorization: Digest username="service", realm="{realm}", nonce="{nonce}", '
                    f'uri="{uri}", response="{resp}", algorithm=MD5{extra}\r\n')
sys.exit(0 if r.startswith("SIP/2.0 200") else 1)
PY
}

start_causeway() {
    local CW_PROTECTION=${CW_PROTECTION:-$'[protection]\n# the load generators share one address: a budget no run reaches (the guard still counts)\nmessages_per_second = 1000000'}
    cat >"$WORK/causeway.toml" <<TOML
[system]
name = "bench"
role = "control"
domain = "example.com"
[sip]
udp = { enabled = true, listen = "$IP:$PROXY_PORT" }
tcp = { enabled = false }
tls = { enabled = false }
udp_io = "${CW_UDP_IO:-auto}"
${CW_UDP_BATCH_US:+udp_batch_us = $CW_UDP_BATCH_US}
${CW_THREADS:+threads = $CW_THREADS}
[admin]
listen = "127.0.0.1:$((PROXY_PORT + 3))"
${ADMIN_EXTRA:-}
[log]
level = "warn"
$CW_PROTECTION
${CW_EXTRA:-}
TOML
    "$CAUSEWAY" run --config "$WORK/causeway.toml" >"$WORK/causeway.log" 2>&1 &
    PROXY_PID=$!; PROXY_ALL=$PROXY_PID; PROXY_COMM=$(basename "$CAUSEWAY" | cut -c1-15)
    sleep 1
    kill -0 "$PROXY_PID" 2>/dev/null || { echo "causeway failed:"; cat "$WORK/causeway.log"; exit 1; }
    register_service "$PROXY_PORT"
}

start_kamailio() {
    kamailio -f "${KAM_CFG:-$SHARED/kamailio.cfg}" -DD -E -Y "$WORK" -P "$WORK/kam.pid" -m 256 -M 16 \
        -A "KAM_LISTEN=udp:$IP:$PROXY_PORT" -A "UAS_URI=\"sip:$IP:$UAS_PORT\"" \
        -A "KAM_CHILDREN=$CHILDREN" ${KAM_ARGS:-} >"$WORK/kam.log" 2>&1 &
    PROXY_PID=$!; PROXY_COMM=kamailio
    sleep 2
    kill -0 "$PROXY_PID" 2>/dev/null || { echo "kamailio failed:"; cat "$WORK/kam.log"; exit 1; }
    PROXY_ALL="$PROXY_PID $(ps -o pid= --ppid "$PROXY_PID" | tr '\n' ' ')"
}
