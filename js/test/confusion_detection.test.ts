// @vitest-environment jsdom
/** The detection ConfusionMatrix's threshold sliders (IoU, score): shown only for detection,
 *  written to the kernel on release, following the kernel's values. */
import { afterEach, describe, expect, it } from "vitest";
import widget from "../src/widgets/confusion_matrix";
import { FakeModel } from "./fake_model";

const u16 = (codes: number[]): DataView => new DataView(new Uint16Array(codes).buffer);

function setup(extra: Record<string, unknown> = {}) {
  const model = new FakeModel({
    n_rows: 4,
    _selection: new DataView(new ArrayBuffer(0)),
    _selection_source: "",
    _view_id: "cm1",
    _link: null,
    _row_keys: null,
    class_names: ["cat", "dog", "background"],
    _y_true: u16([0, 1, 2, 0]),
    _y_pred: u16([0, 1, 1, 2]),
    normalize: "none",
    title: "det",
    ...extra,
  });
  const el = document.createElement("div");
  document.body.append(el);
  const cleanup = widget.render({ model: model as any, el }) as () => void;
  const q = <T extends HTMLElement>(id: string) => el.querySelector<T>(`[data-testid="${id}"]`)!;
  return { model, el, cleanup, q };
}

afterEach(() => document.body.replaceChildren());

describe("detection thresholds", () => {
  it("hidden for a classification matrix", () => {
    const { q } = setup();
    expect(q("cm-thresholds").hidden).toBe(true);
  });

  it("shown with the evaluation's thresholds; a released slider writes both to the kernel", () => {
    const { model, q } = setup({ _detection: true, iou_threshold: 0.5, score_threshold: 0.25 });
    expect(q("cm-thresholds").hidden).toBe(false);
    const iou = q<HTMLInputElement>("cm-iou");
    expect(iou.value).toBe("0.5");
    expect(q("cm-iou-value").textContent).toBe("0.50");
    expect(q("cm-score-value").textContent).toBe("0.25");
    iou.value = "0.75";
    iou.dispatchEvent(new Event("input"));
    expect(q("cm-iou-value").textContent).toBe("0.75");
    expect(model.saves).toHaveLength(0); // dragging is local
    iou.dispatchEvent(new Event("change"));
    expect(model.saves).toEqual([{ iou_threshold: 0.75, score_threshold: 0.25 }]);
  });

  it("follows the kernel (thresholds set from Python), and the new pairs redraw the matrix", () => {
    const { model, q, el } = setup({ _detection: true, iou_threshold: 0.5, score_threshold: 0 });
    model.fromKernel({ iou_threshold: 0.9, score_threshold: 0.4, n_rows: 2, _y_true: u16([0, 2]), _y_pred: u16([2, 1]) });
    expect(q<HTMLInputElement>("cm-iou").value).toBe("0.9");
    expect(q("cm-score-value").textContent).toBe("0.40");
    expect(el.querySelector<HTMLElement>('[data-testid="cm-cell-0-2"]')!.dataset.count).toBe("1");
    expect(el.querySelector<HTMLElement>('[data-testid="cm-cell-0-0"]')!.dataset.count).toBe("0");
    expect(model.saves).toHaveLength(0);
  });
});
