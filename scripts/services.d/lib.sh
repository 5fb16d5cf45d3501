# Shared by scripts/services and the scripts/kafka-* wrappers: settings, jar
# resolution, and protocol probes that need no client tools (bash /dev/tcp only).
# Sourced, never executed.

SERVICES_D="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVICES_D/../.." && pwd)"

RUN_DIR="${DSTREAM_RUN_DIR:-$REPO_ROOT/.dstream}"
CACHE_DIR="${DSTREAM_CACHE:-$HOME/.cache/dstream}"
KAFKA_VERSION="${DSTREAM_KAFKA_VERSION:-4.1.1}"
ZK_VERSION="${DSTREAM_ZK_VERSION:-3.9.5}"
HBASE_VERSION="${DSTREAM_HBASE_VERSION:-2.6.1}"
KAFKA_TIMEOUT_S="${DSTREAM_KAFKA_TIMEOUT_S:-90}"
ZK_TIMEOUT_S="${DSTREAM_ZK_TIMEOUT_S:-30}"
HBASE_TIMEOUT_S="${DSTREAM_HBASE_TIMEOUT_S:-180}"

# Ports of the servers `up` starts (and of the default addresses): another set of ports and
# another DSTREAM_RUN_DIR give a second, private set of services beside the usual one.
KAFKA_PORT="${DSTREAM_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${DSTREAM_KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_SASL_PORT="${DSTREAM_KAFKA_SASL_PORT:-9094}"
ZK_PORT="${DSTREAM_ZK_PORT:-2181}"
REDIS_PORT="${DSTREAM_REDIS_PORT:-6379}"
PG_PORT="${DSTREAM_PG_PORT:-5432}"

DEFAULT_KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
DEFAULT_KAFKA_SASL_BROKERS=127.0.0.1:$KAFKA_SASL_PORT
DEFAULT_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
DEFAULT_ZK=127.0.0.1:$ZK_PORT
DEFAULT_PG_URL=postgres://postgres@127.0.0.1:$PG_PORT/dstream
DEFAULT_HBASE_REST=http://127.0.0.1:18080
# Standalone HBase's own ports, away from HBase's defaults and the project's ZooKeeper on 2181.
HBASE_ZK_PORT=12181
HBASE_MASTER_PORT=16000
HBASE_RS_PORT=16020
HBASE_REST_BIND="${DSTREAM_HBASE_REST_BIND:-127.0.0.1}"

KAFKA_BROKERS="${DSTREAM_KAFKA_BROKERS:-$DEFAULT_KAFKA_BROKERS}"
KAFKA_SASL_BROKERS="${DSTREAM_KAFKA_SASL_BROKERS:-$DEFAULT_KAFKA_SASL_BROKERS}"
REDIS_URL="${DSTREAM_REDIS_URL:-$DEFAULT_REDIS_URL}"
ZK_CONNECT="${DSTREAM_ZK:-$DEFAULT_ZK}"
PG_URL="${DSTREAM_PG_URL:-$DEFAULT_PG_URL}"
HBASE_REST="${DSTREAM_HBASE_REST:-$DEFAULT_HBASE_REST}"

# Prints a one-line error and exits; `services` installs a rollback hook first.
die() {
  if declare -F on_die >/dev/null; then on_die; fi
  printf 'services: %s\n' "$*" >&2
  exit 1
}

# `host:port` of the first address in a broker list, a ZooKeeper connect string
# or a URL such as redis://:pw@host:6379/0.
host_port() {
  local s="${1#*://}"
  s="${s%%,*}"
  s="${s##*@}"
  s="${s%%/*}"
  printf '%s\n' "$s"
}

# --- jars --------------------------------------------------------------------

kafka_libs() { printf '%s\n' "$CACHE_DIR/kafka-$KAFKA_VERSION/libs"; }
zk_libs() { printf '%s\n' "$CACHE_DIR/zookeeper-$ZK_VERSION/libs"; }
hbase_libs() { printf '%s\n' "$CACHE_DIR/hbase-$HBASE_VERSION/libs"; }

require_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found (Kafka and ZooKeeper need Java 17+); install it (apt-get install -y openjdk-17-jre-headless) or set DSTREAM_KAFKA_BROKERS and DSTREAM_ZK to use existing servers"
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${v%%.*}" =~ ^[0-9]+$ && "${v%%.*}" -ge 17 ]] ||
    die "java ${v:-unknown} is too old (Kafka 4 needs Java 17+); install openjdk-17-jre-headless or put a newer java first on PATH"
}

