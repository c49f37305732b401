/** Tiny DOM helpers shared by the widgets' views. */

type Attrs = Record<string, string | number | boolean | null | undefined>;

/**
 * Create an element: `h("button", { class: "x", "data-testid": "y" }, "text")`. Attributes with
 * value `null`, `undefined` or `false` are left out; `true` sets an empty attribute.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) el.append(child);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create an SVG element: `svgEl("rect", { x: 0, width: 10 })` (every attribute is set). */
export function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** Whether a pointer event asks to add to the selection (shift, ctrl or cmd held). */
export function isAdditive(ev: { shiftKey: boolean; ctrlKey: boolean; metaKey: boolean }): boolean {
  return ev.shiftKey || ev.ctrlKey || ev.metaKey;
}
