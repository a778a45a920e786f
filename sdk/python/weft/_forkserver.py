# weft/_forkserver.py: the warm interpreter pool's server (src/exec/pypool.c):
# imports the SDK and a code folder's ops once, then forks a child per step.
"""`python3 -m weft._forkserver --root DIR --fd N [--idle S]`, started by weft.

fd N is a SOCK_SEQPACKET unix socket to the executor. Each packet is one
JSON object. From weft:

    {"op": "spawn", "argv": [...], "cwd": "...", "env": ["K=V", ...]}
        with SCM_RIGHTS fds [stdin, stdout, stderr, events]
        and "reuse": K > 1 with a fifth fd (a "done" pipe) for a child
        that may run K steps in a row (the op's steps_per_child)
    {"op": "reap", "pid": N}            the executor has the status: reap it
    {"op": "release", "pid": N}         a reused child's step is over (its
                                        code came on the done pipe): it
                                        may take another step

To weft:

    {"ready": true, "pid": N, "broken": {"ops/x.py": "ImportError: ..."}}
    {"pid": N}                          a child runs the step (own process group)
    {"pid": N, "reused": true}          ... a child that ran earlier steps
    {"fallback": "why"}                 start this step as a normal process
    {"restart": "why"}                  the code changed: start a new server
    {"exit": N, "status": S}            child N ended with wait status S

A child stays a zombie until weft says "reap", so its pid (and process
group) cannot be reused while weft may still signal it. The server ends
when the socket closes, or after --idle seconds with no step and no child.

A spare child is forked ahead, once the previous step's reply is out: it
has already left the server's state (own process group, signals, parent
death) and waits on its own socket for a step, so a spawn costs a message
to it, not a fork. With WEFT_PYPOOL_REHEARSE=1 it also rehearses a no-op
step first (see _rehearse). A spare forked before a module was imported is stale
(it lacks the module): killed, and the step forks afresh.

Reuse: a step with "reuse": K goes to an idle child that ran earlier steps
of the same K and was forked after the last import, else to the spare,
which then stays: after its step it writes the step's exit code on the
done pipe, closes it, puts fds 0-3 on /dev/null and waits on its socket
for the next step. The server marks it busy from the spawn to weft's
"release", and while busy reports its exit like any child's; after K
steps (or when stale, or its resident memory passed
WEFT_PYPOOL_MAX_RSS_MB) it closes the child's socket, the child exits on
EOF and the server reaps it without a report.

WEFT_PYPOOL_DEBUG set: one line a step on stderr with its timings.
"""
import _signal
import ctypes
import fcntl
import gc
import importlib.util
import json
import mmap
import os
import resource
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

import weft
import weft_op
from weft import _run

_FDS = 4  # stdin, stdout, stderr, events
_MAX_FDS = _FDS + 1  # and a reused child's done pipe
_MAX_PACKET = 4 << 20
_PR_SET_PDEATHSIG = 1

_modules = {}  # rel file -> module, or an error string
_stamps = {}   # path -> (mtime_ns, size) of every location file imported
_children = {}  # pid -> True once its exit was reported
_gen = [0]      # bumped by every import: a spare forked before it is stale
_spare = []     # [pid, socket, gen] of the child forked ahead, or empty
# Reusable children: pid -> [socket (None once told to exit), steps run,
# steps allowed, gen at its fork, busy with a step of weft's]
_reusers = {}
_DEBUG = bool(os.environ.get("WEFT_PYPOOL_DEBUG"))
# Off by default: on a 2-core VM saturated by other work the rehearsal's
# extra CPU (~10 ms a step) costs more than the latency it hides.
_REHEARSE = os.environ.get("WEFT_PYPOOL_REHEARSE", "0") not in ("", "0")

# One receive buffer for the server's life (made by serve() before any
# fork), inherited by its children: recvmsg(4 MB) maps, shrinks and unmaps
# a fresh 4 MB bytes object a packet, and each unmap flushes the TLB of
# every CPU (an interrupt per core on a VM), the server's largest cost a
# step. A private anonymous map is never touched but where a packet lands,
# and stays private to each process after fork.
_BUF = []


