#!/usr/bin/env bash
# `make airflow`: the four components `airflow standalone` runs (scheduler, dag-processor, triggerer,
# api-server), started here so that every listening socket is on 127.0.0.1. `airflow standalone` also
# starts the scheduler's and triggerer's task-log servers, which bind every interface (Airflow 3.3's
# serve_logs has no host setting) and would publish task logs to the network; with one machine and the
# LocalExecutor the api-server reads task logs from $AIRFLOW_HOME/logs directly, so they are not started
# (--skip-serve-logs). The simple auth manager is for this local, single-user setup only (SECURITY.md).
#
# Run it under setsid: it leads the process group `make airflow-stop` signals. If any component exits,
# the others are stopped too, so a half-running Airflow never stays behind.
set -uo pipefail
bin="$(dirname "$0")/../../.venv/bin"
export PATH="$bin:$PATH"
export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
export AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
port="${AIRFLOW__API__PORT:-8080}"

airflow scheduler --skip-serve-logs &
airflow dag-processor &
airflow triggerer --skip-serve-logs &
airflow api-server --host 127.0.0.1 --port "$port" &

trap 'kill -TERM 0 2>/dev/null; wait' TERM INT
wait -n
echo "an Airflow component exited; stopping the others" >&2
kill -TERM 0 2>/dev/null
wait
