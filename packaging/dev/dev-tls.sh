#!/usr/bin/env bash
# dev-tls.sh DIR: the development and test TLS material in DIR (made once, kept
# while valid), all EC P-256 keys signed by a CA of our own (ca.pem):
# - the insurer simulator's certificate for 127.0.0.1 and localhost
#   (partner.pem, partner-key.pem): the aggregator trusts ca.pem for partner calls;
# - the local Kafka broker's for its TLS listener (kafka.pem, kafka-key.pem, both
#   in one PEM keystore kafka-keystore.pem) and the services' client
#   certificates for it, CN = their Kafka user (kafka-osago-aggregator.pem,
#   kafka-osago-core-app.pem, each with its -key.pem);
# - from a second, untrusted CA, a server certificate for the same names
#   (rogue.pem, rogue-key.pem: a partner whose certificate must fail
#   verification) and a Kafka client certificate (kafka-rogue.pem) the broker must refuse.
# Never used outside development and tests.
set -euo pipefail
dir=${1:?usage: dev-tls.sh DIR}
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
# Still valid for a day: nothing to do.
if [ -s partner.pem ] && [ -s kafka-keystore.pem ] && [ -s kafka-rogue.pem ] && [ -s rogue.pem ] && openssl x509 -checkend 86400 -noout -in partner.pem >/dev/null 2>&1; then
  exit 0
fi
umask 077
ext=$(mktemp) client_ext=$(mktemp)
trap 'rm -f "$ext" "$client_ext" ./*.csr ./*.srl' EXIT
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >"$ext"
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n' >"$client_ext"
# make_ca NAME SUBJECT, then sign_cert CA NAME [CN EXTFILE]: an EC P-256 key and certificate each
# (by default a server certificate for 127.0.0.1).
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj "$2" \
    -keyout "$1-key.pem" -out "$1.pem" 2>/dev/null
}
sign_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=${3:-127.0.0.1}" \
    -keyout "$2-key.pem" -out "$2.csr" 2>/dev/null
  openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1-key.pem" -CAcreateserial -days 30 \
    -extfile "${4:-$ext}" -out "$2.pem" 2>/dev/null
}
make_ca ca "/CN=osago development CA"
sign_cert ca partner
sign_cert ca kafka
cat kafka-key.pem kafka.pem >kafka-keystore.pem
sign_cert ca kafka-osago-aggregator osago-aggregator "$client_ext"
sign_cert ca kafka-osago-core-app osago-core-app "$client_ext"
make_ca rogue-ca "/CN=someone else's CA"
sign_cert rogue-ca rogue
sign_cert rogue-ca kafka-rogue osago-aggregator "$client_ext"
chmod 644 ca.pem partner.pem kafka.pem rogue.pem rogue-ca.pem
