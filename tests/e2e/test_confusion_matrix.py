"""ConfusionMatrix in real JupyterLab: click, shift-click, normalise, select from Python, clear;
every result read back from the notebook's kernel and checked against an independent oracle."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from .harness import wait_until

CLASSES = ["cat", "dog", "bird"]
N = 60


def make_data(seed: int = 7):
    """Seeded (ids, true, pred, probabilities); the prediction is each row's arg-max and its
    probability (the confidence) is > 0.5, so no ties."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, 3, N)
    pred = np.where(rng.random(N) < 0.6, true, rng.integers(0, 3, N))
    conf = rng.uniform(0.5, 0.98, N)
    rest = rng.dirichlet([1.0, 1.0], N) * (1.0 - conf)[:, None]
    probs = np.empty((N, 3))
    for i in range(N):
        others = [c for c in range(3) if c != pred[i]]
        probs[i, pred[i]] = conf[i]
        probs[i, others] = rest[i]
    ids = [f"img{i:03d}" for i in range(N)]
    return ids, true, pred, probs


IDS, TRUE, PRED, PROBS = make_data()
CONF = PROBS.max(axis=1)
COUNTS = np.zeros((3, 3), dtype=int)
np.add.at(COUNTS, (TRUE, PRED), 1)


def expected(*cells: tuple[int, int]) -> list[str]:
    """Ids of the samples in these (true, pred) cells, most confident first (the oracle)."""
    rows = [i for i in range(N) if (int(TRUE[i]), int(PRED[i])) in cells]
    return [IDS[i] for i in sorted(rows, key=lambda i: -CONF[i])]


NOTEBOOK = [
    f"""import numpy as np, pandas as pd
import nbdiag

ids = {json.dumps(IDS)}
true = {json.dumps([CLASSES[t] for t in TRUE])}
probs = np.array({json.dumps(PROBS.tolist())})
ds = nbdiag.Dataset(pd.DataFrame({{"label": true}}, index=ids), class_names={CLASSES!r})
ds.add_run("m", probs)
ev = ds.evaluate("m")
cm = nbdiag.ConfusionMatrix(ev)""",
    "cm",
]

SELECTED = "list(cm.selected.index)"
CELL_STATES_JS = """
() => Object.fromEntries([...document.querySelectorAll('[data-testid^="cm-cell-"]')].map(
  td => [td.dataset.testid.slice(8), td.dataset.selected || null]))
"""


def cell_states(page) -> dict[str, str | None]:
    return page.evaluate(CELL_STATES_JS)


def test_data_has_the_cells_the_test_clicks():
    assert COUNTS[1, 2] >= 2 and COUNTS[2, 0] >= 1 and COUNTS[2, 2] >= 2 and COUNTS[0, 0] >= 1


