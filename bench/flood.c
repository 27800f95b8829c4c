// flood: a paced UDP flood from one source address, counting what comes back (bench/flood.sh).
//
//   gcc -O2 -Wall -pthread -o flood bench/flood.c
//   flood KIND SRC_IP DST_IP DST_PORT RATE SECONDS DRAIN
//
// KIND: garbage   180 bytes that are not SIP (0x7f first, then bytes that vary per datagram)
//       options   a scanner's OPTIONS to the proxy itself (no user part), ~330 bytes
//       invite    an INVITE without a body to sip:nobody@example.com, ~350 bytes
//       register  a REGISTER of alice@example.com with a wrong digest response, ~560 bytes:
//                 one unauthenticated REGISTER first fetches a challenge (realm, nonce, qop;
//                 the MD5 one if several), then every REGISTER answers it wrongly
// Every SIP datagram has its own Via branch, From tag and Call-ID (no retransmission for a
// transaction layer to absorb). The sender binds SRC_IP (any port), sends RATE datagrams/s for
// SECONDS (in bursts, one every millisecond, sendmmsg), then keeps receiving for DRAIN seconds
// (late answers, retransmissions). A receiver thread counts every datagram that comes back to
// the socket, its bytes, its status code, and when the first and last arrived.
//
// Output, one line key=value: sent, sent_bytes, achieved rate, answers (during the flood and in
// the drain), answer_bytes, the ratio of answer bytes to sent bytes, answered_requests (how many
// distinct requests got at least one answer, by their Via branch: the rest of the answers are
// retransmissions), first_answer, last_new_answer (the last first answer to a request: after it
// the proxy handled nothing new from this source) and last_answer (seconds since the flood
// started, -1 when none), the status codes seen, and the challenge fetch's status (register).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAXMSG 1024

static int fd;
static double t0;
static atomic_int stop_rx;
// written by the receiver only, read after it is joined
static unsigned long answers, answers_in_flood, answer_bytes, codes[700], distinct;
static double first_answer = -1, last_answer = -1, last_new = -1, flood_end = 1e18;
// which requests (by the number in their Via branch) got an answer: a second answer to one is a
// retransmission (or a provisional before the final)
static unsigned char *answered;
static unsigned long answerable;

static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int status_of(const char *b, ssize_t n) {
    if (n < 12 || memcmp(b, "SIP/2.0 ", 8) != 0) return 0;
    int c = (b[8] - '0') * 100 + (b[9] - '0') * 10 + (b[10] - '0');
    return (c >= 100 && c < 700) ? c : 0;
}

// the request an answer is for: the number in its Via branch, or -1
static long request_of(const char *b, ssize_t n) {
    char tmp[2049];
    memcpy(tmp, b, n); tmp[n] = 0;
    const char *p = strstr(tmp, "branch=z9hG4bKfl");
    if (!p) return -1;
    char *end;
    unsigned long i = strtoul(p + 16, &end, 16);
    return end == p + 16 || i >= answerable ? -1 : (long)i;
}

static void *rx_main(void *arg) {
    (void)arg;
    static char bufs[BATCH][2048];
    struct mmsghdr mm[BATCH]; struct iovec iov[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i]; iov[i].iov_len = sizeof bufs[i];
        memset(&mm[i], 0, sizeof mm[i]); mm[i].msg_hdr.msg_iov = &iov[i]; mm[i].msg_hdr.msg_iovlen = 1;
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (!atomic_load(&stop_rx)) {
        if (poll(&p, 1, 50) <= 0) continue;
        int n = recvmmsg(fd, mm, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) continue;  // ICMP errors (ECONNREFUSED) are not answers
        double t = now() - t0;
        for (int i = 0; i < n; i++) {
            answers++; answer_bytes += mm[i].msg_len;
            if (t <= flood_end) answers_in_flood++;
            codes[status_of(bufs[i], mm[i].msg_len)]++;
            long r = request_of(bufs[i], mm[i].msg_len);
            if (r >= 0 && !(answered[r >> 3] & (1 << (r & 7)))) {
                answered[r >> 3] |= 1 << (r & 7);
                distinct++; last_new = t;
            }
        }
        if (first_answer < 0) first_answer = t;
        last_answer = t;
    }
    return NULL;
}

// the challenge a REGISTER gets: realm, nonce, whether qop=auth is offered
static char realm[128] = "example.com", nonce[256] = "00000000000000000000000000000000";
static int with_qop, challenge_status;

static int quoted(const char *line, const char *key, char *out, size_t cap) {
    const char *p = strcasestr(line, key);
    if (!p) return 0;
    p += strlen(key);
    const char *e = strchr(p, '"');
    if (!e || (size_t)(e - p) >= cap) return 0;
    memcpy(out, p, e - p); out[e - p] = 0;
    return 1;
}

