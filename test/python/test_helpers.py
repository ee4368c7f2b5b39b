"""Tests of the Python helpers in kernels/python/nbstage (record, ZeppelinContext).

Run with ``python3 test/python/test_helpers.py``. IPython's ``display`` is replaced by a recorder;
where IPython is not installed a minimal stand-in module is used, so this runs on any Python 3.9+.
"""

import json
import math
import os
import sys
import types
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "kernels", "python"))

try:
    import IPython  # noqa: F401
    import IPython.display  # noqa: F401
except ImportError:  # pragma: no cover - depends on the machine
    ipython = types.ModuleType("IPython")
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = lambda *args, **kwargs: None
    ipython.display = ipython_display
    ipython.get_ipython = lambda: None
    sys.modules["IPython"] = ipython
    sys.modules["IPython.display"] = ipython_display

import IPython  # noqa: E402
import IPython.display  # noqa: E402

import nbstage  # noqa: E402
from nbstage import zeppelin  # noqa: E402


class Published:
    """Replaces IPython.display.display and records what is published."""

    def __init__(self):
        self.calls = []

    def __call__(self, *objs, raw=False, metadata=None, **kwargs):
        self.calls.append({"objs": objs, "raw": raw, "metadata": metadata})

    def only(self):
        assert len(self.calls) == 1, self.calls
        call = self.calls[0]
        assert call["raw"] is True
        assert len(call["objs"]) == 1
        return call["objs"][0], call["metadata"]


class PatchedDisplay(unittest.TestCase):
    def setUp(self):
        self.published = Published()
        self._saved = IPython.display.display
        IPython.display.display = self.published

    def tearDown(self):
        IPython.display.display = self._saved


class RecordTest(PatchedDisplay):
    def test_publishes_metric_and_plain_text(self):
        nbstage.record("accuracy", 0.93)
        bundle, _ = self.published.only()
        self.assertEqual(
            bundle,
            {
                "application/vnd.nbstage.metric+json": {"name": "accuracy", "value": 0.93},
                "text/plain": "accuracy = 0.93",
            },
        )
        json.dumps(bundle)  # what is published is JSON

    def test_accepts_json_data_and_normalises_tuples(self):
        nbstage.record("conf", {"labels": ("a", "b"), "ok": True, "n": None})
        bundle, _ = self.published.only()
        self.assertEqual(
            bundle["application/vnd.nbstage.metric+json"]["value"],
            {"labels": ["a", "b"], "ok": True, "n": None},
        )
        self.assertEqual(bundle["text/plain"], "conf = {'labels': ('a', 'b'), 'ok': True, 'n': None}")

    def test_rejects_values_json_cannot_hold(self):
        for bad in (object(), {1: "x"}, [1, {2, 3}], math.nan, math.inf, b"bytes"):
            with self.subTest(value=bad):
                with self.assertRaises(TypeError) as ctx:
                    nbstage.record("m", bad)
                self.assertIn("record('m')", str(ctx.exception))
        self.assertEqual(self.published.calls, [])

    def test_rejects_bad_names(self):
        for bad in ("", "   ", None, 3):
            with self.subTest(name=bad):
                with self.assertRaises(TypeError):
                    nbstage.record(bad, 1)
        self.assertEqual(self.published.calls, [])


class FakeFrame:
    """Duck-typed stand-in for a pandas DataFrame."""

    def __init__(self, columns, rows, index_name=None):
        self.columns = columns
        self._rows = rows
        self.index = types.SimpleNamespace(name=index_name)

    def __len__(self):
        return len(self._rows)

    def itertuples(self, index=True, name="Pandas"):
        for i, row in enumerate(self._rows):
            yield ((i,) + tuple(row)) if index else tuple(row)

    def __repr__(self):
        return "FakeFrame(%d rows)" % len(self._rows)


