"""Runs nbclient's own test notebooks under nbclient and compares both nbclient's and nbstage's
executed notebooks with the outputs stored in them, cell by cell, as nbclient's
tests/test_client.py does (`normalize_output`, `assert_notebooks_equal`).

Usage: python nbclient_compat.py FILES_DIR NBSTAGE_DIR OPTIONS_JSON
  FILES_DIR     nbclient's tests/files (the notebooks, with their stored outputs)
  NBSTAGE_DIR   nbstage's executed notebooks, one per notebook, under the same file names
  OPTIONS_JSON  {"Name.ipynb": {"allow_errors": true, "timeout": 3, ...}} nbclient options

Prints one JSON object: per notebook, for nbclient and for nbstage, whether each code cell
reproduces its stored outputs and execution count; what nbclient raised, if it did; whether
nbstage's notebook is valid nbformat.
"""

import copy
import json
import os
import re
import sys
import warnings
import xml.etree.ElementTree as ET
from base64 import b64decode, b64encode

import nbformat
from nbclient import NotebookClient

# As nbclient's tests/conftest.py and run_notebook: stable cell names and terminal size.
os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
os.environ["COLUMNS"] = "80"
os.environ["LINES"] = "24"

# nbclient's tests/test_client.py patterns.
ADDR = re.compile(r"0x[0-9a-f]{7,9}")
IPYTHON_INPUT = re.compile(
    r"(<ipython-input-\d+-[0-9a-f]+>|<IPY-INPUT>) in (<module>|<cell line: \d>\(\))"
)
IPYTHON8_INPUT = re.compile(
    r"((Cell|Input) In\s?\[\d+\]|<IPY-INPUT>), (in )?(line \d|<module>|<cell line: \d>\(\))"
)
# nbconvert's strip_ansi.
ANSI = re.compile("\x1b\\[(.*?)([@-~])|\x1b\\](.*?)\x07")


def normalize_base64(text):
    try:
        return b64encode(b64decode(text.encode("ascii"))).decode("ascii")
    except (ValueError, TypeError):
        return text


def xml_tree(text):
    """An SVG as nested tuples, whitespace between elements ignored (as xmltodict.parse)."""

    def walk(el):
        return (
            el.tag,
            tuple(sorted(el.attrib.items())),
            (el.text or "").strip(),
            tuple(walk(child) for child in el),
        )

    return walk(ET.fromstring(text))


def normalize_output(output):
    """nbclient's normalize_output."""
    output = copy.deepcopy(dict(output))
    output.pop("metadata", None)
    if "text" in output:
        output["text"] = ADDR.sub("<HEXADDR>", output["text"])
    data = output.get("data", {})
    if "text/plain" in data:
        data["text/plain"] = ADDR.sub("<HEXADDR>", data["text/plain"])
    if "application/vnd.jupyter.widget-view+json" in data:
        data["application/vnd.jupyter.widget-view+json"]["model_id"] = "<MODEL_ID>"
    if "image/svg+xml" in data:
        data["image/svg+xml"] = xml_tree(data["image/svg+xml"])
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = normalize_base64(value)
    if "traceback" in output:
        output["traceback"] = [
            IPYTHON8_INPUT.sub("<IPY-INPUT>", IPYTHON_INPUT.sub("<IPY-INPUT>", ANSI.sub("", line)))
            for line in output["traceback"]
        ]
    return output


def streams_in_name_order(outputs):
    """The outputs with each run of adjacent stream outputs as one output per stream name, in
    name order, each holding all the text of that stream in the run.

    ipykernel flushes stdout and stderr on their own, through its IO thread: a cell that prints
    to both can show them in either order, and one print can arrive in two pieces with the other
    stream's text between them (seen in CI under load: stderr first under one tool while the
    other, in the same run, had them in order; "errorred" and its newline on either side of
    stdout's "hello"). Where the pieces fall is the kernel's doing, not the client's, so both
    sides are compared with it fixed; every byte of every stream is still compared, in order
    within its stream.
    """
    result, run = [], []
    for output in outputs + [None]:
        if output is not None and output.get("output_type") == "stream":
            run.append(output)
            continue
        by_name = {}
        for stream in run:
            text = stream.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            by_name[stream.get("name", "")] = by_name.get(stream.get("name", ""), "") + text
        result.extend(
            {"name": name, "output_type": "stream", "text": by_name[name]} for name in sorted(by_name)
        )
        run = []
        if output is not None:
            result.append(output)
    return result


def same(expected, actual):
    """nbclient's assert_notebooks_equal for one cell: outputs and execution count."""
    outputs = streams_in_name_order([normalize_output(o) for o in expected.get("outputs", [])])
    got = streams_in_name_order([normalize_output(o) for o in actual.get("outputs", [])])
    return outputs == got and expected.get("execution_count") == actual.get("execution_count")


def compare(stored, executed):
    """Per code cell of `stored`: whether `executed` reproduces it (None: cell missing), and
    for each cell that differs, both sides normalized (to show in a failure)."""
    cells, diffs = {}, {}
    for index, cell in enumerate(stored.cells):
        if cell.cell_type != "code":
            continue
        other = executed.cells[index] if index < len(executed.cells) else None
        cells[str(index)] = None if other is None else same(cell, other)
        if other is not None and not cells[str(index)]:
            diffs[str(index)] = {
                "stored": [normalize_output(o) for o in cell.get("outputs", [])],
                "executed": [normalize_output(o) for o in other.get("outputs", [])],
            }
    return cells, diffs


def run_nbclient(path, files_dir, options):
    """nbclient's run_notebook: stored outputs cleared, executed in the notebook's folder."""
    stored = nbformat.read(path, 4)
    cleaned = copy.deepcopy(stored)
    for cell in cleaned.cells:
        cell.pop("execution_count", None)
        cell["outputs"] = []
    client = NotebookClient(
        cleaned,
        kernel_name="python3",
        resources={"metadata": {"path": files_dir}},
        **options,
    )
    raised = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            client.execute()
        except Exception as err:  # noqa: BLE001 - what nbclient raised is the finding
            last = ANSI.sub("", str(err)).strip().splitlines()
            raised = f"{type(err).__name__}: {last[-1] if last else ''}"
    # On an error nbclient stops; the notebook it was executing holds what ran.
    return stored, client.nb, raised


def main():
    files_dir, nbstage_dir, options_file = sys.argv[1:4]
    with open(options_file) as f:
        all_options = json.load(f)
    report = {}
    for name in sorted(os.listdir(files_dir)):
        if not name.endswith(".ipynb"):
            continue
        stored, executed, raised = run_nbclient(
            os.path.join(files_dir, name), files_dir, all_options.get(name, {})
        )
        cells, _ = compare(stored, executed)
        entry = {"nbclient": {"raised": raised, "cells": cells}}
        ours = os.path.join(nbstage_dir, name)
        if os.path.exists(ours):
            with open(ours) as f:
                text = f.read()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                nb = nbformat.reads(text, 4)
            try:
                nbformat.validate(json.loads(text))
                invalid = None
            except nbformat.ValidationError as err:
                invalid = str(err).splitlines()[0]
            cells, diffs = compare(stored, nb)
            entry["nbstage"] = {"cells": cells, "diffs": diffs, "invalid": invalid}
        else:
            entry["nbstage"] = None
        report[name] = entry
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
