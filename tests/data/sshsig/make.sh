#!/bin/sh
# Regenerates the SSHSIG fixtures in this folder with the system's ssh-keygen (OpenSSH >= 8.9).
# The private keys are thrown away; only public keys, signatures and the signed message stay.
#   message.canon          canonical bytes of a pytest-gpu-proof vector receipt
#   <key>.pub              the public key ("TYPE BASE64 comment")
#   <key>.sig              ssh-keygen -Y sign -n gpu-proof (hash sha512, rsa-sha2-512 for RSA)
#   <key>.sha256.sig       the same with -O hashalg=sha256
#   ed25519.git.sig        namespace "git" instead of "gpu-proof" (must be refused)
#   allowed_signers        "alice <key>" for every key, for ssh-keygen -Y verify
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=${GP_VECTORS:-$here/../../vectors/pytest-gpu-proof-v1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$src/canonical/alice-ed25519-0-clean.canon" "$here/message.canon"
: > "$here/allowed_signers"
for spec in ed25519:ed25519: ecdsa256:ecdsa:256 ecdsa384:ecdsa:384 ecdsa521:ecdsa:521 \
            rsa2048:rsa:2048 rsa3072:rsa:3072; do
  name=${spec%%:*}; rest=${spec#*:}; type=${rest%%:*}; bits=${rest#*:}
  ssh-keygen -q -t "$type" ${bits:+-b "$bits"} -N '' -C "alice-$name" -f "$tmp/$name"
  cp "$tmp/$name.pub" "$here/$name.pub"
  ssh-keygen -q -Y sign -n gpu-proof -f "$tmp/$name" "$here/message.canon"
  mv "$here/message.canon.sig" "$here/$name.sig"
  ssh-keygen -q -Y sign -n gpu-proof -O hashalg=sha256 -f "$tmp/$name" "$here/message.canon"
  mv "$here/message.canon.sig" "$here/$name.sha256.sig"
  if [ "$name" = ed25519 ]; then
    ssh-keygen -q -Y sign -n git -f "$tmp/$name" "$here/message.canon"
    mv "$here/message.canon.sig" "$here/ed25519.git.sig"
  fi
  printf 'alice %s\n' "$(cut -d' ' -f1,2 "$tmp/$name.pub")" >> "$here/allowed_signers"
done
