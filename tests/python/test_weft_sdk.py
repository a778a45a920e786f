# test_weft_sdk.py: unit tests of the Python authoring SDK (sdk/python/weft):
# every type hint mapping and its error, outputs, config, job tracing, describe, run.
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import typing
import unittest

SDK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python")
sys.path.insert(0, os.path.abspath(SDK))

import weft  # noqa: E402
from weft import Out, WeftDefinitionError, collect, job, op, yaml_op  # noqa: E402

try:
    from typing import TypedDict
except ImportError:  # Python 3.7
    TypedDict = None


def _read(path):
    with open(path) as f:
        return f.read()


def _line_of(fn):
    return fn.__code__.co_firstlineno


class TypeHints(unittest.TestCase):
    def test_each_supported_hint(self):
        cases = [(int, "int"), (float, "float"), (str, "string"), (bool, "bool"),
                 (list, "list"), (dict, "dict"), (pathlib.Path, "path"),
                 (pathlib.PurePosixPath, "path"), (typing.List[int], "list"),
                 (typing.Dict[str, float], "dict"), (typing.Any, "any"),
                 (tuple, "list")]
        if sys.version_info >= (3, 9):
            cases += [(eval("list[int]"), "list"), (eval("dict[str, int]"), "dict")]
        for hint, name in cases:
            with self.subTest(hint=hint):
                self.assertEqual(weft.weft_type(hint), name)

    def test_unsupported_hints(self):
        for hint in (set, bytes, complex, typing.Optional[int], typing.Union[int, str], object):
            with self.subTest(hint=hint):
                self.assertIsNone(weft.weft_type(hint))

    def test_inputs_from_parameters(self):
        @op
        def f(a: int, b: float, c: str, d: bool, e: list, g: dict, h: pathlib.Path,
              i: int = 3) -> int:
            return 0
        d = f.definition("ops/x.py")
        self.assertEqual(d["inputs"], {
            "a": {"type": "int"}, "b": {"type": "float"}, "c": {"type": "string"},
            "d": {"type": "bool"}, "e": {"type": "list"}, "g": {"type": "dict"},
            "h": {"type": "path"}, "i": {"type": "int", "default": 3}})
        self.assertEqual(d["argv"], ["python3", "-m", "weft", "run", "ops/x.py", "f"])

    def test_missing_hint_names_file_and_line(self):
        with self.assertRaises(WeftDefinitionError) as cm:
            @op
            def g(a):
                return a
        e = cm.exception
        self.assertEqual(e.file, __file__)
        self.assertIn("input 'a' has no type hint", e.msg)
        self.assertIn("%s:%d:" % (__file__, e.line), str(e))

    def test_unsupported_input_hint(self):
        with self.assertRaises(WeftDefinitionError) as cm:
            @op
            def g(a: set) -> int:
                return 1
        self.assertIn("input 'a': unsupported type hint set", cm.exception.msg)

    def test_unsupported_output_hint(self):
        with self.assertRaises(WeftDefinitionError) as cm:
            @op
            def g(a: int) -> bytes:
                return b""
        self.assertIn("output 'result': unsupported type hint bytes", cm.exception.msg)

    def test_varargs_refused(self):
        with self.assertRaises(WeftDefinitionError) as cm:
            @op
            def g(*a: int) -> int:
                return 1
        self.assertIn("must be named parameters", cm.exception.msg)

    def test_line_is_the_decorator(self):
        @op(retries=1)
        def h(a: int) -> int:
            return a
        self.assertEqual(h.line, _line_of(h.fn))
        self.assertEqual(h.file, __file__)


