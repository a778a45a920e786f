# weft/__init__.py: Python authoring for weft (stdlib only, 3.8+): @op and
# @job turn functions into the same op and job definitions as ops/*.yaml.
"""Pipelines in Python.

    from weft import op, job, Out, schedule

    @op(retries=2, timeout="30s")
    def add_one(num: int) -> int:
        return num + 1

    @job(tags={"team": "examples"})
    def arithmetic():
        add_one.alias("second")(add_one(...))

weft collects every ops/*.py and jobs/*.py of a code location by running
`python3 -m weft describe FILE...` (weft/_describe.py), which imports the
files and prints their ops, jobs, schedules and sensors as JSON in the shape
of the YAML files. A job's body is traced, never run for real: calling an op
inside it records an invocation and returns a handle on its outputs. A step
of a Python op runs `python3 -m weft run FILE ATTR` (weft/_run.py), which
calls the function through the step protocol (weft_op).
"""

import dataclasses
import inspect
import pathlib
import sys
import typing

__all__ = ["op", "job", "Out", "schedule", "sensor", "yaml_op", "collect",
           "WeftDefinitionError", "OpContext"]

__version__ = "1"

# Python type -> weft type (docs/weft-yaml.md). bool before int: bool is an int.
_SCALARS = ((bool, "bool"), (int, "int"), (float, "float"), (str, "string"),
            (list, "list"), (dict, "dict"), (tuple, "list"))
_ORIGINS = {list: "list", dict: "dict", tuple: "list"}


class WeftDefinitionError(Exception):
    """A definition weft cannot turn into an op or a job; file and line
    name the def (or the call in a job's body) it is about."""

    def __init__(self, msg, file=None, line=None):
        Exception.__init__(self, "%s:%s: %s" % (file, line, msg) if file else msg)
        self.msg, self.file, self.line = msg, file, line


# While describing (weft/_describe.py), definition errors are recorded here
# and the module goes on loading, so one pass reports every mistake.
_collect = {"active": False, "errors": [], "schedules": [], "sensors": []}


def _fail(msg, file, line):
    err = WeftDefinitionError(msg, file, line)
    if _collect["active"]:
        _collect["errors"].append(err)
        return err
    raise err


def _where(fn):
    code = fn.__code__
    # co_firstlineno is the first decorator's line (Python 3.8+).
    return code.co_filename, code.co_firstlineno


def weft_type(hint):
    """The weft type name of a Python type hint, or None when it has none:
    int, float, str, bool, list, dict, pathlib.Path, their typing
    generics (List[int], Dict[str, float]) and typing.Any."""
    if hint is typing.Any:
        return "any"
    if isinstance(hint, type):
        if issubclass(hint, pathlib.PurePath):
            return "path"
        for t, name in _SCALARS:
            if hint is t:
                return name
        return None
    origin = getattr(hint, "__origin__", None)
    if origin in _ORIGINS:
        return _ORIGINS[origin]
    return None


def _type_label(hint):
    return getattr(hint, "__name__", None) or repr(hint)


def _hints(fn):
    try:
        return typing.get_type_hints(fn)
    except Exception:
        pass
    # typing refuses `-> Out(...)` as a string (from __future__ import
    # annotations): each hint is then evaluated on its own, as typing would.
    out = {}
    for k, v in getattr(fn, "__annotations__", {}).items():
        if isinstance(v, str):
            try:
                v = eval(v, getattr(fn, "__globals__", {}))  # noqa: S307 - the user's own hint
            except Exception:
                pass
        out[k] = v
    return out


# ---- outputs -----------------------------------------------------------------


class Out:
    """Several outputs: `-> Out(low=int, high=int)`. The function returns a
    dict with those keys, or a tuple in that order."""

    def __init__(self, **outputs):
        if not outputs:
            raise WeftDefinitionError("Out() needs at least one output: Out(name=type)")
        self.outputs = outputs


def _is_typeddict(t):
    return isinstance(t, type) and issubclass(t, dict) and \
        hasattr(t, "__annotations__") and hasattr(t, "__total__")


