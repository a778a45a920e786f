# weft/_run.py: `python3 -m weft run FILE FUNCTION`, the step of a Python
# op: reads config and inputs (weft_op), calls the function, writes outputs.
import dataclasses
import importlib.util
import os
import pathlib
import shutil
import sys

import weft
import weft_op


def _fail(msg):
    sys.stderr.write("weft run: %s\n" % msg)
    return 1


def load_op(code_dir, rel, attr):
    """The OpDef named attr in the file rel of the code folder."""
    if os.path.isabs(rel) or ".." in rel.replace("\\", "/").split("/"):
        raise weft.WeftDefinitionError("%s: not a file inside the code folder" % rel)
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    modname = rel[:-3].replace("/", ".") if rel.endswith(".py") else rel
    spec = importlib.util.spec_from_file_location(modname, os.path.join(code_dir, rel))
    if spec is None:
        raise weft.WeftDefinitionError("%s: not a Python file" % rel)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    target = getattr(mod, attr, None)
    if not isinstance(target, weft.OpDef):
        raise weft.WeftDefinitionError("%s has no @op function %r" % (rel, attr))
    return target


def _write_path(name, value):
    dest = weft_op.output_path(name)
    if isinstance(value, (bytes, bytearray)):
        with open(dest, "wb") as f:
            f.write(value)
    elif isinstance(value, (str, pathlib.PurePath)) and os.path.isdir(value):
        shutil.copytree(str(value), dest)
    elif isinstance(value, (str, pathlib.PurePath)):
        shutil.copyfile(str(value), dest)
    else:
        raise TypeError("path output %r must be a file path or bytes, got %s"
                        % (name, type(value).__name__))


def _write(port, value):
    if port.type == "path":
        _write_path(port.name, value)
    else:
        if isinstance(value, pathlib.PurePath):
            value = str(value)
        try:
            weft_op.output(port.name, value)
        except TypeError as e:
            raise TypeError("output %r is not JSON-serializable: %s" % (port.name, e))


def write_outputs(opdef, value):
    kind = opdef.output_kind
    if kind == "none":
        weft_op.output("result", None)
        return
    if kind == "single":
        _write(opdef.outputs[0], value)
        return
    ports = opdef.outputs
    if kind == "dataclass" and dataclasses.is_dataclass(value):
        values = dict((p.name, getattr(value, p.name)) for p in ports)
    elif isinstance(value, dict):
        values = value
    elif isinstance(value, (tuple, list)) and kind == "out":
        if len(value) != len(ports):
            raise ValueError("op %s returned %d values for %d outputs (%s)"
                             % (opdef.name, len(value), len(ports),
                                ", ".join(p.name for p in ports)))
        values = dict(zip((p.name for p in ports), value))
    else:
        raise TypeError("op %s must return %s, got %s"
                        % (opdef.name, "a dict or a tuple" if kind == "out" else
                           "a dict" if kind == "typeddict" else "a dataclass instance",
                           type(value).__name__))
    missing = [p.name for p in ports if p.name not in values]
    if missing:
        raise ValueError("op %s did not return output(s) %s" % (opdef.name, ", ".join(missing)))
    for p in ports:
        _write(p, values[p.name])


def call(opdef):
    cfg = weft_op.config()
    ins = weft_op.inputs()
    kwargs = {}
    for p in opdef.inputs:
        if p.name in ins:
            v = ins[p.name]
            kwargs[p.name] = pathlib.Path(v) if p.type == "path" else v
    if opdef.config_cls is not None:
        names = set(f.name for f in dataclasses.fields(opdef.config_cls))
        kwargs["config"] = opdef.config_cls(**dict((k, v) for k, v in cfg.items() if k in names))
    if opdef.wants_context:
        kwargs["context"] = weft.OpContext(os.environ, cfg)
    return opdef.fn(**kwargs)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python3 -m weft run FILE FUNCTION\n")
        return 2
    # No __pycache__ in the code folder: the server watches it.
    sys.dont_write_bytecode = True
    code_dir = weft_op.code_dir()
    return run_loaded(load_op(code_dir, argv[0], argv[1]), argv[0], argv[1])


def run_loaded(opdef, rel, attr):
    """The step of an op already imported: here, or in a child of the warm
    pool's server (weft/_forkserver.py), which imported it once."""
    if not isinstance(opdef, weft.OpDef):
        raise weft.WeftDefinitionError("%s has no @op function %r" % (rel, attr))
    if opdef.broken:
        return _fail("op %s has definition errors (weft validate shows them)" % opdef.name)
    write_outputs(opdef, call(opdef))
    return 0
