# shellcheck shell=bash
# Helpers for scripts that run sagad with --http-listen 127.0.0.1:0 (any free port).

# sagad_url LOG [SECONDS]: waits (bounded) until sagad's log names the URL it serves HTTP
# on (its sagad_ready or standby line, text or JSON), and prints it.
sagad_url() {
  local log=$1 until=$(( $(date +%s) + ${2:-60} )) url
  while :; do
    url=$(grep -oE 'https?://127\.0\.0\.1:[0-9]+' "$log" 2>/dev/null | tail -1)
    [ -n "$url" ] && { echo "$url"; return 0; }
    [ "$(date +%s)" -lt "$until" ] || { echo "sagad_url: no HTTP URL in $log" >&2; return 1; }
    sleep 0.1  # poll interval of an external condition
  done
}

# port_of URL: the port of http[s]://host:port.
port_of() { echo "${1##*:}"; }