def _recv(sock):
    """The next packet on sock and the fds that came with it: (b"", [])
    at EOF."""
    n, anc, _, _ = sock.recvmsg_into([_BUF[0]], socket.CMSG_SPACE(_MAX_FDS * 4))
    return _BUF[0][:n], _fds_of(anc)


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()
# prctl bound, and called once here (PR_GET_DUMPABLE, harmless): ctypes
# builds and caches its call path in the server, so that a child's
# prctl(PR_SET_PDEATHSIG) writes no page of it (65 copy-on-write faults
# a child otherwise, 10 this way, measured).
_PRCTL = _LIBC.prctl if _LIBC is not None else None
if _PRCTL is not None:
    _PRCTL(3, 0, 0, 0, 0)


def _stamp_all(root):
    for mod in list(sys.modules.values()):
        path = getattr(mod, "__file__", None)
        if not path or path in _stamps:
            continue
        path = os.path.abspath(path)
        if not path.startswith(root + os.sep):
            continue
        try:
            st = os.stat(path)
            _stamps[path] = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass


def _changed():
    for path, stamp in _stamps.items():
        try:
            st = os.stat(path)
        except OSError:
            return path
        if (st.st_mtime_ns, st.st_size) != stamp:
            return path
    return None


def _import(root, rel):
    """The module of rel, imported once; an error message when it fails."""
    if rel in _modules:
        return _modules[rel]
    _gen[0] += 1
    try:
        if os.path.isabs(rel) or ".." in rel.split("/") or not rel.endswith(".py"):
            raise weft.WeftDefinitionError("%s: not a .py file inside the code folder" % rel)
        modname = rel[:-3].replace("/", ".")
        spec = importlib.util.spec_from_file_location(modname, os.path.join(root, rel))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
        _modules[rel] = mod
    except BaseException as e:  # SystemExit too: the server must go on
        last = traceback.extract_tb(e.__traceback__)
        where = ""
        for fr in reversed(last):
            if os.path.abspath(fr.filename) == os.path.join(root, rel):
                where = " (%s:%d)" % (rel, fr.lineno)
                break
        _modules[rel] = "%s: %s%s" % (type(e).__name__, e, where)
        sys.modules.pop(rel[:-3].replace("/", "."), None)
    _stamp_all(root)
    return _modules[rel]


def _preload(root):
    ops = os.path.join(root, "ops")
    try:
        names = sorted(os.listdir(ops))
    except OSError:
        names = []
    for n in names:
        if n.endswith(".py") and not n.startswith("."):
            _import(root, "ops/" + n)


def _leave_server(sock):
    """In a forked child: drop what is the server's, as a fresh `python3 -m
    weft run` would never have had it."""
    sock.close()
    signal.set_wakeup_fd(-1)
    os.setpgid(0, 0)  # the server does it too (see _fork_child)
    if _PRCTL is not None:  # die with the server, as a step dies with weft
        _PRCTL(_PR_SET_PDEATHSIG, 9, 0, 0, 0)  # SIGKILL
    # The handlers `python3 -m weft run` would have: only those the server
    # changed (every other one is Python's default already, as in a fresh
    # interpreter); a loop over all of them costs a fork's worth of page
    # copies. _signal's C function, not signal.signal: its enum wrapping
    # costs ~35 page copies more.
    _signal.signal(signal.SIGCHLD, _signal.SIG_DFL)
    _signal.signal(signal.SIGINT, _signal.default_int_handler)


def _setup_fds(fds, keep):
    """The step's fds on 0-3; every other fd closed but those in keep."""
    for target, fd in enumerate(fds[:_FDS]):
        os.dup2(fd, target, inheritable=True)
    lo = _FDS
    for k in sorted(set(k for k in keep if k >= _FDS)):
        os.closerange(lo, k)
        lo = k + 1
    os.closerange(lo, 1 << 16)