def _output_fields(ret):
    """(kind, [(name, hint)]) of a return annotation: kind is "single",
    "out", "dataclass", "typeddict" or "none"."""
    if ret is None or ret is type(None):
        return "none", []
    if isinstance(ret, Out):
        return "out", list(ret.outputs.items())
    if dataclasses.is_dataclass(ret) and isinstance(ret, type):
        return "dataclass", [(f.name, f.type) for f in dataclasses.fields(ret)]
    if _is_typeddict(ret):
        return "typeddict", list(typing.get_type_hints(ret).items())
    return "single", [("result", ret)]


# ---- ops -----------------------------------------------------------------------


class _Port:
    def __init__(self, name, type_, default=inspect.Parameter.empty):
        self.name, self.type, self.default = name, type_, default


class OpDef:
    """An op made by @op: call it inside a @job to invoke it; outside a job
    it is the plain function (op.fn)."""

    def __init__(self, fn, name=None, description=None, retries=None,
                 timeout=None, tags=None, queue=None, image=None, isolated=False,
                 assets=None, steps_per_child=None):
        self.fn = fn
        self.assets = assets
        self.isolated = bool(isolated)
        self.steps_per_child = steps_per_child
        self.name = name or fn.__name__
        self.file, self.line = _where(fn)
        self.description = description if description is not None else \
            (inspect.getdoc(fn) or None)
        self.retries, self.timeout, self.tags = retries, timeout, tags
        self.queue, self.image = queue, image
        self.inputs, self.config_cls = [], None
        self.wants_context = False
        self.output_kind, self.outputs = "single", []
        self.broken = False
        self._read_signature()
        spc = steps_per_child
        if spc is not None and (isinstance(spc, bool) or not isinstance(spc, int) or
                                not 1 <= spc <= 1000000):
            self.steps_per_child = None
            self._error("steps_per_child must be an integer from 1 to 1000000, got %r" % (spc,))
        elif spc is not None and spc > 1 and self.isolated:
            self._error("steps_per_child needs the warm pool, which isolated=True turns off")

    def _error(self, msg):
        self.broken = True
        _fail("op '%s': %s" % (self.name, msg), self.file, self.line)

    def _read_signature(self):
        hints = _hints(self.fn)
        for p in inspect.signature(self.fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                self._error("*%s: an op's inputs must be named parameters" % p.name)
                continue
            if p.name == "context":
                self.wants_context = True
                continue
            hint = hints.get(p.name)
            if p.name == "config":
                if hint is None or not (dataclasses.is_dataclass(hint) and isinstance(hint, type)):
                    self._error("parameter 'config' must be annotated with a dataclass "
                                "(its fields are the config schema), got %s"
                                % ("no annotation" if hint is None else _type_label(hint)))
                else:
                    self.config_cls = hint
                    self._check_config(hint)
                continue
            if hint is None:
                self._error("input '%s' has no type hint (int, float, str, bool, "
                            "list, dict or pathlib.Path)" % p.name)
                continue
            t = weft_type(hint)
            if t is None:
                self._error("input '%s': unsupported type hint %s (int, float, str, "
                            "bool, list, dict, pathlib.Path or typing.Any)"
                            % (p.name, _type_label(hint)))
                continue
            self.inputs.append(_Port(p.name, t, p.default))
        ret = hints.get("return", inspect.Signature.empty) \
            if "return" in getattr(self.fn, "__annotations__", {}) else inspect.Signature.empty
        if ret is inspect.Signature.empty:
            self.output_kind, self.outputs = "single", [_Port("result", "any")]
            return
        kind, fields = _output_fields(ret)
        self.output_kind = kind
        for name, hint in fields:
            t = weft_type(hint)
            if t is None:
                self._error("output '%s': unsupported type hint %s (int, float, str, "
                            "bool, list, dict, pathlib.Path or typing.Any)"
                            % (name, _type_label(hint)))
                continue
            self.outputs.append(_Port(name, t))

    def _check_config(self, cls):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if weft_type(hints.get(f.name)) is None:
                self._error("config field '%s': unsupported type hint %s (int, float, "
                            "str, bool, list or dict)"
                            % (f.name, _type_label(hints.get(f.name))))

    # -- the definition in the shape of ops/*.yaml
    def definition(self, rel_file):
        d = {}
        if self.description:
            d["description"] = self.description
        attr = self.fn.__name__
        d["argv"] = ["python3", "-m", "weft", "run", rel_file, attr]
        if self.inputs:
            ins = {}
            for p in self.inputs:
                spec = {"type": p.type}
                if p.default is not inspect.Parameter.empty:
                    spec["default"] = _json_default(p.default)
                ins[p.name] = spec
            d["inputs"] = ins
        if self.output_kind == "none":
            d["outputs"] = {"result": "any"}
        else:
            d["outputs"] = dict((p.name, p.type) for p in self.outputs)
        if self.config_cls is not None:
            d["config"] = _config_schema(self.config_cls)
        if self.retries is not None:
            d["retries"] = self.retries
        if self.timeout is not None:
            d["timeout"] = self.timeout
        if self.tags:
            d["tags"] = self.tags
        if self.queue is not None:
            d["queue"] = self.queue
        if self.image is not None:
            d["image"] = self.image
        if self.isolated:
            d["isolated"] = True
        if self.steps_per_child is not None:
            d["steps_per_child"] = self.steps_per_child
        if self.assets:
            # As in YAML: keys, or {key, group, description, owners,
            # partitions, freshness}; weft checks them at load time.
            d["assets"] = list(self.assets)
        return d

    # -- calls: traced inside a job, the function itself elsewhere
    def __call__(self, *args, **kwargs):
        tracer = _Tracer.current
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.invoke(self, None, args, kwargs)

    def alias(self, name):
        """This op invoked under another step name: add_one.alias("b")(x)."""
        return _Aliased(self, name)

    def __repr__(self):
        return "<weft op %s>" % self.name


class _Aliased:
    def __init__(self, target, name):
        self.target, self.name = target, name

    def __call__(self, *args, **kwargs):
        tracer = _Tracer.current
        if tracer is None:
            raise WeftDefinitionError("%s.alias(%r) can only be called inside a @job"
                                      % (self.target.name, self.name))
        return tracer.invoke(self.target, self.name, args, kwargs)


class YamlOp:
    """An op defined in ops/*.yaml (or in another Python file) by name:
    yaml_op("sum", inputs=["a", "b"])(x, y) or yaml_op("sum")(a=x, b=y)."""

    def __init__(self, name, inputs=None):
        self.name = name
        self.inputs = [_Port(n, "any") for n in (inputs or [])]
        self.outputs = []

    def __call__(self, *args, **kwargs):
        tracer = _Tracer.current
        if tracer is None:
            raise WeftDefinitionError("yaml_op(%r) can only be called inside a @job" % self.name)
        return tracer.invoke(self, None, args, kwargs)

    def alias(self, name):
        return _Aliased(self, name)


def yaml_op(name, inputs=None):
    """An op defined elsewhere in the location (ops/*.yaml or another file),
    to invoke in a @job. inputs names its inputs in order, for positional
    calls; keyword calls need none."""
    return YamlOp(name, inputs)


def _json_default(v):
    if isinstance(v, pathlib.PurePath):
        return str(v)
    if isinstance(v, tuple):
        return list(v)
    return v


def _config_schema(cls):
    hints = typing.get_type_hints(cls)
    schema = {}
    for f in dataclasses.fields(cls):
        t = weft_type(hints.get(f.name))
        if t is None:
            continue  # reported by _check_config
        spec = {"type": t}
        if f.default is not dataclasses.MISSING:
            spec["default"] = _json_default(f.default)
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore
            spec["default"] = _json_default(f.default_factory())  # type: ignore
        else:
            spec["required"] = True
        doc = f.metadata.get("description") if f.metadata else None
        if doc:
            spec["description"] = doc
        schema[f.name] = spec
    return schema


def op(fn=None, *, name=None, description=None, retries=None, timeout=None,
       tags=None, queue=None, image=None, isolated=False, assets=None,
       steps_per_child=None):
    """Makes a function an op: @op or @op(retries=2, timeout="1m", ...).

    Inputs are its parameters (type hints int, float, str, bool, list,
    dict, pathlib.Path; a default makes an input optional); outputs come
    from the return annotation (one value is output `result`; a dataclass,
    a TypedDict or Out(a=int, b=str) gives several); a parameter `config`
    annotated with a dataclass is the config schema; a parameter `context`
    gets an OpContext (log, materialize, run_id). isolated=True runs each
    step in a fresh interpreter instead of a child of the warm pool (for
    code that cannot fork, docs/python.md "Warm pool"); steps_per_child=N
    lets one pool child run up to N of its steps in a row (module globals
    then persist between them: docs/python.md "Reusing children"). assets=["orders"]
    (or dicts with key, group, description, owners, partitions, freshness)
    declares the assets it produces, as `assets:` in YAML (docs/assets.md)."""
    def wrap(f):
        if not inspect.isfunction(f):
            raise WeftDefinitionError("@op decorates a function, got %r" % (f,))
        return OpDef(f, name=name, description=description, retries=retries,
                     timeout=timeout, tags=tags, queue=queue, image=image,
                     isolated=isolated, assets=assets, steps_per_child=steps_per_child)
    return wrap(fn) if fn is not None else wrap


# ---- jobs: traced, never run ---------------------------------------------------


def _body_line(tracer):
    """The line of the job body being traced that led here."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename != tracer.job.file:
        f = f.f_back
    return f.f_lineno if f is not None else tracer.job.line


class _Nested:
    """step.out.each(): every item's list OUTPUT of a mapped step, to map
    over in a nested map (`map: {INPUT: STEP[*].OUTPUT}`)."""

    def __init__(self, out):
        self.out = out

    def ref(self):
        return "%s[*].%s" % (self.out.step, self.out.name)

    def map(self, op, input=None, *, when=None, **inputs):
        """A nested map: op once per element of each item's list (items
        STEP[i][j]); the result collects as a list per item."""
        return _map(self, op, input, inputs, when)


def _map(source, target, input, kwargs, when):
    """Traces target mapped over source (a list output, or a mapped step: a
    map after a map): `map: {INPUT: source}`, INPUT being `input` or the
    target's first input not given in kwargs."""
    tracer = _Tracer.current
    if tracer is None:
        raise WeftDefinitionError(".map() can only be called inside a @job")
    line = _body_line(tracer)

    def fail(msg):
        raise WeftDefinitionError(msg, None, line)
    alias = None
    if isinstance(target, _Aliased):
        target, alias = target.target, target.name
    if not isinstance(target, (OpDef, YamlOp)):
        fail(".map() takes an op (an @op, op.alias(...) or yaml_op(...)), got %r" % (target,))
    name = target.name
    if input is None:
        free = [p.name for p in target.inputs if p.name not in kwargs]
        if not free:
            fail("%s: no input left to map over: name it (.map(%s, \"INPUT\"))" % (name, name))
        input = free[0]
    if input in kwargs:
        fail("%s: input '%s' is mapped, and given too" % (name, input))
    if when is not None and not isinstance(when, str):
        fail("%s: when= is a condition string (\"item > 0\")" % name)
    kwargs = dict(kwargs)
    kwargs[input] = source
    return tracer.invoke(target, alias, (), kwargs, mapped=input, when=when)


