#!/usr/bin/env bash
# dev-tls.sh DIR: the development and test TLS material in DIR (made once, kept
# while valid): a CA of our own (ca.pem) and the insurer simulator's certificate
# for 127.0.0.1 and localhost signed by it (partner.pem, partner-key.pem) — the
# aggregator trusts ca.pem for partner calls — and a second, untrusted CA's
# certificate for the same names (rogue.pem, rogue-key.pem): a partner whose
# certificate must fail verification. Never used outside development and tests.
set -euo pipefail
dir=${1:?usage: dev-tls.sh DIR}
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
# Still valid for a day: nothing to do.
if [ -s partner.pem ] && [ -s rogue.pem ] && openssl x509 -checkend 86400 -noout -in partner.pem >/dev/null 2>&1; then
  exit 0
fi
umask 077
ext=$(mktemp)
trap 'rm -f "$ext" ./*.csr ./*.srl' EXIT
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$ext"
# make_ca NAME SUBJECT, then sign_cert CA NAME: an EC P-256 key and certificate each.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "$2" \
    -keyout "$1-key.pem" -out "$1.pem" 2>/dev/null
}
sign_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$2-key.pem" -out "$2.csr" 2>/dev/null
  openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1-key.pem" -CAcreateserial -days 30 \
    -extfile "$ext" -out "$2.pem" 2>/dev/null
}
make_ca ca "/CN=osago development partner CA"
sign_cert ca partner
make_ca rogue-ca "/CN=someone else's CA"
sign_cert rogue-ca rogue
chmod 644 ca.pem partner.pem rogue.pem rogue-ca.pem