def _step(msg, fds, mod, func, t0, keep):
    """In a child out of the server's state: become the step's process and
    run it; its exit code."""
    rc = 1
    t1 = t0
    f0 = f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt if _DEBUG else 0
    try:
        _setup_fds(fds, keep + ([_DEBUG_FD[0]] if _DEBUG else []))
        os.chdir(msg["cwd"])
        _apply_env(msg["env"])
        sys.argv = ["weft", "run"] + msg["argv"][-2:]
        # Python's own streams were set up for the server's fds 0-2, which
        # now are the step's: only their buffers must be empty (they are).
        t1 = time.perf_counter()
        f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt if _DEBUG else 0
        rc = _run.run_loaded(getattr(mod, func, None), msg["argv"][-2], func)
    except SystemExit as e:
        code = e.code
        if code is None:
            rc = 0
        elif isinstance(code, int):
            rc = code & 0xFF
        else:
            sys.stderr.write("%s\n" % code)
            rc = 1
    except BaseException:
        traceback.print_exc()
        rc = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    if _DEBUG:
        t2 = time.perf_counter()
        f2 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        _debug("child %d: set-up %.2f ms, step %.2f ms; %.2f ms CPU in all; page faults: "
               "%d before the step came, %d in set-up, %d in the step" % (
                   os.getpid(), (t1 - t0) * 1000, (t2 - t1) * 1000, time.process_time() * 1000,
                   f0, f1 - f0, f2 - f1))
    return rc if isinstance(rc, int) else 1


def _run_step(msg, fds, mod, func, t0):
    """In the forked child: run the step, exit."""
    os._exit(_step(msg, fds, mod, func, t0, []))


def _reuse_main(mine, req, fds, t0):
    """A reused child: runs the steps its server sends one after another,
    each with its own fds, cwd, environment and argv; exits when the server
    closes the socket. Module globals, sys.modules, threads and anything
    else a step leaves in the process stay for the next step."""
    # Above fd 3 (free since the server's socket closed): dup2 onto 0-3
    # must never land on it.
    low = os.open(os.devnull, os.O_RDWR)
    devnull = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(low)
    while True:
        done = fds[_FDS] if len(fds) > _FDS else -1
        rel, func = req["argv"][-2], req["argv"][-1]
        rc = _step(req, fds, _modules.get(rel), func, t0, [mine.fileno(), done, devnull])
        # Nothing of this step may reach the next one's files: the step's
        # fds go (weft then reads its events pipe to the end).
        for target in range(_FDS):
            os.dup2(devnull, target)
        if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if done < 0:
            os._exit(rc & 0xFF)
        try:
            os.write(done, b"%d\n" % (rc & 0xFF))
            os.close(done)
        except OSError:
            os._exit(1)
        try:
            msg, fds = _recv(mine)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)  # the server is done with this child
        t0 = time.perf_counter()
        try:
            req = json.loads(msg.decode())
        except ValueError:
            os._exit(1)


def _apply_env(entries):
    # The step's environment, by difference: most of it is the server's
    # already, and each change is a putenv (and pages copied).
    env = dict(e.split("=", 1) for e in entries if "=" in e)
    for k in [k for k in os.environ if k not in env]:
        del os.environ[k]
    for k, v in env.items():
        if os.environ.get(k) != v:
            os.environ[k] = v


def _debug(line):
    try:  # fd 2 may be the step's log by now: the server's stderr is kept
        os.write(_DEBUG_FD[0], ("weft pool %.6f: %s\n" % (time.time(), line)).encode())
    except OSError:
        pass


_DEBUG_FD = [2]


def _fork_child(sock):
    """A child out of the server's state (process group, signals): its pid
    in the server; in the child, returns 0."""
    sys.stdout.flush()
    sys.stderr.flush()
    # Everything the server holds goes to the collector's permanent
    # generation: a child's collections then never walk (and so copy on
    # write) the server's objects, which is most of a fork's cost.
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        _leave_server(sock)
        for r in _reusers.values():  # their server ends: EOF must reach them
            if r[0] is not None:
                r[0].close()
        return 0
    # Its own process group before weft hears of it, so that weft's
    # killpg(pid) reaches it however soon it comes (the child does the same:
    # whichever runs first wins, as a shell does for its jobs).
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass  # the child did it already, or is already gone
    return pid