class _Mappable:
    """.map() and .collect() of step handles (Dagster's DynamicOutput.map
    and .collect)."""

    def map(self, op, input=None, *, when=None, **inputs):
        """Runs op once per item of this list output (or of this mapped
        step: a map after a map keeps the keys): op's first free input (or
        `input`) gets the item, the keywords wire its other inputs. when= is
        a per-item condition ("item > 0"). Returns the mapped step: passed to
        another op, that op receives the list of its outputs (a collect)."""
        return _map(self, op, input, inputs, when)

    def each(self):
        """Of a mapped step: the list output of every item, for a nested
        map (dirs.files.each().map(scan): scan[i][j])."""
        out = self if isinstance(self, _Output) else _Output(self._step, "result", self._mapped)
        if not out._mapped:
            tracer = _Tracer.current
            raise WeftDefinitionError(
                "each(): '%s' is not a mapped step: map over it with .map(op)" % out.ref(),
                None, _body_line(tracer) if tracer else None)
        return _Nested(out)

    def collect(self):
        """The list of a mapped step's outputs, in item order, for the op
        it is passed to (passing the mapped step itself does the same)."""
        if not getattr(self, "_mapped", False):
            tracer = _Tracer.current
            raise WeftDefinitionError(
                "collect(): '%s' is not a mapped step (make one with .map(op))" % self.ref(),
                None, _body_line(tracer) if tracer else None)
        return self


