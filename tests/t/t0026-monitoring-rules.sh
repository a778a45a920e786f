#!/usr/bin/env bash
# t0026-monitoring-rules: deploy/monitoring holds what it says: promtool
# accepts the alert rules and their unit tests pass; the Grafana dashboard
# is JSON whose every query is valid PromQL; and every metric name the rules
# and the dashboard use is in a real /metrics scrape (the broker's families
# only when WEFT_TEST_AMQP_URL names a RabbitMQ to configure).
set -u
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" || exit 1
# shellcheck source-path=SCRIPTDIR source=lib_http.sh
. "$WEFT_SRC/tests/t/lib_http.sh" || exit 1

mon=$WEFT_SRC/deploy/monitoring
if ! command -v promtool >/dev/null; then
  "$WEFT_SRC/scripts/bootstrap" test >/dev/null 2>&1 || true
fi
if ! command -v promtool >/dev/null; then
  skip "promtool is missing and 'scripts/bootstrap test' could not install Debian's prometheus"
  test_done
fi

expect_exit -m "promtool check rules weft-rules.yaml" 0 promtool check rules "$mon/weft-rules.yaml"
check_has "it finds the alerts" "SUCCESS" "$out"
# promtool resolves rule_files from the test file's folder
(cd "$mon" && promtool test rules weft-rules.test.yaml) >"$tmp/out" 2>&1
rc=$? out=$(cat "$tmp/out") err=
check_rc "promtool test rules weft-rules.test.yaml" 0

# Each dashboard query, with Grafana's variables given values, becomes a
# recording rule so promtool parses it.
expect_exit -m "the dashboard's queries as rules" 0 python3 - "$mon/grafana-dashboard.json" "$tmp/dash-rules.yaml" <<'EOF_PY'
import json, sys
d = json.load(open(sys.argv[1]))
exprs = []
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            exprs.append(t["expr"])
walk(d["panels"])
for v in d["templating"]["list"]:
    if isinstance(v.get("query"), dict):
        exprs.append(v["query"]["query"].replace("label_values(", "group by (instance) (").replace(", instance)", ")"))
assert len(exprs) >= 20, exprs
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$instance", ".*").replace("${datasource}", "")
        f.write("      - record: weft_dashboard_query_%d\n        expr: %s\n" % (i, json.dumps(e)))
print(len(exprs))
EOF_PY
expect_exit -m "promtool parses every dashboard query" 0 promtool check rules "$tmp/dash-rules.yaml"

# The names the rules and the dashboard use.
python3 - "$mon/weft-rules.yaml" "$mon/grafana-dashboard.json" >"$tmp/used" <<'EOF_PY'
import re, sys
names = set()
for path in sys.argv[1:]:
    names |= set(re.findall(r"\bweft_[a-z_]+\b", open(path).read()))
names.discard("weft_dashboard_query_")
print("\n".join(sorted(n for n in names if not n.startswith("weft_dashboard"))))
EOF_PY
check_eq "the rules and dashboard use a dozen names and more" 1 "$([ "$(wc -l <"$tmp/used")" -ge 12 ] && echo 1)"

# A real scrape, with a run done so every labelled family has series.
broker=
if [ -n "${WEFT_TEST_AMQP_URL:-}" ]; then
  printf 'broker:\n  rabbitmq:\n    url: %s\n' "$WEFT_TEST_AMQP_URL" >"$WEFT_HOME/weft.yaml"
  broker=1
fi
cp -r "$WEFT_SRC/tests/t/fixtures/http" "$tmp/loc"
start_server -l "$tmp/loc" || { not_ok "weft dev starts"; test_done; }
py_checks "$tmp/scrape" <<'EOF_PY'
import sys, time
from weft_http import check, client
c = client()
check("a run succeeds", (c.wait_run(c.post("/api/v1/jobs/loc/hello/launch", {}).json["run_id"]) or {}).get("status") == "success")
deadline = time.time() + 10
while True:
    text = c.get("/metrics").body.decode()
    if 'weft_steps_total{job="hello"' in text or time.time() > deadline:
        break
    time.sleep(0.1)
open(sys.argv[2], "w").write(text)
EOF_PY
sed -n 's/^\(weft_[a-z_]*\).*/\1/p' "$tmp/scrape" | sort -u >"$tmp/scraped"
broker_names='^weft_(broker_up|queue_[a-z_]+|workers)$'
grep -Ev "$broker_names" "$tmp/used" | comm -23 - "$tmp/scraped" >"$tmp/missing"
check_eq "every name the rules and dashboard use is in the scrape" "" "$(cat "$tmp/missing")"
if [ -n "$broker" ]; then
  grep -E "$broker_names" "$tmp/used" | comm -23 - "$tmp/scraped" >"$tmp/missing"
  check_eq "the broker's families too" "" "$(cat "$tmp/missing")"
else
  skip "the broker's families (weft_queue_*, weft_workers, weft_broker_up): WEFT_TEST_AMQP_URL is not set"
fi
stop_server
check_eq "the server stops cleanly" 0 "$server_rc"
test_done