@weft.op
def _rehearsal() -> int:
    return 0


def _rehearse():
    """In the spare, before its step comes: a no-op step through the same
    SDK code (environment, config, inputs, outputs) in a scratch folder.
    Each page a step writes first is copied from the server's (a page
    fault: ~60 us on a loaded VM, a few hundred a step); the rehearsal
    takes most of them while nobody waits. The step's own set-up then
    puts the environment right whatever the rehearsal left."""
    scratch = None
    try:

        scratch = tempfile.mkdtemp(prefix="weft-spare-")
        cfg = os.path.join(scratch, "config.json")
        with open(cfg, "w") as f:
            f.write("{}")
        os.mkdir(os.path.join(scratch, "in"))
        os.mkdir(os.path.join(scratch, "out"))
        env = ["%s=%s" % kv for kv in os.environ.items()]
        env += ["WEFT_CONFIG=" + cfg, "WEFT_INPUTS=" + os.path.join(scratch, "in"),
                "WEFT_OUTPUTS=" + os.path.join(scratch, "out"), "WEFT_PATH_INPUTS="]
        msg = json.loads(json.dumps({"op": "spawn", "argv": ["weft/_forkserver.py", "_rehearsal"],
                                     "cwd": os.getcwd(), "env": env}))
        _apply_env(msg["env"])
        _run.run_loaded(_rehearsal, "weft/_forkserver.py", "_rehearsal")
    except BaseException:
        pass
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


def _spare_main(mine):
    """The spare child: rehearses, waits for its step (the spawn packet and
    fds the server forwards), then runs it; exits when the server goes."""
    if _REHEARSE:
        _rehearse()
    try:
        msg, fds = _recv(mine)
        t0 = time.perf_counter()
        req = json.loads(msg.decode())
        rel, func = req["argv"][-2], req["argv"][-1]
    except BaseException:
        os._exit(1)
    if len(fds) > _FDS:
        _reuse_main(mine, req, fds, t0)
    mine.close()
    _run_step(req, fds, _modules[rel], func, t0)


def _fork_spare(sock):
    if _spare:
        return
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    gen = _gen[0]
    pid = _fork_child(sock)
    if pid == 0:
        theirs.close()
        _spare_main(mine)
    mine.close()
    _spare[:] = [pid, theirs, gen]


def _drop_spare():
    if not _spare:
        return
    pid, theirs, _ = _spare
    del _spare[:]
    theirs.close()  # it reads EOF and exits; SIGKILL makes sure
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def _fds_of(anc):
    fds = []
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(int.from_bytes(data[i:i + 4], sys.byteorder)
                       for i in range(0, len(data) - len(data) % 4, 4))
    return fds


def _status(pid):
    """The raw wait status of exited child pid (left a zombie), or None."""
    try:
        r = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None
    if r is None or r.si_pid == 0:
        return None
    if r.si_code == os.CLD_EXITED:
        return (r.si_status & 0xFF) << 8
    core = 0x80 if r.si_code == os.CLD_DUMPED else 0
    return (r.si_status & 0x7F) | core


def _send_step(theirs, raw, fds):
    theirs.sendmsg([raw], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                            b"".join(f.to_bytes(4, sys.byteorder) for f in fds))])


def _retire(pid):
    """A reusable child takes no more steps: EOF on its socket ends it."""
    r = _reusers[pid]
    if r[0] is not None:
        r[0].close()
        r[0] = None
    r[4] = False


def _drop_reuser(pid, wait):
    _forget_statm(pid)
    r = _reusers.pop(pid, None)
    if r is not None and r[0] is not None:
        r[0].close()
    if wait:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def _reap_idle():
    """Reusable children that ended while no step of weft's ran in them
    (told to exit, or killed): reaped here, weft waits for none of them."""
    for pid, r in list(_reusers.items()):
        if r[4]:
            continue
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                _drop_reuser(pid, False)
        except ChildProcessError:
            _drop_reuser(pid, False)