def collect(mapped):
    """collect(results): the same as results.collect()."""
    if not isinstance(mapped, _Mappable):
        raise WeftDefinitionError("collect() takes a mapped step, got %r" % (mapped,))
    return mapped.collect()


class _Output(_Mappable):
    """A handle on one output of a traced invocation."""

    def __init__(self, step, name, mapped=False):
        self.step, self.name, self._mapped = step, name, mapped

    def ref(self):
        return self.step if self.name == "result" else "%s.%s" % (self.step, self.name)


class _Invocation(_Mappable):
    """What an op call returns inside a job: its output `result` when
    passed on, another output as an attribute (split(x).high), and its
    outputs in order when unpacked (low, high = split(x)); .map(op) and
    .collect() (_Mappable)."""

    def __init__(self, step, target, mapped=False):
        self._step, self._target, self._mapped = step, target, mapped

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return _Output(self._step, name, self._mapped)

    def __iter__(self):
        outs = self._target.outputs
        if not outs:
            raise WeftDefinitionError(
                "cannot unpack the outputs of '%s': its outputs are not known here "
                "(use attributes: step.high)" % self._target.name)
        return iter([_Output(self._step, p.name, self._mapped) for p in outs])

    def ref(self):
        return self._step


class _Tracer:
    current = None

    def __init__(self, jobdef):
        self.job = jobdef
        self.steps = {}   # step name -> invocation mapping (ordered)
        self.lines = {}   # step name -> line of the call in the job body
        self.errors = []

    def _call_line(self):
        f = sys._getframe(3)
        while f is not None and f.f_code.co_filename != self.job.file:
            f = f.f_back
        return f.f_lineno if f is not None else self.job.line

    def invoke(self, target, alias, args, kwargs, mapped=None, when=None):
        line = self._call_line()
        name = alias or target.name
        if name in self.steps:
            if alias:
                self.errors.append(("step '%s' is invoked twice" % name, line))
            n = 2
            while "%s_%d" % (name, n) in self.steps:
                n += 1
            name = "%s_%d" % (name, n)
        inv = {"uses": target.name}
        wires = {}
        ports = target.inputs
        if len(args) > len(ports):
            self.errors.append(("%s takes %d input(s) in order%s, got %d"
                                % (target.name, len(ports),
                                   "" if ports or not isinstance(target, YamlOp)
                                   else " (give yaml_op inputs=[...] or call with keywords)",
                                   len(args)), line))
        for p, v in zip(ports, args):
            wires[p.name] = v
        for k, v in kwargs.items():
            if k in wires:
                self.errors.append(("%s: input '%s' given twice" % (target.name, k), line))
            wires[k] = v
        inputs = {}
        for k, v in wires.items():
            if isinstance(v, (_Output, _Invocation, _Nested)):
                inputs[k] = v.ref()
            elif v is Ellipsis:
                continue  # left to the run config or the input's default
            else:
                self.errors.append((
                    "%s: input '%s' must be the output of another op in the job, got %r "
                    "(give values in the run config: ops.%s.inputs.%s)"
                    % (target.name, k, v, name, k), line))
        if mapped is not None and mapped in inputs:
            inv["map"] = {mapped: inputs.pop(mapped)}
        if inputs:
            inv["inputs"] = inputs
        if when is not None:
            inv["when"] = when
        self.steps[name] = inv
        self.lines[name] = line
        return _Invocation(name, target, mapped is not None)


