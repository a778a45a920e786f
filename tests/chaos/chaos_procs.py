# chaos_procs.py: the processes of the chaos test (tests/chaos/run): weft
# services it kills and restarts, the private PostgreSQL and RabbitMQ, and the
# cleanup that stops everything it started by pid.
import os
import signal
import subprocess
import threading
import time


class Service:
    """One weft process (server, scheduler, coordinator, worker): kill -9
    and restart it; a process that exits by itself is a finding."""

    def __init__(self, procs, kind, name, argv):
        self.procs, self.kind, self.name, self.argv = procs, kind, name, argv
        self.p = None
        self.lock = threading.Lock()
        self.killed = False  # by the injector: its exit is expected
        self.starts = 0

    def start(self):
        with self.lock:
            if self.procs.closing or (self.p and self.p.poll() is None):
                return
            logf = open(os.path.join(self.procs.logs, self.name + ".log"), "a")
            logf.write(f"--- start {self.starts + 1} at {time.strftime('%H:%M:%S')}\n")
            logf.flush()
            # Its own session: a ^C of the test reaches the test only, which
            # then stops everything by pid.
            self.p = subprocess.Popen(self.argv, env=self.procs.env, stdin=subprocess.DEVNULL,
                                      stdout=logf, stderr=subprocess.STDOUT,
                                      start_new_session=True)
            logf.close()
            self.procs.pids.add(self.p.pid)
            self.killed = False
            self.starts += 1

    def kill9(self):
        with self.lock:
            if not self.p or self.p.poll() is not None:
                return False
            self.killed = True
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()
            return True

    def stop(self, grace=15):
        with self.lock:
            if not self.p or self.p.poll() is not None:
                return
            self.killed = True
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.p.send_signal(signal.SIGKILL)
                self.p.wait()

    def check(self):
        """Restarts it when it exited without being killed; returns why."""
        with self.lock:
            if not self.p or self.killed or self.p.poll() is None:
                return None
            rc = self.p.returncode
        tail = ""
        try:
            with open(os.path.join(self.procs.logs, self.name + ".log")) as f:
                tail = " | ".join(f.read().splitlines()[-3:])
        except OSError:
            pass
        self.start()
        return f"{self.name} exited {rc}: {tail}"


class Procs:
    def __init__(self, tmp, tag):
        self.tmp, self.tag = tmp, tag
        self.logs = os.path.join(tmp, "logs")
        os.makedirs(self.logs, exist_ok=True)
        self.env = None
        self.services = []
        self.pids = set()
        self.unexpected = []
        self.closing = False  # set at the end: a restart still pending starts nothing

    def add(self, kind, name, argv):
        self.services.append(Service(self, kind, name, argv))

    def by_kind(self, kind):
        return [s for s in self.services if s.kind == kind]

    def start_all(self):
        for s in self.services:
            s.start()

    def ensure_up(self):
        for s in self.services:
            why = s.check()
            if why:
                self.unexpected.append(why)
            s.start()

    def watch(self, stop):
        while not stop.is_set():
            for s in self.services:
                why = s.check()
                if why:
                    self.unexpected.append(why)
            time.sleep(0.5)

    def stop_all(self):
        self.closing = True
        # Workers and coordinators get SIGTERM (their drain is short here),
        # then the rest; kill -9 after the grace.
        for kind in ("worker", "coordinator", "scheduler", "server"):
            for s in self.by_kind(kind):
                s.stop()

    def hurry(self, *_):
        """A signal handler for the clean-up: a second SIGTERM or ^C kills
        every service at once (no grace) instead of cutting the clean-up
        short, which left the sweeps' detached coordinators running. No
        lock: stop() may hold one in this very thread."""
        for s in self.services:
            p = s.p
            if p and p.returncode is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                except OSError:
                    pass

    def kill_strays(self, dirs):
        """Kills, by pid, what the test's processes left: coordinators the
        sweeps spawned (detached), step processes of killed workers and
        coordinators. They carry the test's tag in their environment or
        run in one of its folders."""
        me = os.getpid()
        for _ in range(3):
            found = []
            for d in os.listdir("/proc"):
                if not d.isdigit() or int(d) == me:
                    continue
                pid = int(d)
                try:
                    with open(f"/proc/{pid}/environ", "rb") as f:
                        envb = f.read()
                    cwd = os.readlink(f"/proc/{pid}/cwd")
                except OSError:
                    continue
                if (b"CHAOS_TAG=" + self.tag.encode()) in envb.split(b"\0") or any(
                        cwd == x or cwd.startswith(x + "/") for x in dirs):
                    found.append(pid)
            if not found:
                return
            for pid in found:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.3)


class Servers:
    """The private PostgreSQL and RabbitMQ (scripts/pg-server and
    scripts/rabbitmq-server), restarted by the injector."""

    def __init__(self, src):
        self.src = src
        self.pg_dir = self.amqp_dir = None
        self.lock = {"postgres": threading.Lock(), "rabbitmq": threading.Lock()}

    def missing(self):
        import glob
        if not glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"):
            return "PostgreSQL is not installed (scripts/bootstrap test)"
        if not os.access(os.environ.get("RABBITMQ_BINDIR", "/usr/lib/rabbitmq/bin") +
                         "/rabbitmq-server", os.X_OK):
            return "rabbitmq-server is not installed (scripts/bootstrap test)"
        return None

    def _script(self, name, *args, timeout=180):
        p = subprocess.run([os.path.join(self.src, "scripts", name), *args],
                           capture_output=True, text=True, timeout=timeout)
        if p.returncode:
            print(f"# {name} {' '.join(args)}: {p.stderr.strip()[-400:]}", flush=True)
            return None
        return p.stdout.strip()

    def start_pg(self, d):
        self.pg_dir = d
        return self._script("pg-server", "start", "--fast", d)

    def start_amqp(self, d):
        self.amqp_dir = d
        return self._script("rabbitmq-server", "start", d)

    def psql_argv(self):
        import glob
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        with open(os.path.join(self.pg_dir, "port")) as f:
            port = f.read().strip()
        return [os.path.join(bindir, "psql"), "-h", "127.0.0.1", "-p", port,
                "-U", "postgres", "-d", "weft", "-qAt", "-F", "\t"]

    def restart(self, kind):
        with self.lock[kind]:
            if kind == "postgres":
                return self._script("pg-server", "restart", self.pg_dir) is not None
            return self._script("rabbitmq-server", "restart", self.amqp_dir) is not None

    def ensure_up(self):
        # A restart in flight finishes first (the lock).
        for kind in ("postgres", "rabbitmq"):
            with self.lock[kind]:
                pass
        if self.pg_dir and self._script("pg-server", "url", self.pg_dir) is None:
            self._script("pg-server", "start", "--fast", self.pg_dir)
        if self.amqp_dir and self._script("rabbitmq-server", "url", self.amqp_dir) is None:
            self._script("rabbitmq-server", "start", self.amqp_dir)

    def stop_all(self):
        # A restart in flight (the injector's thread) ends first: stopped
        # before it, the server would start again after the test.
        for kind, name, d in (("postgres", "pg-server", self.pg_dir),
                              ("rabbitmq", "rabbitmq-server", self.amqp_dir)):
            if d:
                with self.lock[kind]:
                    self._script(name, "stop", d)
