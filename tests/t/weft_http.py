# weft_http.py: the HTTP tests' client (t002*-http-*.sh), Python stdlib only:
# requests, JSON, server-sent events, raw sockets for malformed input, and
# check() lines that lib_http.sh turns into TAP tests.
import http.client
import json
import socket
import sys
import time
import urllib.parse


def check(name, cond, detail=""):
    """One test: 'PASS name' or 'FAIL name<TAB>detail' on stdout."""
    name = name.replace("\n", " ")
    if cond:
        print("PASS " + name, flush=True)
    else:
        detail = str(detail).replace("\n", "\\n")[:2000]
        print("FAIL " + name + "\t" + detail, flush=True)
    return bool(cond)


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self._json = None

    @property
    def json(self):
        if self._json is None:
            try:
                self._json = json.loads(self.body.decode("utf-8"))
            except ValueError:
                self._json = {"_not_json": self.body[:200].decode("utf-8", "replace")}
        return self._json

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.body[:400].decode("utf-8", "replace"))


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port

    def req(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = dict(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        # The server refuses a state-changing request that does not say
        # JSON (src/http/guard.c); a header given as None is left out.
        if method not in ("GET", "HEAD"):
            h.setdefault("Content-Type", "application/json")
        h = {k: v for k, v in h.items() if v is not None}
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        resp = Resp(r.status, r.getheaders(), r.read())
        c.close()
        return resp

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body=body, **kw)

    def sse(self, path, until=None, timeout=60, headers=None, on_open=None):
        """Reads a text/event-stream until the server ends it, until(event)
        is true, or timeout; returns (status, [events], ended_by_server).
        An event is {"id", "event", "data" (parsed JSON when it is)}.
        on_open() is called once the stream's 200 answer has come."""
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        if r.status != 200:
            body = r.read()
            c.close()
            return r.status, [body], True
        if on_open:
            on_open()
        events, cur, ended = [], {}, False
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = r.readline()  # de-chunked, unlike r.fp
            except (socket.timeout, TimeoutError):
                break
            if not line:
                ended = True
                break
            line = line.decode("utf-8").rstrip("\r\n")
            if not line:
                if "event" in cur or "data" in cur:
                    if "data" in cur:
                        try:
                            cur["data"] = json.loads(cur["data"])
                        except ValueError:
                            pass
                    events.append(cur)
                    if until and until(cur):
                        break
                cur = {}
                continue
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "data" and "data" in cur:
                cur["data"] += "\n" + value
            else:
                cur[key] = value
        c.close()
        return 200, events, ended

    def raw(self, data, timeout=10, read_all=True):
        """Sends bytes on a new socket; returns what came back (b'' when
        the server closed without answering)."""
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        out = b""
        try:
            s.sendall(data)
            if read_all:
                s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if not read_all and b"\r\n\r\n" in out:
                    break
        except OSError:  # reset, broken pipe, timeout, not connected
            pass
        finally:
            s.close()
        return out

    def wait_run(self, run_id, timeout=60):
        """Polls a run until it ends; returns its row (or the last seen)."""
        deadline = time.time() + timeout
        run = None
        while time.time() < deadline:
            run = self.get("/api/v1/runs/" + run_id).json.get("run")
            if run and run["status"] in ("success", "failure", "canceled"):
                return run
            time.sleep(0.05)
        return run


def wait_all(c, timeout=60):
    """Waits until no run is queued, started or canceling, so that no
    coordinator still writes in the test's folder when it is removed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        busy = c.get("/api/v1/runs?status=queued,started,canceling&limit=1").json.get("runs")
        if busy == []:
            return True
        time.sleep(0.05)
    return False


def status_of(raw):
    """The status code of a raw HTTP response, or 0."""
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def client():
    return Client(sys.argv[1])