class JobDef:
    def __init__(self, fn, name=None, description=None, tags=None,
                 timeout=None, sla=None):
        self.fn = fn
        self.name = name or fn.__name__
        self.file, self.line = _where(fn)
        self.description = description if description is not None else \
            (inspect.getdoc(fn) or None)
        self.tags, self.timeout, self.sla = tags, timeout, sla

    def trace(self):
        """(definition, {step: line}, [(error, line)]) from running the body
        with op calls recorded."""
        tracer = _Tracer(self)
        prev, _Tracer.current = _Tracer.current, tracer
        try:
            self.fn()
        except WeftDefinitionError as e:
            tracer.errors.append((e.msg, e.line or self.line))
        finally:
            _Tracer.current = prev
        d = {"name": self.name}
        if self.description:
            d["description"] = self.description
        if self.tags:
            d["tags"] = self.tags
        if self.timeout is not None:
            d["timeout"] = self.timeout
        if self.sla is not None:
            d["sla"] = self.sla
        d["ops"] = tracer.steps
        return d, tracer.lines, tracer.errors

    def __call__(self, *a, **k):
        raise WeftDefinitionError("job '%s' is run by weft (weft launch %s), not called"
                                  % (self.name, self.name))

    def __repr__(self):
        return "<weft job %s>" % self.name