class ZeppelinContextTest(PatchedDisplay):
    def setUp(self):
        super().setUp()
        self.z = zeppelin.ZeppelinContext({"region": "us", "n": 3, "picks": "a, b", "many": ["x"]})

    def test_forms_read_parameters_or_defaults(self):
        z = self.z
        self.assertEqual(z.input("region", "emea"), "us")
        self.assertEqual(z.input("missing", "emea"), "emea")
        self.assertEqual(z.input("missing"), "")
        self.assertEqual(z.input("missing", defaultValue="dv"), "dv")
        self.assertEqual(z.textbox("n"), 3)
        self.assertEqual(z.select("region", [("us", "US"), ("eu", "EU")], "eu"), "us")
        self.assertEqual(z.select("other", [("us", "US")], "eu"), "eu")
        self.assertIsNone(z.select("other", ["a"]))

    def test_checkbox(self):
        z = self.z
        self.assertEqual(z.checkbox("picks", ["a", "b", "c"]), ["a", "b"])
        self.assertEqual(z.checkbox("many", ["x", "y"]), ["x"])
        self.assertEqual(z.checkbox("none", [("a", "A"), ("b", "B")]), ["a", "b"])
        self.assertEqual(z.checkbox("none", ["a", "b"], ["b"]), ["b"])
        self.assertEqual(z.checkbox("none", ["a", "b"], defaultChecked=[]), [])

    def test_show_list_of_dicts(self):
        self.z.show([{"a": 1, "b": "x\ty"}, {"a": 2, "c": "line\nbreak"}])
        bundle, metadata = self.published.only()
        self.assertEqual(bundle["text/tab-separated-values"], "a\tb\tc\n1\tx y\t\n2\t\tline break\n")
        self.assertEqual(
            bundle["text/plain"], repr([{"a": 1, "b": "x\ty"}, {"a": 2, "c": "line\nbreak"}])
        )
        self.assertEqual(metadata, {})

    def test_show_list_of_rows_with_header(self):
        self.z.show([("name", "score"), ("ann", 0.5), ["bob", None]])
        bundle, _ = self.published.only()
        self.assertEqual(bundle["text/tab-separated-values"], "name\tscore\nann\t0.5\nbob\t\n")

    def test_show_dataframe_like(self):
        frame = FakeFrame(["x", "y"], [(1, "a"), (2, "b"), (3, "c")], index_name="idx")
        self.z.show(frame, max_rows=2)
        bundle, metadata = self.published.only()
        self.assertEqual(bundle["text/tab-separated-values"], "x\ty\n1\ta\n2\tb\n")
        self.assertEqual(bundle["text/plain"], "FakeFrame(3 rows)")
        self.assertEqual(
            metadata,
            {"text/tab-separated-values": {"truncated": True, "rows": 2, "total_rows": 3}},
        )

    def test_show_dataframe_with_index(self):
        self.z.show(FakeFrame(["x"], [(1,)], index_name="idx"), show_index=True)
        bundle, _ = self.published.only()
        self.assertEqual(bundle["text/tab-separated-values"], "idx\tx\n0\t1\n")

    def test_show_real_pandas_when_available(self):
        try:
            import pandas as pd
        except ImportError:
            self.skipTest("pandas is not installed")
        self.z.show(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
        bundle, _ = self.published.only()
        self.assertEqual(bundle["text/tab-separated-values"], "a\tb\n1\tx\n2\ty\n")

    def test_show_rejects_other_objects(self):
        with self.assertRaises(TypeError):
            self.z.show(42)
        with self.assertRaises(TypeError):
            self.z.show([1, 2, 3])


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.shell = types.SimpleNamespace(user_ns={})
        self._saved = IPython.get_ipython
        IPython.get_ipython = lambda: self.shell

    def tearDown(self):
        IPython.get_ipython = self._saved

    def test_binds_z_from_json(self):
        context = zeppelin.install(json.dumps({"region": "us", "flag": True, "none": None}))
        self.assertIs(self.shell.user_ns["z"], context)
        self.assertEqual(context.input("region"), "us")
        self.assertIs(context.input("flag"), True)
        self.assertIsNone(context.input("none", "d"))

    def test_accepts_a_dict(self):
        zeppelin.install({"a": 1})
        self.assertEqual(self.shell.user_ns["z"].input("a"), 1)

    def test_rejects_non_objects_and_missing_shell(self):
        with self.assertRaises(TypeError):
            zeppelin.install("[1, 2]")
        IPython.get_ipython = lambda: None
        with self.assertRaises(RuntimeError):
            zeppelin.install("{}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
