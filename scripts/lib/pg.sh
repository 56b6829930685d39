# A private PostgreSQL cluster for scripts (scripts/faults, bench/run): initdb under
# $1/data with default durability (fsync and synchronous_commit on, as shipped), Unix
# socket in $1 (0700, socket 0700), no TCP, scram-sha-256 with a generated password in
# $1/pgpass (0600; the DSN names it). Source it; run as root (the server runs as
# postgres) or not.
# shellcheck shell=bash

pgbin=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
[ -x "$pgbin/pg_ctl" ] || pgbin=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# pg_cluster_init DIR [extra postgresql.conf lines...]: creates and starts the cluster.
pg_cluster_init() {
  local d=$1; shift
  mkdir -p "$d"
  chmod 700 "$d"
  local pw; pw=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077; echo "*:*:*:postgres:$pw" >"$d/pgpass"; echo "$pw" >"$d/initdb.pw")
  [ "$(id -u)" = 0 ] && chown postgres "$d" "$d/pgpass" "$d/initdb.pw"
  as_pg "$pgbin/initdb" -D "$d/data" -U postgres --auth=scram-sha-256 --pwfile="$d/initdb.pw" >/dev/null
  rm -f "$d/initdb.pw"
  {
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$d'"
    echo "unix_socket_permissions = 0700"
    echo "port = 5432"
    for line in "$@"; do echo "$line"; done
  } >>"$d/data/postgresql.conf"
  pg_cluster_ctl "$d" -w start
}
# pg_cluster_ctl DIR ARGS...: pg_ctl on that cluster (start, stop, restart -m immediate...).
pg_cluster_ctl() { local d=$1; shift; as_pg "$pgbin/pg_ctl" -D "$d/data" -l "$d/server.log" "$@" >/dev/null; }
pg_cluster_dsn() { echo "host=$1 port=5432 user=postgres dbname=postgres passfile=$1/pgpass"; }