def test_confusion_matrix_click_select_normalise_clear(lab, notebook, page, artifacts):
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - t0, 2)

    lab.write_notebook("confusion_matrix.ipynb", NOTEBOOK)
    nb = notebook.open("confusion_matrix.ipynb")
    lap("kernel_idle")
    nb.run_all()
    lap("run_all_done")
    probe = nb.probe

    # --- rendered, with the kernel's counts (and the oracle's)
    root = page.locator('[data-testid="nbdiag-confusion-matrix"][data-ready="1"]')
    expect(root).to_be_visible(timeout=60_000)
    expect(root).not_to_have_attribute("data-error", "1")
    lap("widget_ready")
    kernel_counts = probe.eval("ev.confusion_matrix().to_numpy().astype(int).tolist()")
    assert kernel_counts == COUNTS.tolist()
    for t in range(3):
        for p in range(3):
            expect(page.get_by_test_id(f"cm-cell-{t}-{p}")).to_have_attribute(
                "data-count", str(COUNTS[t, p])
            )
    page.screenshot(path=str(artifacts / "01_rendered.png"))

    # --- click (true=dog, pred=bird): exactly those samples, most confident first
    page.get_by_test_id("cm-cell-1-2").click()
    want = expected((1, 2))
    got = probe.wait_for(SELECTED, lambda ids: len(ids) > 0)
    lap("click_to_kernel")
    assert got == want
    conf = probe.eval("list(cm.selected.confidence)")
    assert conf == sorted(conf, reverse=True)
    assert np.allclose(conf, [CONF[IDS.index(i)] for i in want])
    assert probe.eval("cm.selection_source") == "cell:1:2"
    assert probe.eval("sorted(cm.selection)") == sorted(want)
    assert cell_states(page)["1-2"] == "full"
    expect(page.get_by_test_id("cm-status")).to_have_attribute(
        "data-selected-count", str(len(want))
    )
    page.screenshot(path=str(artifacts / "02_clicked_1_2.png"))

    # --- shift-click (true=bird, pred=cat): the union
    page.get_by_test_id("cm-cell-2-0").click(modifiers=["Shift"])
    want = expected((1, 2), (2, 0))
    got = probe.wait_for(SELECTED, lambda ids: len(ids) == len(want))
    assert got == want
    lap("shift_click_to_kernel")
    states = cell_states(page)
    assert {k for k, v in states.items() if v} == {"1-2", "2-0"}
    page.screenshot(path=str(artifacts / "03_shift_clicked_2_0.png"))

    # --- row header: every true "dog"
    page.get_by_test_id("cm-row-1").click()
    want = expected((1, 0), (1, 1), (1, 2))
    assert probe.wait_for(SELECTED, lambda ids: len(ids) == len(want)) == want

    # --- normalise over the true class: the kernel follows, cells show percentages
    page.get_by_test_id("cm-normalize-true").click()
    assert probe.wait_for("cm.normalize", lambda v: v == "true") == "true"
    lap("normalize_to_kernel")
    expect(page.get_by_test_id("cm-normalize-true")).to_have_attribute("aria-pressed", "true")
    cell = page.get_by_test_id("cm-cell-1-2")
    expect(cell).to_have_text(re.compile(r"^\s*\d+(\.\d+)?\s*%\s*$"))
    shown = float(cell.inner_text().strip().rstrip("%"))
    assert shown == pytest.approx(100 * COUNTS[1, 2] / COUNTS[1].sum(), abs=0.051)
    assert probe.eval("cm.matrix.round(6).to_numpy().tolist()") == (
        (COUNTS / COUNTS.sum(axis=1, keepdims=True)).round(6).tolist()
    )
    page.screenshot(path=str(artifacts / "04_normalized_true.png"))

    # --- select from Python: every (cat, cat) and one (bird, bird) -> one full, one partial cell
    one_bird = expected((2, 2))[0]
    chosen = [*expected((0, 0)), one_bird]
    probe.execute(f"cm.select({chosen!r})")
    want_states = {f"{t}-{p}": None for t in range(3) for p in range(3)}
    want_states.update({"0-0": "full", "2-2": "partial"})
    wait_until(lambda: cell_states(page) == want_states, timeout=15, what="cells outlined")
    expect(page.get_by_test_id("cm-status")).to_have_attribute(
        "data-selected-count", str(len(chosen))
    )
    assert probe.eval("cm.selection_source") == "python"
    lap("python_select_to_dom")
    page.screenshot(path=str(artifacts / "05_selected_from_python.png"))

    # --- clear button: nothing selected in the kernel, nothing outlined
    page.get_by_test_id("cm-clear").click()
    assert probe.wait_for("len(cm.selection)", lambda n: n == 0) == 0
    assert probe.eval("len(cm.selected)") == 0
    assert not any(cell_states(page).values())
    expect(page.get_by_test_id("cm-status")).to_have_attribute("data-selected-count", "0")
    lap("clear_to_kernel")
    page.screenshot(path=str(artifacts / "06_cleared.png"))

    errors = [m for m in page.console_messages if m.startswith(("pageerror", "error"))]
    assert not errors, errors
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
