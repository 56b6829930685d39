#!/usr/bin/env bash
# The HTTP API over TLS (--tls-cert, --tls-key) with tokens, against a certificate that
# `openssl req` makes here:
#   - a certificate that does not fit (a key others can read, another certificate's key,
#     one of the pair alone) stops sagad with exit 2 before it listens;
#   - curl and sagactl that trust the certificate are served over HTTPS, the audit trail
#     works through it; a client that does not trust it is refused;
#   - plain HTTP on the TLS port gets a plain 400 saying so, and is counted.
# Usage: tls_test.sh BUILD_DIR
set -uo pipefail
bin=$(cd "${1:?build dir}" && pwd)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../scripts/lib/trust.sh
. "$root/scripts/lib/trust.sh"
t=$dir/trust
make_trust "$t" "$ctl"
cert() {  # cert NAME SAN: NAME.crt and NAME.key (0600), self-signed
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$1" \
    -addext "subjectAltName=$2" -keyout "$t/$1.key" -out "$t/$1.crt" 2>"$dir/openssl.log" \
    && chmod 600 "$t/$1.key"
}
cert sagad "DNS:localhost,IP:127.0.0.1" && cert other "DNS:localhost,IP:127.0.0.1" \
  && ok "openssl req made two certificates" || { bad "openssl req failed: $(cat "$dir/openssl.log")"; e2e_result; exit 1; }

echo "== a certificate that does not fit stops sagad (exit 2)"
exit_of() { "$sagad" --data-dir "$dir/never" --api-tokens "$t/tokens" "$@" >"$dir/refused.log" 2>&1; echo $?; }
[ "$(exit_of --tls-cert "$t/sagad.crt")" = 2 ] && grep -q "tls_key" "$dir/refused.log" \
  && ok "tls_cert without tls_key: exit 2" || bad "tls_cert alone was taken"
[ "$(exit_of --tls-cert "$t/sagad.crt" --tls-key "$t/other.key")" = 2 ] && grep -q "other.key" "$dir/refused.log" \
  && ok "another certificate's key: exit 2, naming it" || bad "a mismatched key was taken: $(tail -2 "$dir/refused.log")"
chmod 644 "$t/other.key"
[ "$(exit_of --tls-cert "$t/other.crt" --tls-key "$t/other.key")" = 2 ] && grep -q "readable by others" "$dir/refused.log" \
  && ok "a TLS key others can read: exit 2" || bad "a world-readable TLS key was taken"
[ ! -e "$dir/never/pg/data/PG_VERSION" ] && ok "none of them started a database" || bad "a refused sagad started its database"

echo "== sagad serving HTTPS with tokens"
start_sagad_embedded --api-tokens "$t/tokens" --tls-cert "$t/sagad.crt" --tls-key "$t/sagad.key"
[[ "$url" == https://* ]] && ok "sagad_ready names an https URL: $url" || bad "sagad's URL is not https: $url"
viewer=(-H "Authorization: Bearer $(cat "$t/viewer.token")")
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$t/sagad.crt" "$url/healthz")" = 200 ] \
  && ok "curl --cacert: /healthz 200 over HTTPS" || bad "curl over HTTPS failed"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$t/sagad.crt" "${viewer[@]}" "$url/api/v1/sagas")" = 200 ] \
  && ok "a viewer token lists sagas over HTTPS" || bad "the viewer could not list over HTTPS"
[ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$t/sagad.crt" "$url/api/v1/sagas")" = 401 ] \
  && ok "no token over HTTPS: 401" || bad "no token over HTTPS was not 401"
curl -s -o /dev/null --cacert "$t/other.crt" "$url/healthz"; rc=$?
[ "$rc" = 60 ] && ok "curl trusting another certificate is refused (curl exit 60)" || bad "curl exit $rc with the wrong CA"
plain=${url/https:/http:}
answer=$(curl -s -w ' %{http_code}' "$plain/api/v1/sagas")
[[ "$answer" == *"HTTPS only"*" 400" ]] && ok "plain HTTP on the TLS port: 400 saying so" || bad "plain HTTP got: $answer"

echo "== sagactl over HTTPS"
export SAGACTL_CA_FILE=$t/sagad.crt
sid=$(sagactl start order_fulfilment --input "$(order_input 1)" 2>"$dir/ctl.err")
[[ "$sid" =~ ^[0-9a-f-]{36}$ ]] && ok "sagactl --endpoint https:// starts a saga (operator token)" \
  || bad "sagactl could not start over HTTPS: $(cat "$dir/ctl.err")"
sagactl compensate "$sid" --reason "e2e: over TLS" >/dev/null 2>"$dir/ctl.err" && ok "sagactl compensates over HTTPS" \
  || bad "compensate over HTTPS failed: $(cat "$dir/ctl.err")"
by=$(sagactl --json show "$sid" | jq -r '.history[] | select(.kind == "compensation_requested") | "\(.detail.by) \(.detail.reason)"')
[ "$by" = "operator-1 e2e: over TLS" ] && ok "the history names the operator's token through TLS" || bad "audit entry: $by"
SAGACTL_CA_FILE=$t/other.crt sagactl list >/dev/null 2>"$dir/ctl.err"; rc=$?
[ "$rc" = 3 ] && grep -q "TLS handshake" "$dir/ctl.err" && ok "sagactl trusting another certificate: exit 3, 'TLS handshake' named" \
  || bad "sagactl with the wrong CA: exit $rc, $(cat "$dir/ctl.err")"
SAGACTL_CA_FILE=$dir/missing.crt sagactl list >/dev/null 2>"$dir/ctl.err"; rc=$?
[ "$rc" = 2 ] && grep -q "missing.crt" "$dir/ctl.err" && ok "sagactl with a CA file that does not exist: exit 2, naming it" \
  || bad "a missing CA file: exit $rc, $(cat "$dir/ctl.err")"
refused=$(curl -s --cacert "$t/sagad.crt" "${viewer[@]}" "$url/metrics" | awk '/^sagaflow_http_rejected_total\{reason="tls"\}/ { print $2 }')
[ "${refused:-0}" -ge 3 ] 2>/dev/null && ok "refused TLS connections are counted in /metrics ($refused)" \
  || bad "sagaflow_http_rejected_total{reason=\"tls\"} is '$refused'"
if grep -qF "$(cat "$t/operator.token")" "$dir/sagad.log"; then bad "a token is in sagad's log"; else ok "no token in sagad's log"; fi
e2e_result
