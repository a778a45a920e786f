# weft/_describe.py: `python3 -m weft describe --root DIR FILE...` imports
# each file and prints one JSON line per file with what it defines.
"""The describe protocol (read by src/dsl/python_collect.c).

A first line {"ready": true} once the interpreter has started, then one
line per file, in the order given, flushed as soon as the file is done (so
a file that hangs is the first one without a line):

    {"file": "ops/math.py",
     "ops":       {"text": "{\\n\\"add_one\\": {...}\\n}", "lines": [1, 4, 1]},
     "jobs":      [{"text": ..., "lines": [...]}, ...],
     "schedules": {"text": "[...]", "lines": [...]} or null,
     "sensors":   {"text": "[...]", "lines": [...]} or null,
     "errors":    [{"line": 3, "col": 1, "msg": "..."}],
     "deps":      ["ops/math.py", ...]}

Each text is JSON (and so YAML) in the shape of the YAML files, laid out so
that every op, job key and invocation has a line of its own; lines[k] is
the line of the .py file that line k+1 of the text comes from (the
decorator of the def, or the call in a job's body), so weft's checks of
the text point into the .py file.
"""

import json
import os
import signal
import sys
import traceback

import weft


class DescribeTimeout(BaseException):
    """Raised in the file being described when it takes too long."""


def _on_alarm(signum, frame):
    raise DescribeTimeout()


_rel_memo = {}


def _rel(root, path):
    """path relative to root with "/", or None when outside it. Memoized:
    it is asked for every module after every file."""
    key = (root, path)
    if key in _rel_memo:
        return _rel_memo[key]
    rel = None
    if path and not path.startswith("<"):
        try:
            r = os.path.relpath(os.path.realpath(path), root)
            if not r.startswith(".."):
                rel = r.replace(os.sep, "/")
        except ValueError:
            pass
    _rel_memo[key] = rel
    return rel


def _module_name(rel):
    return rel[:-3].replace("/", ".") if rel.endswith(".py") else rel.replace("/", ".")


def _forget_location_modules(root):
    # Each file is described from a clean slate, so that its deps are the
    # location files it imports itself (the cache checks them).
    for name, mod in list(sys.modules.items()):
        f = getattr(mod, "__file__", None)
        if f and _rel(root, f) is not None:
            del sys.modules[name]
        elif f is None and getattr(mod, "__path__", None) is not None:
            paths = list(getattr(mod, "__path__", []))
            if paths and all(_rel(root, p) is not None for p in paths):
                del sys.modules[name]


def _deps(root):
    out = set()
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if f and f.endswith(".py"):
            rel = _rel(root, f)
            if rel is not None:
                out.add(rel)
    return sorted(out)


def _error_position(root, rel, exc):
    """(line, col, message) of an exception raised while importing."""
    if isinstance(exc, SyntaxError) and exc.filename:
        r = _rel(root, exc.filename)
        msg = "%s: %s" % (type(exc).__name__, exc.msg)
        if r == rel:
            return exc.lineno or 1, exc.offset or 1, msg
        return 1, 1, "%s (in %s:%s)" % (msg, r or exc.filename, exc.lineno)
    if isinstance(exc, DescribeTimeout):
        msg = "took longer than %g s to import and was stopped (does it hang at " \
              "import? $WEFT_PYTHON_TIMEOUT sets the limit)" % _timeout[0]
        line = 1
        for fr in traceback.extract_tb(exc.__traceback__):
            if _rel(root, fr.filename) == rel:
                line = fr.lineno
        return line, 1, msg
    if isinstance(exc, weft.WeftDefinitionError) and exc.file:
        r = _rel(root, exc.file)
        if r == rel:
            return exc.line or 1, 1, exc.msg
    frames = traceback.extract_tb(exc.__traceback__)
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    # The traceback's last frame in this file: where the file went wrong.
    # A frame deeper in another location file is named in the message.
    line, deeper = 1, None
    for fr in frames:
        r = _rel(root, fr.filename)
        if r == rel:
            line, deeper = fr.lineno, None
        elif r is not None:
            deeper = "%s:%s" % (r, fr.lineno)
    if frames:
        last = frames[-1]
        r = _rel(root, last.filename)
        if r != rel:
            deeper = "%s:%s" % (r or last.filename, last.lineno)
    if deeper:
        msg += " (last frame: %s)" % deeper
    return line or 1, 1, msg


def _layout(items, open_line, close_line, opener, closer):
    """JSON text with one item per line; items are (line, text)."""
    parts, lines = [opener], [open_line]
    for i, (line, text) in enumerate(items):
        parts.append(text + ("," if i + 1 < len(items) else ""))
        lines.append(line)
    parts.append(closer)
    lines.append(close_line)
    return {"text": "\n".join(parts) + "\n", "lines": lines}


def _dump(v):
    return json.dumps(v, sort_keys=False, separators=(", ", ": "))