class Outputs(unittest.TestCase):
    def test_single_and_none_and_missing(self):
        @op
        def one(a: int) -> str:
            return ""

        @op
        def none(a: int) -> None:
            pass

        @op
        def untyped(a: int):
            return a
        self.assertEqual(one.definition("f")["outputs"], {"result": "string"})
        self.assertEqual(none.definition("f")["outputs"], {"result": "any"})
        self.assertEqual(untyped.definition("f")["outputs"], {"result": "any"})

    def test_out(self):
        @op
        def s(n: int) -> Out(low=int, high=int):
            return n // 2, n - n // 2
        self.assertEqual(s.definition("f")["outputs"], {"low": "int", "high": "int"})

    def test_dataclass(self):
        @dataclasses.dataclass
        class R:
            rows: int
            path: pathlib.Path

        @op
        def s(n: int) -> R:
            return R(1, pathlib.Path("x"))
        self.assertEqual(s.definition("f")["outputs"], {"rows": "int", "path": "path"})

    @unittest.skipIf(TypedDict is None, "no TypedDict")
    def test_typeddict(self):
        class T(TypedDict):
            a: int
            b: str

        @op
        def s(n: int) -> T:
            return {"a": 1, "b": ""}
        self.assertEqual(s.definition("f")["outputs"], {"a": "int", "b": "string"})

    def test_out_needs_outputs(self):
        with self.assertRaises(WeftDefinitionError):
            Out()


class Config(unittest.TestCase):
    def test_schema_from_dataclass(self):
        @dataclasses.dataclass
        class C:
            day: str
            limit: int = 10
            ratio: float = 0.5
            names: list = dataclasses.field(default_factory=list)
            source: str = dataclasses.field(default="api", metadata={"description": "where"})

        @op(timeout="1m", tags={"k": "v"}, queue="gpu", image="python:3.12-slim",
            retries={"max": 2, "delay": "1s"})
        def load(config: C) -> int:
            """Loads."""
            return 0
        d = load.definition("f")
        self.assertEqual(d["config"], {
            "day": {"type": "string", "required": True},
            "limit": {"type": "int", "default": 10},
            "ratio": {"type": "float", "default": 0.5},
            "names": {"type": "list", "default": []},
            "source": {"type": "string", "default": "api", "description": "where"}})
        self.assertEqual(d["description"], "Loads.")
        self.assertEqual((d["timeout"], d["tags"], d["queue"], d["image"], d["retries"]),
                         ("1m", {"k": "v"}, "gpu", "python:3.12-slim",
                          {"max": 2, "delay": "1s"}))
        self.assertNotIn("inputs", d)

    def test_config_must_be_a_dataclass(self):
        with self.assertRaises(WeftDefinitionError) as cm:
            @op
            def g(config: dict) -> int:
                return 0
        self.assertIn("'config' must be annotated with a dataclass", cm.exception.msg)

    def test_config_field_type(self):
        @dataclasses.dataclass
        class C:
            s: set = dataclasses.field(default_factory=set)
        with self.assertRaises(WeftDefinitionError) as cm:
            @op
            def g(config: C) -> int:
                return 0
        self.assertIn("config field 's'", cm.exception.msg)

    def test_context_is_not_an_input(self):
        @op
        def g(context, a: int) -> int:
            return a
        self.assertTrue(g.wants_context)
        self.assertEqual(list(g.definition("f")["inputs"]), ["a"])


@op
def _add_x(num: int) -> int:
    return num


@op
def _add_one(num: int) -> int:
    return num + 1


@op
def _split(num: int) -> Out(low=int, high=int):
    return num, num


@op
def _sum(a: int, b: int) -> int:
    return a + b


