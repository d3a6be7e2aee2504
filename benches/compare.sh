#!/usr/bin/env bash
# checktls beside posttls-finger and openssl s_client, on the same real receivers, in one run.
#
#   sudo benches/compare.sh [RUNS]          (RUNS pairs per comparison, default 15)
#
# Needs root and the Debian packages postfix, knot, knot-dnsutils, openssl, iproute2 and
# util-linux; builds target/release/checktls when it is missing (CHECKTLS=path uses another).
# It re-runs itself inside a new network and mount namespace (nothing leaves the machine, not
# even DNS), and there starts:
#
#   knotd        127.0.0.1:53   one.test, signed by Knot itself (KSK+ZSK, ECDSA P-256, NSEC):
#                               MX 10 mx.one.test, A 127.0.0.10, TLSA 3 1 1, TLS-RPT, SPF,
#                               DMARC; the DS of its KSK is the DNSSEC trust anchor
#   postfix 3.7  127.0.0.10:25  STARTTLS, TLS 1.2 and 1.3, RSA-2048 leaf from a test root
#                127.0.1.1-50:25  50 more listeners of the same instance, for the batch
#   /etc/resolv.conf -> 127.0.0.1 (the namespace's own), so posttls-finger asks Knot too
#
# and prints, for each comparison, the median of RUNS runs taken in turn (A B A B ...), the
# median of the pairwise ratios A/B, the client's CPU (user+sys) and the DNS questions Knot
# counted per run (its mod-stats). See benches/README.md for what each line means.
set -euo pipefail

RUNS=${1:-15}
MARK=CHECKTLS_COMPARE_IN_NETNS

if [ -z "${!MARK:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "compare.sh: run as root (it makes a network namespace)" >&2; exit 1; }
    for tool in knotd knotc keymgr kdig postfix posttls-finger openssl unshare ip; do
        command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin:/sbin
        command -v "$tool" >/dev/null || {
            echo "compare.sh: $tool not found (Debian: postfix knot knot-dnsutils openssl iproute2 util-linux)" >&2
            exit 1
        }
    done
    root=$(cd "$(dirname "$0")/.." && pwd)
    if [ -z "${CHECKTLS:-}" ]; then
        CHECKTLS=$root/target/release/checktls
        # Always through cargo: a no-op when the binary is fresh, and never a stale binary
        # compared by mistake.
        (cd "$root" && cargo build --release --bin checktls)
    fi
    export CHECKTLS RUNS
    export "$MARK=1"
    exec unshare --net --mount -- bash ${COMPARE_TRACE:+-x} "$0" "$RUNS"
fi

# ---------------------------------------------------------------- inside the namespace
PATH=$PATH:/usr/sbin:/sbin
ip link set lo up
DIR=$(mktemp -d /tmp/checktls-compare.XXXXXX)
chmod 755 "$DIR"
KNOT_PID=
cleanup() {
    postfix -c "$DIR/postfix" stop >/dev/null 2>&1 || true
    if [ -n "$KNOT_PID" ]; then kill "$KNOT_PID" 2>/dev/null || true; wait "$KNOT_PID" 2>/dev/null || true; fi
    rm -rf "$DIR"
}
trap cleanup EXIT
cd "$DIR"

# PKI: a root and an RSA-2048 leaf for mx.one.test.
openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 30 \
    -subj "/CN=checktls compare root" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=mx.one.test" 2>/dev/null
printf 'subjectAltName=DNS:mx.one.test\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
    -extfile leaf.ext -out leaf.pem 2>/dev/null
TLSA=$(openssl x509 -in leaf.pem -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1)

# DNS: Knot signs one.test itself; mod-stats counts the questions it receives.
cat > one.test.zone <<EOF
one.test. 300 IN SOA ns.one.test. hostmaster.one.test. 1 3600 600 86400 300
one.test. 300 IN NS ns.one.test.
ns.one.test. 300 IN A 127.0.0.1
one.test. 300 IN MX 10 mx.one.test.
mx.one.test. 300 IN A 127.0.0.10
_25._tcp.mx.one.test. 300 IN TLSA 3 1 1 $TLSA
_smtp._tls.one.test. 300 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@one.test"
one.test. 300 IN TXT "v=spf1 mx -all"
_dmarc.one.test. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@one.test"
EOF
cat > knot.conf <<EOF
server:
  rundir: "$DIR"
  listen: 127.0.0.1@53
control:
  listen: "$DIR/knot.sock"
log:
  - target: stderr
    any: warning
mod-stats:
  - id: count
    request-protocol: on
    query-type: on
policy:
  - id: kz
    algorithm: ecdsap256sha256
    single-type-signing: off
    nsec3: off
template:
  - id: default
    storage: "$DIR"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    global-module: mod-stats/count
zone:
  - domain: one.test.
    file: "$DIR/one.test.zone"
    dnssec-signing: on
    dnssec-policy: kz
EOF
knotd -c knot.conf 2>knot.log &
KNOT_PID=$!
for _ in $(seq 100); do
    kdig @127.0.0.1 +short one.test DNSKEY 2>/dev/null | grep -q '^257 3 13' && break
    sleep 0.2
done
kdig @127.0.0.1 +short one.test DNSKEY | grep -q '^257 3 13' || { cat knot.log; echo "Knot did not sign one.test" >&2; exit 1; }
keymgr -c knot.conf one.test. ds | grep ' DS .* 13 2 ' > anchor.txt
[ -s anchor.txt ] || { echo "keymgr gave no DS" >&2; exit 1; }
printf 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n' > resolv.conf
printf '127.0.0.1 localhost\n' > hosts
mount --bind resolv.conf /etc/resolv.conf
mount --bind hosts /etc/hosts

# Postfix: one instance, 51 listeners.
P=$DIR/postfix
mkdir -p "$P/queue" "$P/data"
chown postfix "$P/data"
cp leaf.pem "$P/cert.pem"; cat leaf.key > "$P/key.pem"; chmod 600 "$P/key.pem"
cat > "$P/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $P/queue
data_directory = $P/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.one.test
mydomain = one.test
mydestination = one.test
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.255/32
alias_maps =
alias_database =
local_recipient_maps =
maillog_file_prefixes = $P
maillog_file = $P/maillog
smtpd_tls_security_level = may
smtpd_tls_cert_file = $P/cert.pem
smtpd_tls_key_file = $P/key.pem
smtpd_peername_lookup = no
smtpd_client_connection_rate_limit = 0
smtpd_client_connection_count_limit = 0
default_process_limit = 200
smtp_tls_security_level = none
default_transport = error:no outbound mail
relay_transport = error:no outbound mail
disable_dns_lookups = yes
smtp_dns_support_level = disabled
EOF
{
    echo "127.0.0.10:25 inet n - n - - smtpd"
    for i in $(seq 1 50); do echo "127.0.1.$i:25 inet n - n - - smtpd"; done
    cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
} > "$P/master.cf"
postfix -c "$P" check
postfix -c "$P" start >/dev/null 2>&1
for _ in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.1.50/25) 2>/dev/null && break
    sleep 0.2
