# shellcheck shell=bash
# Keys and tokens made on the fly, for scripts that run sagad with CURVE and API tokens
# (docs/security.md shows the same steps for a real deployment).
#
# make_trust DIR SAGACTL SERVICE...  writes, under DIR:
#   sagad.secret, sagad.pub         sagad's CURVE pair
#   SERVICE.secret, SERVICE.pub     one pair per service, allowed its own queue only
#   allow.list                      the allow-list (name key queue), one line per service
#   viewer.token, operator.token, admin.token   API tokens (0600), and
#   tokens                          their hashes, as sagad's api_tokens file wants them
# and sets TRUST_SAGAD_FLAGS (an array) to the sagad flags that turn both on, and
# SAGACTL_TOKEN to the operator's token. An extra key "stranger" is made but not listed.
make_trust() {
  local dir=$1 sagactl=$2; shift 2
  mkdir -p "$dir"
  "$sagactl" keygen "$dir/sagad" >/dev/null
  "$sagactl" keygen "$dir/stranger" >/dev/null
  : >"$dir/allow.list"
  local s
  for s in "$@"; do
    "$sagactl" keygen "$dir/$s" >/dev/null
    echo "$s $(grep -v '^# ' "$dir/$s.pub") $s" >>"$dir/allow.list"
  done
  : >"$dir/tokens"
  local role
  for role in viewer operator admin; do
    "$sagactl" token "$role-1" "$role" --out "$dir/$role.token" >>"$dir/tokens"
  done
  TRUST_SAGAD_FLAGS=(--curve-key "$dir/sagad.secret" --curve-allow-list "$dir/allow.list" --api-tokens "$dir/tokens")
  SAGACTL_TOKEN=$(cat "$dir/operator.token")
  export SAGACTL_TOKEN
}

# worker_keys DIR SERVICE: the worker flags for SERVICE's key pair and sagad's public key.
worker_keys() { echo "--key-file $1/$2.secret --server-key-file $1/sagad.pub"; }