def _max_rss_pages():
    try:
        mb = int(os.environ.get("WEFT_PYPOOL_MAX_RSS_MB", "") or 1024)
    except ValueError:
        mb = 1024
    return (mb if mb > 0 else 1024) * (1 << 20) // os.sysconf("SC_PAGE_SIZE")


_MAX_RSS_PAGES = _max_rss_pages()


_statm = {}  # pid -> an open /proc/PID/statm of a reusable child


def _rss_pages(pid):
    """Its resident pages, checked after every step: one pread of a file
    kept open (a reading from offset 0 is always fresh), not the seven
    calls of an open() a step."""
    try:
        fd = _statm.get(pid)
        if fd is None:
            fd = _statm[pid] = os.open("/proc/%d/statm" % pid, os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(fd, 128, 0).split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _forget_statm(pid):
    fd = _statm.pop(pid, None)
    if fd is not None:
        os.close(fd)


def _release(pid):
    _children.pop(pid, None)
    r = _reusers.get(pid)
    if r is None:
        return
    r[4] = False
    if _status(pid) is not None:  # it died after it wrote its code
        _drop_reuser(pid, True)
    elif r[1] >= r[2] or r[3] != _gen[0] or _rss_pages(pid) > _MAX_RSS_PAGES:
        _retire(pid)  # its steps are done, it is stale, or it grew (a leak)


def _spawn_reused(sock, raw, fds, limit):
    """A step that may share its child: an idle one of the same limit, else
    the spare, which stays as a reusable child."""
    for pid, r in list(_reusers.items()):
        if r[4] or r[0] is None or r[2] != limit:
            continue
        if r[3] != _gen[0]:
            _retire(pid)  # forked before a module it may lack was imported
            continue
        try:
            _send_step(r[0], raw, fds)
        except OSError:
            _retire(pid)
            continue
        r[1] += 1
        r[4] = True
        _children[pid] = False
        return {"pid": pid, "reused": True}
    for _ in range(2):
        if _spare and _spare[2] != _gen[0]:
            _drop_spare()
        if not _spare:
            _fork_spare(sock)
        pid, theirs, _ = _spare
        del _spare[:]
        try:
            _send_step(theirs, raw, fds)
        except OSError:  # it died: reaped by _report_exits' check
            theirs.close()
            continue
        _reusers[pid] = [theirs, 1, limit, _gen[0], True]
        _children[pid] = False
        return {"pid": pid}
    return {"fallback": "the pool could not start a child"}


def _send(sock, obj):
    sock.send(json.dumps(obj).encode())


def _spawn(root, sock, msg, raw, fds):
    argv = msg.get("argv") or []
    if len(argv) < 2:
        return {"fallback": "not a `python3 -m weft run FILE FUNCTION` step"}
    changed = _changed()
    if changed:
        return {"restart": "%s changed since the pool server imported it" % changed}
    rel, func = argv[-2], argv[-1]
    mod = _import(root, rel)
    if isinstance(mod, str):
        return {"fallback": "%s does not import in the warm pool: %s" % (rel, mod)}
    if not isinstance(getattr(mod, func, None), weft.OpDef):
        return {"fallback": "%s has no @op function %r in the warm pool" % (rel, func)}
    reuse = msg.get("reuse")
    if isinstance(reuse, int) and reuse > 1 and len(fds) == _MAX_FDS:
        return _spawn_reused(sock, raw, fds, reuse)
    if len(fds) != _FDS:
        return {"fallback": "expected %d fds, got %d" % (_FDS, len(fds))}
    if _spare and _spare[2] != _gen[0]:
        _drop_spare()  # forked before this module was imported
    if _spare:
        pid, theirs, _ = _spare
        del _spare[:]
        try:
            theirs.sendmsg([raw], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                    b"".join(f.to_bytes(4, sys.byteorder) for f in fds))])
        except OSError:  # it died: reaped by _report_exits' check
            pid = 0
        theirs.close()
        if pid:
            _children[pid] = False
            return {"pid": pid}
    t0 = time.perf_counter()
    pid = _fork_child(sock)
    if pid == 0:
        _run_step(msg, fds, mod, func, t0)
    _children[pid] = False
    return {"pid": pid}