done

# posttls-finger reads a main.cf (Debian's "No configuration" install has none): its own.
mkdir -p "$DIR/client"
printf 'compatibility_level = 3.6\ninet_protocols = ipv4\n' > "$DIR/client/main.cf"
export MAIL_CONFIG=$DIR/client

# ---------------------------------------------------------------- the commands
CT_ONE=("$CHECKTLS" receiver postmaster@one.test --nameserver 127.0.0.1:53
    --dnssec-anchor "$DIR/anchor.txt" --ca-file "$DIR/root.pem" --allow-private-addresses
    --format json)
PF_ONE=(posttls-finger -c -l secure -F "$DIR/root.pem" one.test)
OS_ONE=(openssl s_client -brief -starttls smtp -connect 127.0.0.10:25 -servername mx.one.test
    -CAfile "$DIR/root.pem" -verify_hostname mx.one.test -verify_return_error)
{
    echo '<BatchTest TestType="receiver">'
    for i in $(seq 1 50); do echo "  <Target SNI=\"mx.one.test\">127.0.1.$i</Target>"; done
    echo '</BatchTest>'
} > batch.xml
CT_BATCH=("$CHECKTLS" batch run "$DIR/batch.xml" --ca-file "$DIR/root.pem"
    --allow-private-addresses --format csv)
pf_batch() {
    seq 1 50 | xargs -P 8 -I{} posttls-finger -c -l secure -F "$DIR/root.pem" "[127.0.1.{}]:25" mx.one.test
}
os_batch() {
    seq 1 50 | xargs -P 8 -I{} sh -c "openssl s_client -brief -starttls smtp -connect 127.0.1.{}:25 -servername mx.one.test -CAfile '$DIR/root.pem' -verify_hostname mx.one.test -verify_return_error </dev/null"
}

# What each says, once (a comparison of tools that disagree would mean nothing).
score=$("${CT_ONE[@]}" 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)[\"confidence_factor\"][\"score\"])" 2>/dev/null || true)
echo "checktls:        score ${score:-?} for postmaster@one.test ($("$CHECKTLS" --version))"
echo "posttls-finger:  $("${PF_ONE[@]}" 2>&1 | grep -m1 -o '[A-Za-z]* TLS connection established.*' || echo 'no TLS?')"
echo "openssl:         $("${OS_ONE[@]}" </dev/null 2>&1 | grep -m1 -E '^(Verification|Protocol version)' || true)"
echo "checktls batch:  $("${CT_BATCH[@]}" 2>/dev/null | grep -c '^1[01][0-9],\|^12[01],' || true) of 50 targets graded 100 or more"