class Jobs(unittest.TestCase):
    def test_trace(self):
        @job(tags={"team": "t"}, timeout="1h")
        def arith():
            """Arithmetic."""
            low, high = _split(_add_one(_add_x()))
            _sum(low, _add_one.alias("second")(high))
        d, lines, errors = arith.trace()
        self.assertEqual(errors, [])
        self.assertEqual(d["name"], "arith")
        self.assertEqual(d["description"], "Arithmetic.")
        self.assertEqual(d["timeout"], "1h")
        self.assertEqual(d["ops"], {
            "_add_x": {"uses": "_add_x"},
            "_add_one": {"uses": "_add_one", "inputs": {"num": "_add_x"}},
            "_split": {"uses": "_split", "inputs": {"num": "_add_one"}},
            "second": {"uses": "_add_one", "inputs": {"num": "_split.high"}},
            "_sum": {"uses": "_sum", "inputs": {"a": "_split.low", "b": "second"}}})
        self.assertEqual(lines["second"], lines["_sum"])

    def test_repeated_calls_get_numbered(self):
        @job
        def j():
            _add_one(_add_one(_add_x()))
        d, _, _ = j.trace()
        self.assertEqual(list(d["ops"]), ["_add_x", "_add_one", "_add_one_2"])

    def test_attribute_outputs_and_keywords(self):
        @job
        def j():
            s = _split(_add_x())
            _sum(b=s.high, a=s.low)
        d, _, errors = j.trace()
        self.assertEqual(errors, [])
        self.assertEqual(d["ops"]["_sum"]["inputs"], {"b": "_split.high", "a": "_split.low"})

    def test_yaml_op(self):
        @job
        def j():
            x = yaml_op("add_x")()
            yaml_op("sum", inputs=["a", "b"])(x, yaml_op("add_one")(num=x))
        d, _, errors = j.trace()
        self.assertEqual(errors, [])
        self.assertEqual(d["ops"]["sum"], {"uses": "sum", "inputs": {"a": "add_x", "b": "add_one"}})

    def test_constant_input_is_an_error(self):
        @job
        def j():
            _add_one(5)
        _, _, errors = j.trace()
        self.assertEqual(len(errors), 1)
        self.assertIn("_add_one: input 'num' must be the output of another op", errors[0][0])
        self.assertIn("ops._add_one.inputs.num", errors[0][0])

    def test_map_and_collect(self):
        @op
        def _nums() -> list:
            return [1, 2]

        @op
        def _total(xs: list) -> int:
            return sum(xs)

        @job
        def j():
            sq = _nums().map(_add_one, when="item > 1")
            again = sq.map(_sum.alias("plus"), "b", a=_add_x())
            _total(collect(sq))
            _total.alias("t2")(again.collect())
        d, lines, errors = j.trace()
        self.assertEqual(errors, [])
        self.assertEqual(d["ops"]["_add_one"], {"uses": "_add_one", "map": {"num": "_nums"},
                                                "when": "item > 1"})
        self.assertEqual(d["ops"]["plus"], {"uses": "_sum", "map": {"b": "_add_one"},
                                            "inputs": {"a": "_add_x"}})
        self.assertEqual(d["ops"]["_total"], {"uses": "_total", "inputs": {"xs": "_add_one"}})
        self.assertEqual(d["ops"]["t2"], {"uses": "_total", "inputs": {"xs": "plus"}})
        self.assertEqual(lines["_add_one"], _line_of(j.fn) + 2)

    def test_map_of_an_output_and_of_a_yaml_op(self):
        @job
        def j():
            _split(_add_x()).high.map(yaml_op("each", inputs=["v"]))
        d, _, errors = j.trace()
        self.assertEqual(errors, [])
        self.assertEqual(d["ops"]["each"], {"uses": "each", "map": {"v": "_split.high"}})

    def test_nested_map(self):
        @op
        def _dirs() -> list:
            return []

        @op
        def _ls(d: str) -> list:
            return []

        @job
        def j():
            _dirs().map(_ls).each().map(_add_one.alias("scan"))
        d, _, errors = j.trace()
        self.assertEqual(errors, [])
        self.assertEqual(d["ops"]["scan"], {"uses": "_add_one", "map": {"num": "_ls[*].result"}})

        @job
        def bad():
            _dirs().each()
        _, _, errors = bad.trace()
        self.assertIn("each(): '_dirs' is not a mapped step", errors[0][0])

    def test_map_mistakes(self):
        def trace_error(body):
            _, _, errors = job(body).trace()
            self.assertEqual(len(errors), 1)
            return errors[0]

        def collect_unmapped():
            collect(_add_x())
        msg, line = trace_error(collect_unmapped)
        self.assertIn("'_add_x' is not a mapped step", msg)
        self.assertEqual(line, _line_of(collect_unmapped) + 1)

        def nothing_to_map():
            _add_x().map(_add_one, num=_add_x())
        msg, line = trace_error(nothing_to_map)
        self.assertIn("_add_one: no input left to map over", msg)
        self.assertEqual(line, _line_of(nothing_to_map) + 1)

        def not_an_op():
            _add_x().map(len)
        self.assertIn(".map() takes an op", trace_error(not_an_op)[0])
        with self.assertRaises(WeftDefinitionError):
            _add_x.definition  # noqa: B018 (a plain attribute, no job)
            weft._map(None, _add_one, None, {}, None)

    def test_job_body_never_runs_ops(self):
        ran = []

        @op
        def side(a: int) -> int:
            ran.append(a)
            return a

        @job
        def j():
            side(_add_x())
        j.trace()
        self.assertEqual(ran, [])

    def test_job_takes_no_parameters(self):
        with self.assertRaises(WeftDefinitionError):
            @job
            def j(x):
                pass

    def test_op_outside_a_job_is_the_function(self):
        self.assertEqual(_add_one(1), 2)

    def test_schedule_and_sensor(self):
        @job
        def nightly():
            _add_x()
        s = weft.schedule(nightly, cron="0 3 * * *", timezone="UTC")
        self.assertEqual(s, {"name": "nightly_schedule", "job": "nightly",
                             "cron": "0 3 * * *", "timezone": "UTC"})
        z = weft.sensor(nightly, kind="asset", asset="orders", name="after_orders")
        self.assertEqual(z["kind"], "asset")


