# weft_op.py: the weft step protocol for Python ops (stdlib only, 3.8+).
# Read config and inputs, write outputs, log and record materializations.
"""Helpers for a Python script run as a weft op.

    from weft_op import config, inputs, output, output_path, log, materialize

    cfg = config()                      # the op's resolved config (a dict)
    ins = inputs()                      # name -> value; `path` inputs as paths
    log("loaded %d rows" % n)           # a log event (level="info")
    materialize("orders", rows=n)       # an asset materialization event
    output("total", 42)                 # a JSON output
    with open(output_path("model"), "wb") as f:   # a `path` output
        f.write(data)
    lookup = json.load(open(code_path("data/lookup.json")))   # shipped code

weft runs the script with WEFT_CONFIG, WEFT_INPUTS, WEFT_OUTPUTS and
WEFT_EVENTS set (see the step protocol); outside weft every helper raises
WeftOpError saying which variable is missing. A step runs in its run's code
snapshot: on a queue worker that may be a copy fetched into the worker's
code cache rather than the folder the run was launched from, so find files
shipped with the code through code_dir()/code_path(), never through the
launching machine's paths.
"""

import json
import os
import sys

__all__ = ["WeftOpError", "config", "inputs", "input_path", "output",
           "output_path", "log", "materialize", "code_dir", "code_path"]

_LEVELS = ("debug", "info", "warning", "error", "critical")


class WeftOpError(RuntimeError):
    """The script is not running under weft, or was used wrongly."""


def _env(name):
    value = os.environ.get(name)
    if value is None:
        raise WeftOpError(
            "%s is not set: this script must be run by weft as an op "
            "(the step protocol sets WEFT_CONFIG, WEFT_INPUTS, WEFT_OUTPUTS "
            "and WEFT_EVENTS)" % name)
    return value


def _check_name(kind, name):
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise WeftOpError("%s name must be a plain name, got %r" % (kind, name))


def config():
    """The op's resolved config (a dict)."""
    with open(_env("WEFT_CONFIG"), encoding="utf-8") as f:
        return json.load(f)


def _path_input_names():
    names = os.environ.get("WEFT_PATH_INPUTS", "")
    return set(n for n in names.split(",") if n)


def inputs():
    """Every input: JSON inputs decoded, `path` inputs as their file path."""
    folder = _env("WEFT_INPUTS")
    raw = _path_input_names()
    result = {}
    if not os.path.isdir(folder):
        return result
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name in raw:
            result[name] = path
            continue
        with open(path, encoding="utf-8") as f:
            try:
                result[name] = json.load(f)
            except ValueError as e:
                raise WeftOpError("input %r is not valid JSON: %s" % (name, e))
    return result


def input_path(name):
    """The path of input NAME's file (raw bytes for a `path` input)."""
    _check_name("input", name)
    return os.path.join(_env("WEFT_INPUTS"), name)


def output_path(name):
    """The path to write `path` output NAME to (raw bytes)."""
    _check_name("output", name)
    return os.path.join(_env("WEFT_OUTPUTS"), name)


def output(name, value):
    """Writes output NAME as JSON (value must be JSON-serializable)."""
    text = json.dumps(value)
    path = output_path(name)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def code_dir():
    """The folder of the code the step runs (its run's code snapshot):
    WEFT_CODE_DIR, which is also the step's working directory; the working
    directory itself for a location run without a snapshot."""
    return os.environ.get("WEFT_CODE_DIR") or os.getcwd()


def code_path(*parts):
    """The path of a file shipped with the code, relative to code_dir():
    code_path("data", "lookup.json"). Refuses absolute paths and '..'."""
    for p in parts:
        if not isinstance(p, str) or not p or os.path.isabs(p) or \
                ".." in p.replace("\\", "/").split("/"):
            raise WeftOpError("code_path parts must be relative names inside "
                              "the code, got %r" % (p,))
    return os.path.join(code_dir(), *parts)


def _event(event):
    # WEFT_EVENTS is a file descriptor number, or (an `argv:` op in a
    # container) the path of the events file, appended to.
    target = _env("WEFT_EVENTS")
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8")
    if target.isdigit():
        fd, opened = int(target), False
    else:
        fd, opened = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666), True
    try:
        while line:
            written = os.write(fd, line)
            line = line[written:]
    finally:
        if opened:
            os.close(fd)


def log(msg, level="info"):
    """A log event; level is debug, info, warning, error or critical."""
    if level not in _LEVELS:
        raise WeftOpError("log level must be one of %s, got %r"
                          % (", ".join(_LEVELS), level))
    _event({"type": "log", "level": level, "msg": str(msg)})


def materialize(asset, **metadata):
    """Records that asset ASSET was materialized, with JSON metadata."""
    if not isinstance(asset, str) or not asset:
        raise WeftOpError("asset must be a non-empty string, got %r" % (asset,))
    _event({"type": "materialization", "asset": asset, "metadata": metadata})


def check(asset, name, passed, **metadata):
    """Records the result of asset check NAME on ASSET (passed: a bool),
    shown on the asset's page in the catalog with its history."""
    if not isinstance(asset, str) or not asset:
        raise WeftOpError("asset must be a non-empty string, got %r" % (asset,))
    if not isinstance(name, str) or not name:
        raise WeftOpError("check name must be a non-empty string, got %r" % (name,))
    _event({"type": "check", "asset": asset, "name": name, "passed": bool(passed),
            "metadata": metadata})


if __name__ == "__main__":
    sys.stderr.write("weft_op.py is a library for Python ops run by weft: "
                     "import it (from weft_op import config, output, ...)\n")
    sys.exit(2)
