#!/bin/sh
# One KRaft node (broker+controller) on KAFKA_PORT, advertised as KAFKA_ADVERTISED_HOST:KAFKA_PORT
# (the container maps that same port on the host); the controller stays inside (9094, loopback).
# The settings are those of src/local.ts's prepareKafka.
set -euf  # -f: the classpath wildcard is for java, not the shell
data=/var/lib/kafka
props=$data/server.properties
cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://0.0.0.0:${KAFKA_PORT},CONTROLLER://127.0.0.1:9094
advertised.listeners=PLAINTEXT://${KAFKA_ADVERTISED_HOST}:${KAFKA_PORT}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
controller.quorum.bootstrap.servers=127.0.0.1:9094
log.dirs=$data/data
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=500
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
PROPS
jvm="-Xms256m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true -Dorg.slf4j.simpleLogger.showDateTime=true -cp /opt/kafka/libs/*"
if [ ! -f "$data/data/meta.properties" ]; then
  # a random cluster id: 16 bytes, base64url without padding (Kafka's Uuid)
  id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | sed 's/^-/A/')
  # shellcheck disable=SC2086
  java $jvm kafka.tools.StorageTool format -t "$id" -c "$props" --standalone
fi
# shellcheck disable=SC2086
exec java $jvm kafka.Kafka "$props"
