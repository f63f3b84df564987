#!/usr/bin/env bash
# The tour of examples/walkthrough.sh with the `tasky` command line instead of curl: list the
# workers, start three sleepers, list the tasks, cancel one, run ifconfig and read its result,
# then schedule tasks with --delay and --at.
#
# Start a server first (`make run` in another terminal), then:
#   bash examples/walkthrough_cli.sh
# Environment:
#   TASKY_URL        base URL of the server (default http://127.0.0.1:8888)
#   TASKY_API_TOKEN  the server's token, when it has one
#   TASKY_CLI        the command to run (default: `tasky` if installed, else this clone's
#                    .venv/bin/python -m tasky)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${TASKY_CLI:-}" ]]; then
    read -r -a CLI <<<"$TASKY_CLI"
elif command -v tasky >/dev/null; then
    CLI=(tasky)
else
    python="$ROOT/.venv/bin/python"
    [[ -x "$python" ]] || python=python3
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    CLI=("$python" -m tasky)
fi

# tasky ARGS...: show the command, then run it.
tasky() {
    printf '$ tasky' >&2
    printf ' %q' "$@" >&2
    printf '\n' >&2
    "${CLI[@]}" "$@"
}

# step TEXT: print a heading.
step() {
    printf '\n### %s\n' "$*"
}

if ! "${CLI[@]}" health >/dev/null; then
    echo "no Tasky server answers (start one with: make run)" >&2
    exit 1
fi

step "List available workers"
tasky workers

step "Submit three sleepers (30 s each)"
ids=()
for _ in 1 2 3; do
    ids+=("$(tasky submit sleeper seconds:=30 -q)")
done
printf '%s\n' "${ids[@]}"

step "List the tasks, newest first"
sleep 1 # let them start
tasky ls --limit 5

victim="${ids[2]}"
step "Cancel a task"
tasky cancel "$victim"
# wait exits 1 when the task ends other than completed: canceled is what we want here.
tasky wait "$victim" --timeout 60 || [[ $? == 1 ]]

step "Its status"
tasky status "$victim"

step "The tasks of the sleeper worker"
tasky ls --worker sleeper --limit 3

step "Run ifconfig and wait for its result"
ifconfig_id="$(tasky submit ifconfig -q)"
tasky wait "$ifconfig_id" --timeout 60 --json

step "Run a task in 5 seconds: --delay"
delayed_id="$(tasky submit echo message="five seconds later" --delay 5 -q)"
tasky status "$delayed_id"

when="$(date -u -d '+10 seconds' +%Y-%m-%dT%H:%M:%SZ)"
step "Run a task at a given time: --at $when"
at_id="$(tasky submit echo message="on time" --at "$when" -q)"
tasky status "$at_id"

tasky wait "$delayed_id" --timeout 60
tasky wait "$at_id" --timeout 60

step "How late they started: tasky stats"
for id in "$delayed_id" "$at_id"; do
    tasky stats "$id"
done

printf '\nDone. The two other sleepers finish on their own within 30 s.\n'