// the MD5 challenge of a 401 (or the first one); leaves the defaults when there is none
static void parse_challenge(const char *msg) {
    const char *best = NULL;
    for (const char *l = strcasestr(msg, "\nWWW-Authenticate:"); l; l = strcasestr(l + 1, "\nWWW-Authenticate:")) {
        const char *eol = strstr(l + 1, "\r\n");
        int md5 = 0, alg = 0;
        const char *a = strcasestr(l, "algorithm=");
        if (a && (!eol || a < eol)) {
            alg = 1;
            md5 = strncasecmp(a + 10, "MD5", 3) == 0 || strncasecmp(a + 10, "\"MD5", 4) == 0;
        }
        if (!best || md5 || !alg) best = l;
        if (md5 || !alg) break;
    }
    if (!best) return;
    char line[1024];
    const char *eol = strstr(best + 1, "\r\n");
    size_t len = eol ? (size_t)(eol - best) : strlen(best);
    if (len >= sizeof line) len = sizeof line - 1;
    memcpy(line, best, len); line[len] = 0;
    quoted(line, "realm=\"", realm, sizeof realm);
    quoted(line, "nonce=\"", nonce, sizeof nonce);
    with_qop = strcasestr(line, "qop=") != NULL;
}

static const char *kind, *src, *dst;
static int dport, sport;

static int build(char *b, unsigned long i) {
    if (strcmp(kind, "garbage") == 0) {
        b[0] = 0x7f;
        for (int k = 1; k < 180; k++) b[k] = (char)((i * 131 + k * 7) % 251);
        return 180;
    }
    const char *common =
        "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bKfl%lx;rport\r\n"
        "Max-Forwards: 70\r\n";
    char via[256];
    snprintf(via, sizeof via, common, src, sport, i);
    if (strcmp(kind, "options") == 0)
        return snprintf(b, MAXMSG,
            "OPTIONS sip:%s:%d SIP/2.0\r\n%s"
            "From: <sip:scan@%s>;tag=f%lx\r\nTo: <sip:%s:%d>\r\n"
            "Call-ID: fl%lx@%s\r\nCSeq: 1 OPTIONS\r\nContact: <sip:scan@%s:%d>\r\n"
            "User-Agent: flood\r\nAccept: application/sdp\r\nContent-Length: 0\r\n\r\n",
            dst, dport, via, src, i, dst, dport, i, src, src, sport);
    if (strcmp(kind, "invite") == 0)
        return snprintf(b, MAXMSG,
            "INVITE sip:nobody@example.com SIP/2.0\r\n%s"
            "From: <sip:scan@%s>;tag=f%lx\r\nTo: <sip:nobody@example.com>\r\n"
            "Call-ID: fl%lx@%s\r\nCSeq: 1 INVITE\r\nContact: <sip:scan@%s:%d>\r\n"
            "User-Agent: flood\r\nContent-Length: 0\r\n\r\n",
            via, src, i, i, src, src, sport);
    char qop[64] = "";
    if (with_qop) snprintf(qop, sizeof qop, ", qop=auth, nc=%08lx, cnonce=\"fl\"", (i & 0xffffffUL) + 1);
    return snprintf(b, MAXMSG,
        "REGISTER sip:example.com SIP/2.0\r\n%s"
        "From: <sip:alice@example.com>;tag=f%lx\r\nTo: <sip:alice@example.com>\r\n"
        "Call-ID: fl%lx@%s\r\nCSeq: 2 REGISTER\r\nContact: <sip:alice@%s:%d>\r\nExpires: 600\r\n"
        "Authorization: Digest username=\"alice\", realm=\"%s\", nonce=\"%s\", uri=\"sip:example.com\", "
        "response=\"0123456789abcdef0123456789abcdef\", algorithm=MD5%s\r\n"
        "User-Agent: flood\r\nContent-Length: 0\r\n\r\n",
        via, i, i, src, src, sport, realm, nonce, qop);
}

