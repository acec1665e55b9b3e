#!/usr/bin/env bash
# Fetch, start and stop a real single-node Apache Kafka 3.9 broker (KRaft) on
# 127.0.0.1 with ephemeral ports, for the end-to-end tests.
#   scripts/kafka.sh fetch             download the broker's jars with Maven (idempotent)
#   scripts/kafka.sh start DIR         start a broker whose state lives in DIR; prints
#                                      the bootstrap address and writes it to DIR/bootstrap
#   scripts/kafka.sh stop DIR          stop it (SIGTERM, then SIGKILL after 20 s)
#   scripts/kafka.sh restart DIR       start a stopped broker again, on its address, with its data
#   KAFKA_SASL=1 scripts/kafka.sh start DIR  also a SASL_PLAINTEXT listener (PLAIN; users
#                                      recd/recd-secret, admin/admin-secret), its address in DIR/bootstrap_sasl
#   KAFKA_TLS=1 scripts/kafka.sh start DIR   also an SSL listener, its address in DIR/bootstrap_tls;
#                                      a throwaway CA made with openssl signs its certificate
#                                      (DIR/tls/ca.pem: give it to clients as ssl.ca.location)
#   scripts/kafka.sh tool CLASS ARGS   run one of Kafka's command-line tools by class, e.g.
#                                      org.apache.kafka.tools.DeleteRecordsCommand
# Env: KAFKA_VERSION (default 3.9.1), RECD_KAFKA_HOME (default ~/.cache/recd/kafka-$KAFKA_VERSION).
set -euo pipefail
KAFKA_VERSION=${KAFKA_VERSION:-3.9.1}
home=${RECD_KAFKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/recd/kafka-$KAFKA_VERSION}
libs=$home/libs

fetch() {
  [ -f "$home/.complete" ] && return 0
  mkdir -p "$home"
  cat >"$home/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>recd</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
  (cd "$home" && mvn -q -B dependency:copy-dependencies -DoutputDirectory="$libs" -DincludeScope=runtime)
  touch "$home/.complete"
}

free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

start() {
  local dir=$1
  fetch >&2  # Maven may print terminal escapes on stdout; stdout is the address only
  mkdir -p "$dir/data"
  local bport cport sport listeners advertised sasl_props=""
  bport=$(free_port); cport=$(free_port)
  while [ "$cport" = "$bport" ]; do cport=$(free_port); done
  listeners="PLAINTEXT://127.0.0.1:$bport,CONTROLLER://127.0.0.1:$cport"
  advertised="PLAINTEXT://127.0.0.1:$bport"
  if [ "${KAFKA_SASL:-0}" = 1 ]; then
    # A SASL_PLAINTEXT listener (mechanism PLAIN) besides the plain one, with
    # the users recd/recd-secret and admin/admin-secret.
    sport=$(free_port)
    while [ "$sport" = "$bport" ] || [ "$sport" = "$cport" ]; do sport=$(free_port); done
    listeners="PLAINTEXT://127.0.0.1:$bport,SASL_PLAINTEXT://127.0.0.1:$sport,CONTROLLER://127.0.0.1:$cport"
    advertised="PLAINTEXT://127.0.0.1:$bport,SASL_PLAINTEXT://127.0.0.1:$sport"
    sasl_props="sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username=\"admin\" password=\"admin-secret\" user_admin=\"admin-secret\" user_recd=\"recd-secret\";"
    echo "127.0.0.1:$sport" >"$dir/bootstrap_sasl"
  fi
  local tls_props=""
  if [ "${KAFKA_TLS:-0}" = 1 ]; then
    # An SSL listener besides the others. Its certificate names 127.0.0.1 (so
    # clients verify the host), signed by a CA made here for this broker only.
    local tport
    tport=$(free_port)
    while [ "$tport" = "$bport" ] || [ "$tport" = "$cport" ] || [ "$tport" = "${sport:-}" ]; do tport=$(free_port); done
    mkdir -p "$dir/tls"
    (
      cd "$dir/tls"
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=recd-test-ca &&
        openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj /CN=127.0.0.1 &&
        printf 'subjectAltName=IP:127.0.0.1\n' >san.ext &&
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 2 -extfile san.ext &&
        cat broker.key broker.pem >keystore.pem
    ) >"$dir/tls.log" 2>&1 || { cat "$dir/tls.log" >&2; return 1; }
    listeners="${listeners/,CONTROLLER:/,SSL://127.0.0.1:$tport,CONTROLLER:}"
    advertised="$advertised,SSL://127.0.0.1:$tport"
    tls_props="listener.name.ssl.ssl.keystore.type=PEM
listener.name.ssl.ssl.keystore.location=$dir/tls/keystore.pem"
    echo "127.0.0.1:$tport" >"$dir/bootstrap_tls"
  fi
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners
advertised.listeners=$advertised
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT
$sasl_props
$tls_props
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=4
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
  cat >"$dir/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
L4J
  java_opts=(-Xmx1g -Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$dir")
  java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format -t "$(java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool random-uuid)" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1
  launch "$dir" "$bport"
}

# restart DIR: starts a stopped broker again on its address, with its data.
restart() {
  local dir=$1 bport
  fetch >&2
  [ ! -f "$dir/pid" ] || { echo "kafka in $dir is still running (pid $(cat "$dir/pid"))" >&2; return 1; }
  bport=$(sed -n 's/^listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$dir/server.properties")
  [ -n "$bport" ] || { echo "no broker in $dir to restart (start it first)" >&2; return 1; }
  launch "$dir" "$bport"
}

java_opts=()
launch() {
  local dir=$1 bport=$2 i
  java_opts=(-Xmx1g -Dlog4j.configuration="file:$dir/log4j.properties" -Dkafka.logs.dir="$dir")
  setsid java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" >>"$dir/stdout.log" 2>&1 &
  echo $! >"$dir/pid"
  for i in $(seq 1 120); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$bport") 2>/dev/null; then
      echo "127.0.0.1:$bport" >"$dir/bootstrap"
      echo "127.0.0.1:$bport"
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { echo "kafka exited; see $dir/stdout.log" >&2; tail -20 "$dir/stdout.log" >&2; return 1; }
    sleep 0.5
  done
  echo "kafka did not open port $bport within 60 s; see $dir/server.log" >&2
  stop "$dir"; return 1
}

stop() {
  local dir=$1 pid
  [ -f "$dir/pid" ] || return 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

tool() {
  fetch >&2
  local class=$1; shift
  java -Xmx256m -Dlog4j.configuration=none -cp "$libs/*" "$class" "$@"
}

case "${1:-}" in
  fetch) fetch ;;
  tool) shift; tool "${1:?usage: kafka.sh tool CLASS ARGS...}" "${@:2}" ;;
  start) start "${2:?usage: kafka.sh start DIR}" ;;
  restart) restart "${2:?usage: kafka.sh restart DIR}" ;;
  stop) stop "${2:?usage: kafka.sh stop DIR}" ;;
  *) echo "usage: $0 fetch | start DIR | stop DIR | restart DIR | tool CLASS ARGS..." >&2; exit 2 ;;
esac
