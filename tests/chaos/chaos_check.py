# chaos_check.py: what the chaos test (tests/chaos/run) reads from the store
# at the end: runs lost, stuck, failed for infrastructure reasons, steps
# completed twice, and runs that two coordinators advanced at once.
import json
import os
import subprocess

FINAL = ("success", "failure", "canceled")
RUN_END = ("run_success", "run_failure", "run_canceled")


class Checker:
    def __init__(self, psql, loc):
        self.psql, self.loc = psql, loc

    def q(self, sql):
        p = subprocess.run(self.psql + ["-c", sql], capture_output=True, text=True, timeout=120)
        if p.returncode:
            raise RuntimeError(f"psql: {p.stderr.strip()}")
        return [line.split("\t") for line in p.stdout.splitlines() if line]

    def not_final(self, ids):
        try:
            rows = self.q("select id, status from runs")
        except RuntimeError:
            return -1
        st = dict(rows)
        return sum(1 for r in ids if st.get(r) not in FINAL)

    def report(self, launched, unexpected):
        runs = {r[0]: {"job": r[1], "status": r[2], "message": r[3]}
                for r in self.q("select id, job, status, coalesce(message, '') from runs")}
        events = {}
        for rid, step, typ, payload, eid in self.q(
                "select run_id, coalesce(step, ''), type, payload, id from events order by id"):
            try:
                p = json.loads(payload)
            except ValueError:
                p = {}
            events.setdefault(rid, []).append((step, typ, p, int(eid)))
        steps = {}
        for rid, step, attempt, status in self.q("select run_id, step, attempt, status from steps"):
            steps.setdefault(rid, []).append((step, int(attempt), status))
        details = []
        lost = sorted(r for r in launched if r not in runs)
        for r in lost:
            details.append(f"lost: {r} ({launched[r]})")
        stuck = sorted(r for r, v in runs.items() if v["status"] not in FINAL)
        for r in stuck:
            details.append(f"stuck: {r} {runs[r]['job']} {runs[r]['status']} "
                           f"({launched.get(r, 'not launched by the test')})")
        infra = []
        for r, v in sorted(runs.items()):
            why = self.infra_failure(r, v, events.get(r, []))
            if why:
                infra.append(r)
                details.append(f"failed (infrastructure): {r} {v['job']} "
                               f"{launched.get(r, '')}: {why}")
        twice, allowed = self.completed_twice(runs, events, steps, details)
        side = self.side_effects(events, details)
        two = self.two_coordinators(runs, events, details)
        adopted = sum(1 for evs in events.values() for e in evs if e[1] == "run_adopted")
        restarted = sum(1 for evs in events.values() for e in evs
                        if e[1] == "step_up_for_retry" and e[2].get("adopted"))
        by_status = {}
        for v in runs.values():
            by_status[v["status"]] = by_status.get(v["status"], 0) + 1
        return {"runs": len(runs), "launched": len(launched), "by_status": by_status,
                "lost": len(lost), "stuck": len(stuck), "failed_infra": len(infra),
                "completed_twice": twice, "two_coordinators": two,
                "twice_after_adoption": allowed, "side_effects_twice": side,
                "adoptions": adopted, "steps_restarted_by_adoption": restarted,
                "unexpected_exits": len(unexpected), "_details": details}

    @staticmethod
    def infra_failure(rid, run, evs):
        """None when the run did not fail, or failed by its job's own
        design (job doomed: step b exits 3); else why it failed."""
        if run["status"] == "success":
            return "the doomed job succeeded" if run["job"] == "doomed" else None
        if run["status"] not in FINAL:
            return None  # counted as stuck
        if run["status"] == "canceled":
            return f"canceled: {run['message']}"
        if run["job"] != "doomed":
            return run["message"] or "failed"
        ends = [e[2] for e in evs if e[1] == "run_failure"]
        failed = ends[-1].get("failed") if ends else None
        b = [e[2] for e in evs if e[1] == "step_failed" and e[0] == "b"]
        if failed == ["b"] and b and b[-1].get("exit_code") == 3:
            return None
        return f"{run['message']} (failed steps {failed})"

    @staticmethod
    def adopted_steps(evs):
        return {e[0] for e in evs if e[1] == "step_up_for_retry" and e[2].get("adopted")}

    def completed_twice(self, runs, events, steps, details):
        """Steps with two successful attempts (rows or events); allowed only
        where the run's events say the step was retried after adoption."""
        bad = allowed = 0
        for rid in runs:
            evs = events.get(rid, [])
            n = {}
            for e in evs:
                if e[1] == "step_succeeded":
                    n[e[0]] = n.get(e[0], 0) + 1
            for step, _, status in steps.get(rid, []):
                if status == "succeeded":
                    n[step + "\0rows"] = n.get(step + "\0rows", 0) + 1
            ok = self.adopted_steps(evs)
            for key, c in n.items():
                step = key.split("\0")[0]
                if c < 2:
                    continue
                if step in ok:
                    allowed += 1
                else:
                    bad += 1
                    details.append(f"completed twice: {rid} {step} ({c} "
                                   f"{'rows' if key.endswith('rows') else 'events'})")
        return bad, allowed

    def side_effects(self, events, details):
        """Process steps leave a line in done.log per completion: lines
        beyond one per step that no retry event explains (informational:
        a worker killed mid-step may leave its step running to the end
        while the broker redelivers it)."""
        path = os.path.join(self.loc, "done.log")
        seen = {}
        try:
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3:
                        seen.setdefault((parts[0], parts[1]), []).append(parts[2])
        except OSError:
            return 0
        n = 0
        for (rid, step), attempts in seen.items():
            if len(attempts) > 1 and step not in self.adopted_steps(events.get(rid, [])):
                n += 1
                details.append(f"side effect twice: {rid} {step} attempts {attempts}")
        return n

    @staticmethod
    def two_coordinators(runs, events, details):
        """Runs whose events show two writers at once: two endings, an
        attempt started twice, or a step started after the run ended."""
        bad = 0
        for rid in runs:
            evs = events.get(rid, [])
            why = None
            ends = [e for e in evs if e[1] in RUN_END]
            if len(ends) > 1:
                why = f"{len(ends)} run endings"
            started = {}
            for e in evs:
                if e[1] == "step_started":
                    k = (e[0], e[2].get("attempt"))
                    started[k] = started.get(k, 0) + 1
            dup = [k for k, c in started.items() if c > 1]
            if not why and dup:
                why = f"attempt started twice: {dup[:3]}"
            if not why and ends:
                late = [e for e in evs if e[3] > ends[0][3] and e[1].startswith("step_")
                        and e[1] not in ("step_output", "step_log")]
                if late:
                    why = f"step events after the run ended: {[(e[0], e[1]) for e in late[:3]]}"
            # Each adoption takes the run from its owner at the time: the
            # coordinator that started it, then each adopter in turn. Two
            # coordinators that both drove it would break the chain.
            owner = next((e[2].get("coordinator") for e in evs if e[1] == "run_started"), None)
            for e in evs:
                if why or e[1] != "run_adopted":
                    continue
                if owner is not None and e[2].get("from") != owner:
                    why = f"adopted from {e[2].get('from')} while {owner} held it"
                owner = e[2].get("to")
            if why:
                bad += 1
                details.append(f"two coordinators: {rid}: {why}")
        return bad

    def adoption_delays(self, kills):
        """For each coordinator killed: runs adopted from it, and ms from
        the kill to the first and the last of those adoptions."""
        out = []
        for pid, ms in kills:
            ts = [int(r[0]) for r in self.q(
                "select ts_ms from events where type = 'run_adopted' and "
                f"payload like '%\"from\":\"%:{pid}:%' order by ts_ms")]
            out.append({"pid": pid, "runs": len(ts), "first_ms": ts[0] - ms if ts else None,
                        "last_ms": ts[-1] - ms if ts else None})
        return out