def _job_text(d, lines, def_line):
    items = []
    for k, v in d.items():
        if k != "ops":
            items.append((def_line, "%s: %s" % (_dump(k), _dump(v))))
    steps = d.get("ops", {})
    parts = ["{"]
    plines = [def_line]
    for line, text in items:
        parts.append(text + ",")
        plines.append(line)
    parts.append('"ops": {')
    plines.append(def_line)
    names = list(steps)
    for i, name in enumerate(names):
        parts.append("%s: %s%s" % (_dump(name), _dump(steps[name]),
                                   "," if i + 1 < len(names) else ""))
        plines.append(lines.get(name, def_line))
    parts.append("}}")
    plines.append(def_line)
    return {"text": "\n".join(parts) + "\n", "lines": plines}


_timeout = [10.0]


def describe_file(root, rel):
    signal.setitimer(signal.ITIMER_REAL, _timeout[0])
    try:
        return _describe_file(root, rel)
    except DescribeTimeout:  # in a job's body or the layout: the file is at fault
        weft._collect["active"] = False
        return {"file": rel, "ops": None, "jobs": [], "schedules": None, "sensors": None,
                "errors": [{"line": 1, "col": 1, "msg": "took longer than %g s to describe"
                            % _timeout[0]}], "deps": [rel], "nocache": True}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _describe_file(root, rel):
    out = {"file": rel, "ops": None, "jobs": [], "schedules": None,
           "sensors": None, "errors": [], "deps": [rel]}
    path = os.path.join(root, rel)
    _forget_location_modules(root)
    weft._collect.update(active=True, errors=[], schedules=[], sensors=[])
    import importlib.util
    modname = _module_name(rel)
    try:
        spec = importlib.util.spec_from_file_location(modname, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[modname] = mod
        spec.loader.exec_module(mod)
    except BaseException as e:  # noqa: B902 - SystemExit, too, is the file's mistake
        if isinstance(e, KeyboardInterrupt):
            raise
        line, col, msg = _error_position(root, rel, e)
        out["errors"].append({"line": line, "col": col, "msg": msg})
        if isinstance(e, DescribeTimeout):
            out["nocache"] = True
        out["deps"] = sorted(set(_deps(root)) | {rel})
        weft._collect["active"] = False
        return out
    for err in weft._collect["errors"]:
        r = _rel(root, err.file) if err.file else None
        out["errors"].append({"line": err.line if r == rel else 1, "col": 1,
                              "msg": err.msg if r == rel or not err.file
                              else "%s (at %s:%s)" % (err.msg, r or err.file, err.line)})
    ops, jobs = [], []
    seen = set()
    for value in list(vars(mod).values()):
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, weft.OpDef) and value.fn.__module__ == modname:
            ops.append(value)
        elif isinstance(value, weft.JobDef) and value.fn.__module__ == modname:
            jobs.append(value)
    if ops:
        ops.sort(key=lambda o: o.line)
        items = [(o.line, "%s: %s" % (_dump(o.name), _dump(o.definition(rel))))
                 for o in ops if not o.broken]
        out["ops"] = _layout(items, 1, 1, "{", "}")
    for j in sorted(jobs, key=lambda j: j.line):
        try:
            d, lines, errors = j.trace()
        except Exception as e:  # the body raised something else than a definition error
            line, col, msg = _error_position(root, rel, e)
            out["errors"].append({"line": line, "col": col,
                                  "msg": "job '%s': %s" % (j.name, msg)})
            continue
        for msg, line in errors:
            out["errors"].append({"line": line, "col": 1, "msg": "job '%s': %s" % (j.name, msg)})
        out["jobs"].append(_job_text(d, lines, j.line))
    for key in ("schedules", "sensors"):
        mine = [(line, _dump(d)) for f, line, d in weft._collect[key] if _rel(root, f) == rel]
        if mine:
            out[key] = _layout(mine, mine[0][0], mine[-1][0], "[", "]")
    out["deps"] = sorted(set(_deps(root)) | {rel})
    weft._collect["active"] = False
    return out


def main(argv):
    root = None
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "--timeout" and i + 1 < len(argv):
            _timeout[0] = float(argv[i + 1])
            i += 2
            continue
        if argv[i] == "--root" and i + 1 < len(argv):
            root = argv[i + 1]
            i += 2
            continue
        files.append(argv[i])
        i += 1
    if not root or not files:
        sys.stderr.write("usage: python3 -m weft describe --root DIR FILE...\n")
        return 2
    root = os.path.realpath(root)
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.dont_write_bytecode = True
    sys.path.insert(0, root)
    os.chdir(root)
    stdout = sys.stdout
    # A file's own prints must not mix with the protocol: they go to stderr.
    sys.stdout = sys.stderr
    # Started: from here on each file has the timeout (weft allows the
    # interpreter's own start more).
    stdout.write('{"ready": true}\n')
    stdout.flush()
    for rel in files:
        result = describe_file(root, rel)
        stdout.write(json.dumps(result) + "\n")
        stdout.flush()
    return 0
