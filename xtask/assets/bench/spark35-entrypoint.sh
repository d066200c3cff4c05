#!/usr/bin/env bash
# Benchmark fixture for `cargo xtask bench entrypoint` ("theirs"): the work Spark
# 3.5's Kubernetes entrypoint.sh does before the JVM starts, done the way that
# script does it (bash, forks of id/getent/env/grep/sort/sed, a temp file, tini),
# so its start-up cost can be set against spark-entrypoint's. Written for sparkimg
# from the behaviour described in the project's entrypoint research; it is not
# Apache's file, and only the driver/executor/pass-through paths are kept.
#
# The forms shellcheck dislikes (unquoted expansions, `! [ -z ]`, export of a
# command substitution) are upstream's and kept on purpose: they decide the argv.
# shellcheck disable=SC2206,SC2237,SC2155

# Upstream uses `set -ex`; the trace would only time stderr writes here.
set -e

# Random-UID support: make sure the running uid has a passwd entry.
uid=$(id -u)
gid=$(id -g)
set +e
passwd_entry=$(getent passwd "$uid")
set -e
if [ -z "$passwd_entry" ]; then
  if [ -w /etc/passwd ]; then
    echo "$uid:x:$uid:$gid:${SPARK_USER_NAME:-anonymous uid}:$SPARK_HOME:/bin/false" >>/etc/passwd
  else
    echo "Container ENTRYPOINT failed to add passwd entry for anonymous UID"
  fi
fi

if [ -z "$JAVA_HOME" ]; then
  JAVA_HOME=$(java -XshowSettings:properties -version 2>&1 >/dev/null | grep 'java.home' | awk '{print $3}')
fi

SPARK_CLASSPATH="$SPARK_CLASSPATH:${SPARK_HOME}/jars/*"

# SPARK_JAVA_OPT_<n> in numeric order of n, one option per line, through a file
# in the working directory (which therefore must be writable).
env | grep SPARK_JAVA_OPT_ | sort -t_ -k4 -n | sed 's/[^=]*=\(.*\)/\1/g' >java_opts.txt
if command -v readarray >/dev/null 2>&1; then
  readarray -t SPARK_EXECUTOR_JAVA_OPTS <java_opts.txt
else
  SPARK_EXECUTOR_JAVA_OPTS=()
  while IFS= read -r opt; do SPARK_EXECUTOR_JAVA_OPTS+=("$opt"); done <java_opts.txt
fi

if [ -n "$SPARK_EXTRA_CLASSPATH" ]; then
  SPARK_CLASSPATH="$SPARK_CLASSPATH:$SPARK_EXTRA_CLASSPATH"
fi
if ! [ -z "${PYSPARK_PYTHON+x}" ]; then
  export PYSPARK_PYTHON
fi
if ! [ -z "${PYSPARK_DRIVER_PYTHON+x}" ]; then
  export PYSPARK_DRIVER_PYTHON
fi
if [ -n "$HADOOP_HOME" ] && [ -z "$SPARK_DIST_CLASSPATH" ]; then
  export SPARK_DIST_CLASSPATH="$("$HADOOP_HOME/bin/hadoop" classpath)"
fi
if ! [ -z "${HADOOP_CONF_DIR+x}" ]; then
  SPARK_CLASSPATH="$HADOOP_CONF_DIR:$SPARK_CLASSPATH"
fi
if ! [ -z "${SPARK_CONF_DIR+x}" ]; then
  SPARK_CLASSPATH="$SPARK_CONF_DIR:$SPARK_CLASSPATH"
elif ! [ -z "${SPARK_HOME+x}" ]; then
  SPARK_CLASSPATH="$SPARK_HOME/conf:$SPARK_CLASSPATH"
fi
SPARK_CLASSPATH="$SPARK_CLASSPATH:$PWD"

# The executor's expansions are unquoted on purpose: upstream's are, and an empty
# value then drops the word rather than passing "".
case "$1" in
  driver)
    shift 1
    CMD=(
      "$SPARK_HOME/bin/spark-submit"
      --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS"
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS"
      --deploy-mode client
      "$@"
    )
    ;;
  executor)
    shift 1
    CMD=(
      ${JAVA_HOME}/bin/java
      "${SPARK_EXECUTOR_JAVA_OPTS[@]}"
      -Xms$SPARK_EXECUTOR_MEMORY
      -Xmx$SPARK_EXECUTOR_MEMORY
      -cp "$SPARK_CLASSPATH:$SPARK_DIST_CLASSPATH"
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend
      --driver-url $SPARK_DRIVER_URL
      --executor-id $SPARK_EXECUTOR_ID
      --cores $SPARK_EXECUTOR_CORES
      --app-id $SPARK_APPLICATION_ID
      --hostname $SPARK_EXECUTOR_POD_IP
      --resourceProfileId $SPARK_RESOURCE_PROFILE_ID
      --podName $SPARK_EXECUTOR_POD_NAME
    )
    ;;
  *)
    echo "Non-spark-on-k8s command provided, proceeding in pass-through mode..."
    CMD=("$@")
    ;;
esac

# tini as the subreaper and signal forwarder, as in upstream images.
exec /usr/bin/tini -s -- "${CMD[@]}"