def _report_exits(sock):
    if _spare:
        try:
            if os.waitpid(_spare[0], os.WNOHANG)[0]:
                _spare[1].close()
                del _spare[:]
        except ChildProcessError:
            _spare[1].close()
            del _spare[:]
    for pid, reported in list(_children.items()):
        if reported:
            continue
        st = _status(pid)
        if st is not None:
            _children[pid] = True
            _send(sock, {"exit": pid, "status": st})


def serve(root, fd, idle):
    sock = socket.socket(fileno=fd)
    _BUF.append(mmap.mmap(-1, _MAX_PACKET, flags=mmap.MAP_PRIVATE))  # _recv's, before any fork
    if _DEBUG:
        _DEBUG_FD[0] = fcntl.fcntl(2, fcntl.F_DUPFD_CLOEXEC, 10)
    # The executor reads replies and exits from one socket: wake on SIGCHLD.
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    os.set_blocking(rfd, False)
    signal.set_wakeup_fd(wfd, warn_on_full_buffer=False)
    signal.signal(signal.SIGCHLD, lambda s, f: None)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    sel.register(rfd, selectors.EVENT_READ, "sig")
    _preload(root)
    broken = dict((k, v) for k, v in _modules.items() if isinstance(v, str))
    _send(sock, {"ready": True, "pid": os.getpid(), "broken": broken})
    _fork_spare(sock)
    last = time.monotonic()
    while True:
        events = sel.select(timeout=None if idle is None else max(1.0, idle / 4))
        if _children or events:
            last = time.monotonic()
        elif idle is not None and time.monotonic() - last >= idle:
            return 0  # weft reads EOF: its next step starts another server
        for key, _ in events:
            if key.data == "sig":
                try:
                    while os.read(rfd, 512):
                        pass
                except BlockingIOError:
                    pass
                _report_exits(sock)
                if _reusers:
                    _reap_idle()
                continue
            msg, fds = _recv(sock)
            if not msg:
                return 0
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                req = json.loads(msg.decode())
                if req.get("op") == "release":
                    _release(int(req["pid"]))
                elif req.get("op") == "reap":
                    pid = int(req["pid"])
                    if pid in _children:
                        del _children[pid]
                        os.waitpid(pid, 0)
                    _drop_reuser(pid, False)
                elif req.get("op") == "spawn":
                    if len(fds) not in (_FDS, _MAX_FDS):
                        _send(sock, {"fallback": "expected %d fds, got %d" % (_FDS, len(fds))})
                    else:
                        reply = _spawn(root, sock, req, msg, fds)
                        _send(sock, reply)
                        if _DEBUG:
                            _debug("spawn %s: %.2f ms to reply (%.2f ms CPU) %s" % (
                                req["argv"][-1], (time.perf_counter() - t0) * 1000,
                                (time.process_time() - c0) * 1000, reply))
            finally:
                for f in fds:
                    os.close(f)
            _report_exits(sock)
            # The next step's child, forked while weft handles this one.
            _fork_spare(sock)


def main(argv):
    root, fd, idle = None, None, None
    i = 0
    while i + 1 < len(argv):
        if argv[i] == "--root":
            root = argv[i + 1]
        elif argv[i] == "--fd":
            fd = int(argv[i + 1])
        elif argv[i] == "--idle":
            idle = float(argv[i + 1])
        i += 2
    if root is None or fd is None:
        sys.stderr.write("usage: python3 -m weft._forkserver --root DIR --fd N [--idle S]\n")
        return 2
    sys.dont_write_bytecode = True
    # Run as __main__: under its own name too, so that code can tell it is
    # imported by a pool server ("weft._forkserver" in sys.modules).
    sys.modules.setdefault("weft._forkserver", sys.modules[__name__])
    root = os.path.abspath(root)
    os.chdir(root)
    if root not in sys.path:
        sys.path.insert(0, root)
    weft_op.code_dir  # imported once here, for every child
    return serve(root, fd, idle)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
