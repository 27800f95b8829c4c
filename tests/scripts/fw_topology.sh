#!/usr/bin/env bash
# The firewall topology of the traversal test, in network namespaces:
#
#   inside (C, inside UA) 10.77.1.2 --- fw 10.77.1.1 | 10.77.2.1 --- dmz (E) 10.77.2.2
#                                          fw 10.77.3.1 --- internet (UA) 10.77.3.2
#                                          fw 10.77.4.1 --- nat (UA behind a NAT) 10.77.4.2
#
# The namespace `fw` routes between the three and firewalls with nftables: connections from
# inside go out; nothing from dmz or internet may open a connection into inside or send it a
# datagram (counted and dropped); replies to inside's own connections pass. `nat` is a home
# network behind the same box acting as a NAT: its traffic to the others is masqueraded with
# fully random source ports (so a UA's media source port differs from its SDP) and nothing
# unsolicited gets into it (counted: connection attempts, SIP datagrams, other UDP, other).
#
# Usage: fw_topology.sh up TAG | down TAG | counters TAG | home TAG
# TAG keeps parallel runs apart (names are cw<TAG>-in, -fw, -dmz, -net, -nat; at most 4 characters).
set -eu
cmd=$1; tag=$2
IN=cw$tag-in; FW=cw$tag-fw; DMZ=cw$tag-dmz; NET=cw$tag-net; NAT=cw$tag-nat

down() {
    for ns in $IN $FW $DMZ $NET $NAT; do ip netns del "$ns" 2>/dev/null || true; done
}

case "$cmd" in
up)
    down
    for ns in $IN $FW $DMZ $NET $NAT; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
    # one veth pair per leg: <ns side> in the leaf, fw<n> in the firewall
    i=1
    for ns in $IN $DMZ $NET $NAT; do
        ip link add "cw$tag-l$i" type veth peer name "cw$tag-f$i"
        ip link set "cw$tag-l$i" netns "$ns"
        ip link set "cw$tag-f$i" netns "$FW"
        ip -n "$ns" addr add "10.77.$i.2/24" dev "cw$tag-l$i"
        ip -n "$ns" link set "cw$tag-l$i" up
        ip -n "$ns" route add default via "10.77.$i.1"
        ip -n "$FW" addr add "10.77.$i.1/24" dev "cw$tag-f$i"
        ip -n "$FW" link set "cw$tag-f$i" up
        i=$((i + 1))
    done
    ip netns exec "$FW" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$FW" nft -f - <<NFT
table inet cw {
    counter into_inside_syn { }
    counter into_inside_udp { }
    counter into_inside_other { }
    counter into_home_syn { }
    counter into_home_sip { }
    counter into_home_udp { }
    counter into_home_other { }
    chain forward {
        type filter hook forward priority 0; policy accept;
        ct state established,related accept
        oifname "cw$tag-f1" tcp flags & (syn | ack) == syn counter name into_inside_syn drop
        oifname "cw$tag-f1" meta l4proto udp counter name into_inside_udp drop
        oifname "cw$tag-f1" counter name into_inside_other drop
        oifname "cw$tag-f4" tcp flags & (syn | ack) == syn counter name into_home_syn drop
        oifname "cw$tag-f4" udp sport { 5060, 5061 } counter name into_home_sip drop
        oifname "cw$tag-f4" meta l4proto udp counter name into_home_udp drop
        oifname "cw$tag-f4" counter name into_home_other drop
    }
}
table ip cwnat {
    chain post {
        type nat hook postrouting priority srcnat;
        ip saddr 10.77.4.0/24 oifname != "cw$tag-f4" masquerade fully-random
    }
}
NFT
    ;;
down)
    down
    ;;
counters)
    # prints "<TCP connection attempts> <UDP datagrams> <other packets>" dropped on the way into
    # inside (other: stray segments of connections already gone, e.g. after a peer was killed)
    ip netns exec "$FW" nft list counters table inet cw |
        awk '/counter into_inside_syn/ {n=1} /counter into_inside_udp/ {n=2} /counter into_inside_other/ {n=3}
             /packets/ { for (i=1;i<=NF;i++) if ($i=="packets") v[n]=$(i+1) }
             END { printf "%d %d %d\n", v[1], v[2], v[3] }'
    ;;
home)
    # prints "<TCP connection attempts> <SIP datagrams> <other UDP datagrams> <other packets>"
    # dropped on the way into the home network behind the NAT (unsolicited: not replies to
    # what the home network sent)
    ip netns exec "$FW" nft list counters table inet cw |
        awk '/counter into_home_syn/ {n=1} /counter into_home_sip/ {n=2} /counter into_home_udp/ {n=3} /counter into_home_other/ {n=4}
             /counter into_inside/ {n=0}
             /packets/ { for (i=1;i<=NF;i++) if ($i=="packets" && n>0) v[n]=$(i+1) }
             END { printf "%d %d %d %d\n", v[1], v[2], v[3], v[4] }'
    ;;
*)
    echo "usage: $0 up|down|counters|home TAG" >&2; exit 2 ;;
esac