def _describe(root, *files, timeout=5):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SDK))
    p = subprocess.run([sys.executable, "-m", "weft", "describe", "--timeout", str(timeout),
                        "--root", root] + list(files), env=env, capture_output=True,
                       text=True, timeout=60)
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert lines and lines[0] == {"ready": True}, lines
    return lines[1:]


class Describe(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        os.makedirs(os.path.join(self.root, "ops"))
        os.makedirs(os.path.join(self.root, "jobs"))

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, rel, text):
        with open(os.path.join(self.root, rel), "w") as f:
            f.write(textwrap.dedent(text))

    def test_ops_and_jobs_with_lines(self):
        self.write("ops/m.py", """\
            from weft import op

            @op
            def one(a: int) -> int:
                return a
            """)
        self.write("jobs/j.py", """\
            from weft import job
            from ops.m import one

            @job
            def jj():
                one(one())
            """)
        m, j = _describe(self.root, "ops/m.py", "jobs/j.py")
        self.assertEqual(m["errors"], [])
        self.assertEqual(m["ops"]["lines"], [1, 3, 1])
        self.assertIn('"one"', m["ops"]["text"])
        self.assertEqual(j["deps"], ["jobs/j.py", "ops/m.py"])
        job = json.loads(j["jobs"][0]["text"])
        self.assertEqual(job["ops"]["one_2"], {"uses": "one", "inputs": {"a": "one"}})
        self.assertEqual(j["jobs"][0]["lines"][-2], 6)

    def test_syntax_error(self):
        self.write("ops/bad.py", "x = 1\ndef f(:\n    pass\n")
        self.write("ops/ok.py", "from weft import op\n@op\ndef fine() -> int:\n    return 1\n")
        bad, ok = _describe(self.root, "ops/bad.py", "ops/ok.py")
        self.assertEqual(bad["errors"][0]["line"], 2)
        self.assertIn("SyntaxError", bad["errors"][0]["msg"])
        self.assertEqual(ok["errors"], [])

    def test_import_error_last_frame(self):
        self.write("ops/imp.py", "import os\n\nimport no_such_module_here\n")
        (d,) = _describe(self.root, "ops/imp.py")
        self.assertEqual(d["errors"][0]["line"], 3)
        self.assertIn("ModuleNotFoundError", d["errors"][0]["msg"])

    def test_definition_errors_all_reported(self):
        self.write("ops/d.py", """\
            from weft import op

            @op
            def a(x) -> int:
                return 1

            @op
            def b(y: set) -> int:
                return 1

            @op
            def c(z: int) -> int:
                return 1
            """)
        (d,) = _describe(self.root, "ops/d.py")
        self.assertEqual([e["line"] for e in d["errors"]], [3, 7])
        self.assertEqual(json.loads(d["ops"]["text"]).keys(), {"c"})

    def test_hang_times_out_at_its_line(self):
        self.write("ops/hang.py", "import time\n\ntime.sleep(60)\n")
        self.write("ops/after.py", "x = 1\n")
        hang, after = _describe(self.root, "ops/hang.py", "ops/after.py", timeout=0.5)
        self.assertEqual(hang["errors"][0]["line"], 3)
        self.assertIn("took longer than 0.5 s", hang["errors"][0]["msg"])
        self.assertTrue(hang.get("nocache"))
        self.assertEqual(after["errors"], [])