# ---------------------------------------------------------------- measuring
ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }   # milliseconds, bash 5
# Children's CPU so far (user+sys) in ms, from the shell's own accounting (`times`).
cpu_ms() {
    local line
    times > "$DIR/times"   # in this shell: a command substitution would be a child's view
    line=$(tail -1 "$DIR/times")
    CPU=$(awk -v l="$line" 'BEGIN { n = split(l, f, /[ ms]+/); t = 0;
        for (i = 1; i + 1 <= n; i += 2) if (f[i] != "") t += f[i] * 60000 + f[i+1] * 1000;
        printf "%d", t }')
}
knot_queries() {
    knotc -c "$DIR/knot.conf" stats mod-stats 2>/dev/null \
        | awk -F' = ' '/query-type/ { s += $2 } END { print s + 0 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# pair NAME_A NAME_B FUNC_A FUNC_B: RUNS runs of each, in turn, after one warm-up each.
pair() {
    local a=$1 b=$2 fa=$3 fb=$4 i t0 t1 c0 c1 q0 q1
    local wa=() wb=() ca=() cb=() qa=() qb=() ratio=()
    $fa >/dev/null 2>&1 </dev/null || true
    $fb >/dev/null 2>&1 </dev/null || true
    for i in $(seq "$RUNS"); do
        q0=$(knot_queries); cpu_ms; c0=$CPU; t0=$(ms_now)
        $fa >/dev/null 2>&1 </dev/null || true
        t1=$(ms_now); cpu_ms; c1=$CPU; q1=$(knot_queries)
        wa+=($((t1 - t0))); ca+=($((c1 - c0))); qa+=($((q1 - q0)))
        q0=$(knot_queries); cpu_ms; c0=$CPU; t0=$(ms_now)
        $fb >/dev/null 2>&1 </dev/null || true
        t1=$(ms_now); cpu_ms; c1=$CPU; q1=$(knot_queries)
        wb+=($((t1 - t0))); cb+=($((c1 - c0))); qb+=($((q1 - q0)))
        ratio+=("$(awk -v x="${wa[-1]}" -v y="${wb[-1]}" 'BEGIN { printf "%.3f", (y > 0 ? x / y : 0) }')")
    done
    printf '  %-34s wall %6s ms  cpu %6s ms  dns %4s\n' "$a" \
        "$(printf '%s\n' "${wa[@]}" | median)" "$(printf '%s\n' "${ca[@]}" | median)" "$(printf '%s\n' "${qa[@]}" | median)"
    printf '  %-34s wall %6s ms  cpu %6s ms  dns %4s\n' "$b" \
        "$(printf '%s\n' "${wb[@]}" | median)" "$(printf '%s\n' "${cb[@]}" | median)" "$(printf '%s\n' "${qb[@]}" | median)"
    printf '  %-34s %s (median of %d pairwise ratios; min %s, max %s)\n' "ratio $a / $b" \
        "$(printf '%s\n' "${ratio[@]}" | median)" "$RUNS" \
        "$(printf '%s\n' "${ratio[@]}" | sort -g | head -1)" "$(printf '%s\n' "${ratio[@]}" | sort -g | tail -1)"
}
ct_one() { "${CT_ONE[@]}"; }
pf_one() { "${PF_ONE[@]}"; }
os_one() { "${OS_ONE[@]}"; }
ct_batch() { "${CT_BATCH[@]}"; }
ct_version() { "$CHECKTLS" --version; }
pf_version() { posttls-finger -h; }

# ONLY="one batch stalls startup" (any of them) runs those sections alone.
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
if want one; then
echo
echo "one receiver test of a TLS 1.3 host (whole process; $RUNS pairs, A B A B ...)"
pair "checktls receiver" "posttls-finger -l secure" ct_one pf_one
pair "checktls receiver" "openssl s_client" ct_one os_one
fi
if want batch; then
echo
echo "50-target batch on 50 Postfix listeners"
pair "checktls batch run (50)" "posttls-finger x8 (50)" ct_batch pf_batch
pair "checktls batch run (50)" "openssl s_client x8 (50)" ct_batch os_batch
fi
if want stalls; then
echo
echo "stalls: 50 receiver tests of 127.0.0.10 (TLS 1.3, no DNS), the slowest stage of each"
# PCAP=file keeps the packets of these runs (tcpdump), to see where a stall comes from.
TCPDUMP_PID=
if [ -n "${PCAP:-}" ]; then
    tcpdump -i lo -s 200 -w "$PCAP" 'tcp port 25 and host 127.0.0.10' 2>/dev/null &
    TCPDUMP_PID=$!
    sleep 1
fi
slow=0; worst=0
for _ in $(seq 50); do
    ms=$("$CHECKTLS" receiver 127.0.0.10 --sni mx.one.test --ca-file "$DIR/root.pem" \
        --allow-private-addresses --format json 2>/dev/null \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); print(max(s["ms"] for m in r["mx"] for s in m["stages"]))' 2>/dev/null || echo 0)
    [ "$ms" -ge 30 ] && slow=$((slow + 1))
    [ "$ms" -gt "$worst" ] && worst=$ms
done
printf '  %-34s %s of 50 (slowest stage seen: %s ms)\n' "runs with a stage of 30 ms or more" "$slow" "$worst"
if [ -n "$TCPDUMP_PID" ]; then sleep 1; kill "$TCPDUMP_PID"; wait "$TCPDUMP_PID" 2>/dev/null || true; fi
fi

want startup || exit 0
echo
echo "start-up"
pair "checktls --version" "posttls-finger -h" ct_version pf_version
printf '  %-34s %s bytes\n' "checktls binary size" "$(stat -c %s "$CHECKTLS")"
