#!/usr/bin/env bash
# A tour of the Tasky API: list the workers, start three sleepers, list the tasks, cancel one,
# run ifconfig and read its result, then schedule tasks with `delay` and `execute_at`.
#
# Start a server first (`make run` in another terminal), then:
#   bash examples/walkthrough.sh
# Environment:
#   TASKY_URL        base URL of the server (default http://127.0.0.1:8888)
#   TASKY_API_TOKEN  sent as "Authorization: Bearer <token>" when set
set -euo pipefail

BASE="${TASKY_URL:-http://127.0.0.1:8888}"
BASE="${BASE%/}/tasky/v1"
AUTH=()
if [[ -n "${TASKY_API_TOKEN:-}" ]]; then
    AUTH=(-H "Authorization: Bearer ${TASKY_API_TOKEN}")
fi

# curl -s with the token, if any.
api() {
    curl -s ${AUTH[@]+"${AUTH[@]}"} "$@"
}

pretty() {
    python3 -m json.tool
}

# field NAME: print one top-level field of the JSON object on stdin; fail loudly if it is
# not there (an error answer, say).
field() {
    python3 -c '
import json, sys
body = sys.stdin.read()
try:
    value = json.loads(body)[sys.argv[1]]
except (ValueError, KeyError, TypeError):
    sys.exit(f"no {sys.argv[1]!r} in the answer: {body.strip()}")
print(value)
' "$1"
}

# step TEXT: print a heading, then show the command that follows.
step() {
    printf '\n### %s\n' "$*"
}

# wait_for ID STATUS...: poll the task's status (every second, 60 tries at most) until it is
# one of STATUS; fail if it never gets there.
wait_for() {
    local id="$1" status=""
    shift
    for _ in $(seq 1 60); do
        status="$(api "$BASE/tasks/$id/status" | field status)"
        for wanted in "$@"; do
            if [[ "$status" == "$wanted" ]]; then
                echo "task $id is $status"
                return 0
            fi
        done
        echo "task $id is $status, waiting..."
        sleep 1
    done
    echo "task $id is still $status after 60 s (wanted: $*)" >&2
    return 1
}

if ! api -o /dev/null --fail "$BASE/health"; then
    echo "no Tasky server answers at $BASE (start one with: make run)" >&2
    exit 1
fi

step "List available workers: GET /workers/"
echo "curl -s $BASE/workers/"
api "$BASE/workers/" | pretty

step "Submit three sleepers (30 s each): POST /workers/sleeper"
ids=()
for _ in 1 2 3; do
    echo "curl -s -X POST $BASE/workers/sleeper -d '{\"config\": {\"seconds\": 30}}'"
    answer="$(api -X POST "$BASE/workers/sleeper" -d '{"config": {"seconds": 30}}')"
    echo "$answer" | pretty
    ids+=("$(echo "$answer" | field task_id)")
done

step "List all tasks, newest first: GET /tasks/"
sleep 1 # let them start
echo "curl -s $BASE/tasks/"
api "$BASE/tasks/" | pretty

victim="${ids[2]}"
step "Cancel a task: POST /tasks/$victim/cancel"
echo "curl -s -X POST $BASE/tasks/$victim/cancel"
api -X POST "$BASE/tasks/$victim/cancel" | pretty
wait_for "$victim" canceled

step "Its status: GET /tasks/$victim/status"
echo "curl -s $BASE/tasks/$victim/status"
api "$BASE/tasks/$victim/status" | pretty

step "The tasks of the sleeper worker: GET /tasks/?worker=sleeper"
echo "curl -s '$BASE/tasks/?worker=sleeper&limit=3'"
api "$BASE/tasks/?worker=sleeper&limit=3" | pretty

step "Run ifconfig: POST /workers/ifconfig"
echo "curl -s -X POST $BASE/workers/ifconfig"
answer="$(api -X POST "$BASE/workers/ifconfig")"
echo "$answer" | pretty
ifconfig_id="$(echo "$answer" | field task_id)"
wait_for "$ifconfig_id" completed failed canceled

step "Get the result of a task: GET /tasks/$ifconfig_id/result"
echo "curl -s $BASE/tasks/$ifconfig_id/result"
api "$BASE/tasks/$ifconfig_id/result" | pretty

step "Run a task in 5 seconds: \"delay\""
echo "curl -s -X POST $BASE/workers/echo -d '{\"config\": {\"message\": \"five seconds later\"}, \"delay\": 5}'"
answer="$(api -X POST "$BASE/workers/echo" \
    -d '{"config": {"message": "five seconds later"}, "delay": 5}')"
echo "$answer" | pretty
delayed_id="$(echo "$answer" | field task_id)"

when="$(python3 -c '
import datetime
at = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=10)
print(at.isoformat(timespec="seconds").replace("+00:00", "Z"))
')"
step "Run a task at a given time: \"execute_at\": \"$when\""
echo "curl -s -X POST $BASE/workers/echo -d '{\"config\": {\"message\": \"on time\"}, \"execute_at\": \"$when\"}'"
answer="$(api -X POST "$BASE/workers/echo" \
    -d "{\"config\": {\"message\": \"on time\"}, \"execute_at\": \"$when\"}")"
echo "$answer" | pretty
at_id="$(echo "$answer" | field task_id)"

wait_for "$delayed_id" completed failed canceled
wait_for "$at_id" completed failed canceled

step "How late they started: GET /tasks/<id>/statistics"
for id in "$delayed_id" "$at_id"; do
    echo "curl -s $BASE/tasks/$id/statistics"
    api "$BASE/tasks/$id/statistics" | pretty
done

printf '\nDone. The two other sleepers finish on their own within 30 s.\n'
