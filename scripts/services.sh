# shellcheck shell=bash
# Makes sure Postgres (127.0.0.1:5432, trust auth, user postgres) and Redis (127.0.0.1:6379)
# are running: installs them from Debian packages when missing, starts them when stopped.
# Sourced by scripts/test; exports DATABASE_URL and REDIS_URL.

: "${PGHOST:=127.0.0.1}"
: "${PGPORT:=5432}"
: "${REDIS_PORT:=6379}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@${PGHOST}:${PGPORT}/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}}"

services_log() { echo "services: $*" >&2; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    services_log "cannot install $* (need root and apt-get)"
    return 1
  fi
  if [ -z "${SERVICES_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null && SERVICES_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_until() {
  local what=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  services_log "$what did not come up within 30s"
  return 1
}

postgres_ready() { pg_isready -h "$PGHOST" -p "$PGPORT" -q; }

ensure_postgres() {
  if command -v pg_isready >/dev/null 2>&1 && postgres_ready; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    services_log "installing postgresql"
    apt_install postgresql || return 1
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  local hba="/etc/postgresql/$version/main/pg_hba.conf"
  # Tests connect as postgres over TCP without a password, as on the usual machine.
  if [ -w "$hba" ] && ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  services_log "starting postgresql $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster "$version" main start 2>/dev/null || true
  wait_until postgres postgres_ready
}

redis_ready() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

ensure_redis() {
  if command -v redis-cli >/dev/null 2>&1 && redis_ready; then return 0; fi
  if ! command -v redis-server >/dev/null 2>&1; then
    services_log "installing redis-server"
    apt_install redis-server || return 1
  fi
  services_log "starting redis"
  local dir=/var/lib/redis
  [ -w "$dir" ] || dir=$(mktemp -d)
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir "$dir" --logfile "$dir/authz-tests.log" >/dev/null
  wait_until redis redis_ready
}