static void fetch_challenge(struct sockaddr_in *to) {
    char b[MAXMSG], r[4096];
    int n = snprintf(b, sizeof b,
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bKchallenge;rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=fc\r\nTo: <sip:alice@example.com>\r\n"
        "Call-ID: flchallenge@%s\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@%s:%d>\r\nExpires: 600\r\n"
        // a real UA's headers: causeway challenges no REGISTER shorter than its challenge
        "User-Agent: flood softphone 1.0 (x86_64-linux; headers like a real UA)\r\n"
        "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, MESSAGE, NOTIFY, REFER\r\n"
        "Accept: application/sdp, application/dtmf-relay, text/plain\r\n"
        "Content-Length: 0\r\n\r\n", src, sport, src, src, sport);
    for (int attempt = 0; attempt < 3; attempt++) {
        sendto(fd, b, n, 0, (struct sockaddr *)to, sizeof *to);
        struct pollfd p = { .fd = fd, .events = POLLIN };
        double end = now() + 1.0;
        while (now() < end && poll(&p, 1, 100) >= 0) {
            ssize_t m = recv(fd, r, sizeof r - 1, MSG_DONTWAIT);
            if (m <= 0) continue;
            r[m] = 0;
            int c = status_of(r, m);
            if (c < 200) continue;
            challenge_status = c;
            parse_challenge(r);
            return;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: %s garbage|options|invite|register SRC_IP DST_IP DST_PORT RATE SECONDS DRAIN\n", argv[0]);
        return 2;
    }
    kind = argv[1]; src = argv[2]; dst = argv[3]; dport = atoi(argv[4]);
    double rate = atof(argv[5]), secs = atof(argv[6]), drain = atof(argv[7]);
    if (strcmp(kind, "garbage") && strcmp(kind, "options") && strcmp(kind, "invite") && strcmp(kind, "register")) {
        fprintf(stderr, "unknown kind %s\n", kind); return 2;
    }
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    int big = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct sockaddr_in me = { .sin_family = AF_INET }, to = { .sin_family = AF_INET };
    if (inet_pton(AF_INET, src, &me.sin_addr) != 1 || inet_pton(AF_INET, dst, &to.sin_addr) != 1) {
        fprintf(stderr, "bad address\n"); return 2;
    }
    to.sin_port = htons(dport);
    if (bind(fd, (struct sockaddr *)&me, sizeof me) != 0) { perror("bind"); return 2; }
    socklen_t sl = sizeof me; getsockname(fd, (struct sockaddr *)&me, &sl); sport = ntohs(me.sin_port);
    if (strcmp(kind, "register") == 0) fetch_challenge(&to);

    static char bufs[BATCH][MAXMSG];
    struct mmsghdr mm[BATCH]; struct iovec iov[BATCH];
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        memset(&mm[i], 0, sizeof mm[i]);
        mm[i].msg_hdr.msg_iov = &iov[i]; mm[i].msg_hdr.msg_iovlen = 1;
        mm[i].msg_hdr.msg_name = &to; mm[i].msg_hdr.msg_namelen = sizeof to;
    }
    answerable = (unsigned long)(rate * secs) + 2 * BATCH;
    answered = calloc(answerable / 8 + 1, 1);
    t0 = now();
    flood_end = secs + 0.05;  // answers queued at the end still belong to the flood
    pthread_t rx; pthread_create(&rx, NULL, rx_main, NULL);
    unsigned long sent = 0, sent_bytes = 0, errors = 0;
    struct timespec tick; clock_gettime(CLOCK_MONOTONIC, &tick);
    for (;;) {
        double t = now() - t0;
        if (t >= secs) break;
        unsigned long due = (unsigned long)(t * rate);
        while (sent < due) {
            int n = due - sent > BATCH ? BATCH : (int)(due - sent);
            for (int i = 0; i < n; i++) iov[i].iov_len = build(bufs[i], sent + i);
            int k = sendmmsg(fd, mm, n, 0);
            if (k <= 0) { errors++; k = n; }  // a full buffer or an ICMP error: counted as sent
            for (int i = 0; i < k; i++) sent_bytes += iov[i].iov_len;
            sent += k;
        }
        tick.tv_nsec += 1000000;
        if (tick.tv_nsec >= 1000000000) { tick.tv_sec++; tick.tv_nsec -= 1000000000; }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick, NULL);
    }
    double elapsed = now() - t0;
    usleep((useconds_t)(drain * 1e6));
    atomic_store(&stop_rx, 1);
    pthread_join(rx, NULL);
    printf("kind=%s src=%s target=%.0f sent=%lu sent_bytes=%lu rate=%.0f send_errors=%lu answers=%lu "
           "answers_in_flood=%lu answer_bytes=%lu bytes_ratio=%.4f answered_requests=%lu first_answer=%.3f "
           "last_new_answer=%.3f last_answer=%.3f",
           kind, src, rate, sent, sent_bytes, sent / elapsed, errors, answers, answers_in_flood,
           answer_bytes, sent_bytes ? (double)answer_bytes / sent_bytes : 0.0, distinct, first_answer,
           last_new, last_answer);
    if (strcmp(kind, "register") == 0) printf(" challenge=%d qop=%d", challenge_status, with_qop);
    printf(" codes=");
    int any = 0;
    for (int c = 0; c < 700; c++)
        if (codes[c]) { printf("%s%d:%lu", any ? "," : "", c, codes[c]); any = 1; }
    printf("%s\n", any ? "" : "-");
    return 0;
}