# Resolves a profile's jars (kafka | zookeeper) into the cache once; later runs reuse them
# until pom.xml changes. Writes into a temporary dir and renames it, so an interrupted
# download is never mistaken for a complete one.
ensure_libs() {
  local profile="$1" version="$2" dir="$3" stamp
  stamp="$(cksum <"$SERVICES_D/pom.xml")"
  [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$stamp" ]] && return 0
  command -v mvn >/dev/null 2>&1 ||
    die "mvn not found, needed once to download $profile $version into $dir; install it (apt-get install -y maven) or set DSTREAM_CACHE to a dir that already holds the jars"
  local tmp="$dir.tmp.$$" log="$CACHE_DIR/mvn-$profile-$version.log"
  mkdir -p "$CACHE_DIR"
  rm -rf "$tmp"
  printf 'services: downloading %s %s jars with Maven (once, into %s)\n' "$profile" "$version" "$dir" >&2
  if ! mvn -q -B -f "$SERVICES_D/pom.xml" -P"$profile" \
    -D"$profile.version=$version" -DincludeScope=runtime -DoutputDirectory="$tmp" \
    dependency:copy-dependencies >"$log" 2>&1; then
    rm -rf "$tmp"
    tail -n 20 "$log" >&2
    die "mvn could not resolve $profile $version (log: $log); check that Maven Central is reachable or set DSTREAM_${profile^^}_VERSION to a version it serves"
  fi
  printf '%s\n' "$stamp" >"$tmp/.complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

# Runs one of Kafka's command-line tools, defaulting --bootstrap-server to ours.
run_kafka_tool() {
  local main="$1"
  shift
  require_java
  ensure_libs kafka "$KAFKA_VERSION" "$(kafka_libs)"
  local a has_bootstrap=0
  for a in "$@"; do
    case "$a" in --bootstrap-server | --bootstrap-server=* | --bootstrap-controller | --bootstrap-controller=*) has_bootstrap=1 ;; esac
  done
  local extra=()
  ((has_bootstrap)) || extra=(--bootstrap-server "$KAFKA_BROKERS")
  # Short-lived JVM: C1 only and a small serial heap start ~2x faster on 2 cores.
  exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
    -Dlog4j2.configurationFile="$SERVICES_D/tools-log4j2.properties" \
    -cp "$(kafka_libs)/*" "$main" "${extra[@]}" "$@"
}

# --- probes (no client tools needed) -------------------------------------------

# True when something accepts TCP connections on host:port.
tcp_open() {
  local h="${1%:*}" p="${1##*:}"
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$h" "$p" 2>/dev/null
}

# Sends a Kafka Metadata v4 request (all topics) and succeeds when the reply carries
# our correlation id and at least one broker: a real metadata round trip, no JVM.
kafka_metadata_ok() {
  local h="${1%:*}" p="${1##*:}" bytes
  bytes="$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    # size=22 | api_key=3 api_version=4 correlation_id=7 client_id="dstream" | topics=null allow_auto_create=false
    printf "\x00\x00\x00\x16\x00\x03\x00\x04\x00\x00\x00\x07\x00\x07dstream\xff\xff\xff\xff\x00" >&3
    head -c 16 <&3 | od -An -tu1 -v' "$h" "$p" 2>/dev/null)" || return 1
  read -r -a b <<<"$bytes"
  # [4..7] correlation id, [8..11] throttle_time_ms, [12..15] number of brokers
  [[ ${#b[@]} -eq 16 && "${b[7]}" == 7 && $((b[12] + b[13] + b[14] + b[15])) -gt 0 ]]
}

# `srvr`, not `ruok`: ruok answers imok even when the server failed to load its data and
# serves no sessions; srvr then says "not currently serving requests".
zk_serving() {
  local h="${1%:*}" p="${1##*:}" reply
  reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1; printf srvr >&3; cat <&3' "$h" "$p" 2>/dev/null)"
  [[ "$reply" == *"Mode: "* ]]
}

# Prints the first line of Redis's answer to PING ("+PONG", "-NOAUTH ...").
redis_ping() {
  local h="${1%:*}" p="${1##*:}"
  timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "PING\r\n" >&3; IFS= read -r l <&3; printf "%s" "${l%$'"'"'\r'"'"'}"' "$h" "$p" 2>/dev/null
}

# PostgreSQL answers an SSLRequest with a single S or N before any authentication.
pg_answers() {
  local h="${1%:*}" p="${1##*:}" reply
  reply="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "\x00\x00\x00\x08\x04\xd2\x16\x2f" >&3; head -c 1 <&3' "$h" "$p" 2>/dev/null)"
  [[ "$reply" == S || "$reply" == N ]]
}

# Sends GET $2 to the HTTP server at host:port $1 and prints the response body when the status
# is 200 (HTTP/1.0: the server closes the connection after the body).
http_get() {
  local h="${1%:*}" p="${1##*:}" reply
  reply="$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET %s HTTP/1.0\r\nHost: %s\r\nAccept: application/json\r\n\r\n" "$2" "$0" >&3; cat <&3' "$h" "$p" "$2" 2>/dev/null)" || return 1
  [[ "$reply" == "HTTP/1."?" 200"* ]] || return 1
  printf '%s\n' "${reply#*$'\r\n\r\n'}"
}

# True when HBase's REST gateway at host:port answers for a cluster with a live region server and
# no dead one, and lists the namespaces: the master has finished starting, a restarted server's
# regions are assigned again (hbase:meta and the namespace table among them), tables can be created.
hbase_rest_ready() {
  local body
  body="$(http_get "$1" /status/cluster)" || return 1
  [[ "$body" == *'"LiveNodes":[{'* && "$body" != *'"DeadNodes":[{'* && "$body" != *'"DeadNodes":["'* ]] || return 1
  http_get "$1" /namespaces >/dev/null
}

# "pid 123 (nc)" for whatever listens on a local TCP port, or "an unknown process".
port_owner() {
  local port="$1" line pid name
  if command -v ss >/dev/null 2>&1; then
    line="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)"
    pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$line")"
    name="$(sed -n 's/.*users:(("\([^"]*\)".*/\1/p' <<<"$line")"
  fi
  if [[ -z "${pid:-}" ]] && command -v lsof >/dev/null 2>&1; then
    pid="$(lsof -nP -iTCP:"$port" -sTCP:LISTEN -t 2>/dev/null | head -n 1)"
    [[ -n "$pid" ]] && name="$(ps -o comm= -p "$pid" 2>/dev/null)"
  fi
  if [[ -n "${pid:-}" ]]; then printf 'pid %s (%s)\n' "$pid" "${name:-?}"; else printf 'an unknown process\n'; fi
}