def job(fn=None, *, name=None, description=None, tags=None, timeout=None, sla=None):
    """Makes a function a job: its body calls ops (add_one(add_x())), which
    weft records without running them. @job or @job(tags={...}, ...)."""
    def wrap(f):
        if not inspect.isfunction(f):
            raise WeftDefinitionError("@job decorates a function, got %r" % (f,))
        if inspect.signature(f).parameters:
            _fail("job '%s': a job function takes no parameters (values come from "
                  "the run config)" % (name or f.__name__), *_where(f))
        return JobDef(f, name=name, description=description, tags=tags,
                      timeout=timeout, sla=sla)
    return wrap(fn) if fn is not None else wrap


# ---- schedules and sensors ----------------------------------------------------


def _caller_line():
    f = sys._getframe(2)
    return f.f_code.co_filename, f.f_lineno


def _job_name(j):
    if isinstance(j, JobDef):
        return j.name
    if isinstance(j, str) and j:
        return j
    raise WeftDefinitionError("a schedule or sensor needs a job (a @job or its name), got %r" % (j,))


def schedule(job, cron, name=None, **fields):
    """A cron schedule of a job, as in schedules/*.yaml: schedule(nightly,
    cron="30 6 * * *", timezone="Europe/Amsterdam", default="off",
    catch_up="latest", config={...}, tags={...})."""
    file, line = _caller_line()
    d = {"name": name or "%s_schedule" % _job_name(job), "job": _job_name(job), "cron": cron}
    d.update(fields)
    _collect["schedules"].append((file, line, d))
    return d


def sensor(job, kind, name=None, **fields):
    """A sensor, as in sensors/*.yaml: sensor(etl, kind="asset",
    asset="sales_report"), kind "file" (glob=), "command" (run= or argv=),
    "run_status" (watch_job=, status=) or "asset" (asset=)."""
    file, line = _caller_line()
    d = {"name": name or "%s_%s_sensor" % (_job_name(job), kind), "job": _job_name(job),
         "kind": kind}
    d.update(fields)
    _collect["sensors"].append((file, line, d))
    return d


# ---- what an op sees while it runs ------------------------------------------


class _Log:
    def __init__(self, emit):
        self._emit = emit

    def debug(self, msg):
        self._emit(msg, "debug")

    def info(self, msg):
        self._emit(msg, "info")

    def warning(self, msg):
        self._emit(msg, "warning")

    def error(self, msg):
        self._emit(msg, "error")

    def critical(self, msg):
        self._emit(msg, "critical")


class OpContext:
    """The `context` parameter of an op: context.log.info(...),
    context.materialize(asset, **metadata), run_id, job_name, op_name,
    attempt, op_config (the config as a dict)."""

    def __init__(self, env, op_config):
        import weft_op
        self.run_id = env.get("WEFT_RUN_ID")
        self.job_name = env.get("WEFT_JOB")
        self.op_name = env.get("WEFT_OP")
        self.attempt = int(env.get("WEFT_ATTEMPT") or 1)
        self.op_config = op_config
        self.log = _Log(weft_op.log)
        self._materialize = weft_op.materialize
        self._check = weft_op.check

    def materialize(self, asset, **metadata):
        self._materialize(asset, **metadata)

    def check(self, asset, name, passed, **metadata):
        """Reports asset check NAME of ASSET (passed: a bool)."""
        self._check(asset, name, passed, **metadata)
