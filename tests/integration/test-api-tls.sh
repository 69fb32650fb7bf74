#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# test-api-tls.sh - tollgate-api serves HTTPS when api.tls_cert_file and
# api.tls_key_file are set (DESIGN §7 "optional TLS"): a self-signed
# certificate made here, a request that verifies it succeeds, plain HTTP on
# the same port gets no API answer, and a missing key file stops the service
# at start naming the key.
#
# Run: BUILD=/abs/build bash tests/integration/test-api-tls.sh (as root).
set -u -o pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/api_lib.sh"

tg_init api-tls
tg_need openssl
api_setup
tg_stop_pid "$API_PID" 10

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$TG_DIR/tls.key" -out "$TG_DIR/tls.crt" \
	>"$TG_DIR/openssl.log" 2>&1 || tg_fatal "openssl could not make a certificate"
chmod 0600 "$TG_DIR/tls.key"
cp "$API_CONF" "$API_CONF.plain"
printf 'tls_cert_file = %s\ntls_key_file = %s\n' "$TG_DIR/tls.crt" "$TG_DIR/tls.key" >>"$API_CONF"
api_start

code=$(curl -s -o "$TG_DIR/body" -w '%{http_code}' --cacert "$TG_DIR/tls.crt" \
	-H "Authorization: Bearer $API_ADMIN" "https://127.0.0.1:$API_PORT/v1/apis")
assert_eq "HTTPS with the certificate verified: 200" 200 "$code"
assert_eq "... and the API's answer" list "$(jq -r .object <"$TG_DIR/body")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$API_PORT/healthz")
assert_true "plain HTTP on the TLS port gets no API answer" "status $code" test "$code" != 200

tg_stop_pid "$API_PID" 10
cp "$API_CONF.plain" "$API_CONF"
printf 'tls_cert_file = %s\ntls_key_file = %s\n' "$TG_DIR/tls.crt" "$TG_DIR/missing.key" >>"$API_CONF"
"$BUILD/tollgate-api" --config "$API_CONF" serve >"$TG_DIR/api-bad.log" 2>&1 &
pid=$!
for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	tg_stop_pid "$pid" 5
	tg_not_ok "a missing key file stops the service at start" "it kept running"
else
	wait "$pid"
	assert_true "a missing key file stops the service at start" "exit 0" test $? -ne 0
fi
assert_match "... naming the key" "api.tls_key_file" "$(cat "$TG_DIR/api-bad.log")"

tg_summary