class FutureAnnotations(unittest.TestCase):
    def test_string_hints_resolve(self):
        ns = {}
        exec(compile(textwrap.dedent("""\
            from __future__ import annotations
            import dataclasses, pathlib
            from weft import op, Out

            @dataclasses.dataclass
            class C:
                n: int = 2

            @op
            def f(a: int, p: pathlib.Path, config: C) -> Out(low=int, high=str):
                return 1, ""
            """), "future.py", "exec"), ns)
        d = ns["f"].definition("ops/future.py")
        self.assertEqual(d["inputs"], {"a": {"type": "int"}, "p": {"type": "path"}})
        self.assertEqual(d["outputs"], {"low": "int", "high": "string"})
        self.assertEqual(d["config"], {"n": {"type": "int", "default": 2}})


class Run(unittest.TestCase):
    def test_run_writes_outputs(self):
        with tempfile.TemporaryDirectory() as tmp:
            code = os.path.join(tmp, "code")
            for d in ("code/ops", "in", "out"):
                os.makedirs(os.path.join(tmp, d))
            with open(os.path.join(code, "ops", "m.py"), "w") as f:
                f.write(textwrap.dedent("""\
                    import dataclasses
                    from weft import op, Out

                    @dataclasses.dataclass
                    class C:
                        x: int = 1

                    @op
                    def split(context, num: int, config: C) -> Out(low=int, high=int):
                        context.log.info("splitting %d" % num)
                        return num // 2 + config.x, num - num // 2
                    """))
            with open(os.path.join(tmp, "in", "num"), "w") as f:
                f.write("9")
            with open(os.path.join(tmp, "cfg.json"), "w") as f:
                f.write('{"x": 10}')
            events = os.path.join(tmp, "events")
            env = dict(os.environ, PYTHONPATH=os.path.abspath(SDK), WEFT_CODE_DIR=code,
                       WEFT_CONFIG=os.path.join(tmp, "cfg.json"),
                       WEFT_INPUTS=os.path.join(tmp, "in"),
                       WEFT_OUTPUTS=os.path.join(tmp, "out"), WEFT_EVENTS=events)
            p = subprocess.run([sys.executable, "-m", "weft", "run", "ops/m.py", "split"],
                               env=env, cwd=code, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            out = os.path.join(tmp, "out")
            self.assertEqual(_read(os.path.join(out, "low")), "14")
            self.assertEqual(_read(os.path.join(out, "high")), "5")
            self.assertIn("splitting 9", _read(events))
            self.assertFalse(os.path.exists(os.path.join(code, "ops", "__pycache__")))


if __name__ == "__main__":
    unittest.main()
