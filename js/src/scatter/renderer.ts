/**
 * The scatter's WebGL2 point renderer. One draw call per layer over all points, nothing per point
 * on the CPU per frame:
 *
 * - coordinates: two float32 vertex buffers uploaded straight from the model's columns;
 * - colour: a uint8/uint16 category code per point (integer attribute) looked up in a palette
 *   texture, or a float32 value mapped through a ramp texture, or one colour;
 * - size: an optional float32 per point in [0, 1] mapped to a pixel range;
 * - selection: one byte per point (an integer attribute: 1 selected) and the selected rows as
 *   an index buffer, both rebuilt from the packed bitmask on a new selection (a linear pass).
 *   A vertex attribute, not a texture lookup per vertex: on a software renderer (SwiftShader,
 *   a machine without a GPU) the lookup made every frame of millions of points several times
 *   slower.
 *
 * Layers: the unselected points (dimmed while something is selected; one draw over all points),
 * then the selected ones on top (one draw over the selected rows only, through the index
 * buffer), then the hovered point with a ring. Circles are antialiased in the fragment shader and
 * blended premultiplied, so dimmed points work on light and dark backgrounds alike.
 */

import { parseColor, rampBytes, type RGBA } from "./colors";
import { selectionArrays } from "./selection_arrays";
import type { ViewTransform } from "./transform";

export type ColorSpec =
  | { kind: "none"; color: string }
  | { kind: "category"; codes: Uint8Array | Uint16Array; colors: readonly string[]; missing: string }
  | { kind: "value"; values: Float32Array; range: [number, number]; missing: string };

export interface PointData {
  x: Float32Array;
  y: Float32Array;
  color: ColorSpec;
  /** Per-point size in [0, 1] (NaN: the base size), or null. */
  size: Float32Array | null;
}

export interface PointStyle {
  /** Base diameter in CSS pixels. */
  pointSize: number;
  /** Diameter range (CSS px) of the size column's 0 and 1. */
  sizeRange: [number, number];
  /** Opacity of the points (1 = opaque). */
  opacity: number;
  /** Opacity of unselected points while a selection exists. */
  dimOpacity: number;
  /** Ring colour of the hovered point. */
  ringColor: string;
}

/** What the scatter view needs from a renderer ({@link PointRenderer}, or a stub in tests). */
export interface Renderer {
  readonly frames: number;
  setData(data: PointData): void;
  setColor(color: ColorSpec): void;
  setSelection(bits: Uint8Array | null, any: boolean): void;
  setHover(i: number): void;
  setStyle(style: Partial<PointStyle>): void;
  resize(cssWidth: number, cssHeight: number, dpr: number): void;
  draw(t: ViewTransform): void;
  litPixels?(t: ViewTransform): number;
  destroy(): void;
}

const VERTEX = `#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;

in float aX;
in float aY;
in uint aCode;
in float aValue;
in float aSize;
in uint aSel;

uniform vec4 uXf;          // clip = data * xy + zw
uniform int uColorMode;    // 0 one colour, 1 category, 2 value
uniform sampler2D uPalette;
uniform int uPaletteSize;
uniform sampler2D uRamp;
uniform vec2 uRange;       // value range (lo, 1 / (hi - lo))
uniform vec4 uBaseColor;
uniform vec4 uMissing;
uniform int uHasSel;
uniform int uPass;         // 0 unselected (all when nothing selected), 1 selected, 2 hover
uniform float uPointSize;  // device px
uniform vec2 uSizeRange;   // device px
uniform int uHasSize;
uniform float uOpacity;
uniform float uDim;

out vec4 vColor;
out float vSize;
flat out int vRing;


void hide() {
  gl_Position = vec4(2.0, 2.0, 2.0, 1.0);
  gl_PointSize = 0.0;
  vColor = vec4(0.0);
  vSize = 0.0;
  vRing = 0;
}

void main() {
  bool sel = uHasSel == 1 && aSel == 1u;
  if ((uPass == 0 && sel) || (uPass == 1 && !sel) || !(aX == aX) || !(aY == aY)) {
    hide();
    return;
  }
  vec4 c = uBaseColor;
  if (uColorMode == 1) {
    int code = int(aCode);
    if (code >= uPaletteSize) c = uMissing;
    else c = texelFetch(uPalette, ivec2(code % 4096, code / 4096), 0);
  } else if (uColorMode == 2) {
    if (!(aValue == aValue)) c = uMissing;
    else c = texture(uRamp, vec2(clamp((aValue - uRange.x) * uRange.y, 0.0, 1.0) * (255.0 / 256.0) + 0.5 / 256.0, 0.5));
  }
  float a = uOpacity;
  if (uPass == 0 && uHasSel == 1) a *= uDim;
  float size = uPointSize;
  if (uHasSize == 1 && aSize == aSize) size = mix(uSizeRange.x, uSizeRange.y, clamp(aSize, 0.0, 1.0));
  vRing = 0;
  if (uPass == 2) {
    size = max(size * 1.8, size + 6.0);
    a = 1.0;
    vRing = 1;
  }
  vColor = vec4(c.rgb, c.a * a);
  vSize = size;
  gl_PointSize = size;
  gl_Position = vec4(aX * uXf.x + uXf.z, aY * uXf.y + uXf.w, 0.0, 1.0);
}
`;

const FRAGMENT = `#version 300 es
precision highp float;
in vec4 vColor;
in float vSize;
flat in int vRing;
uniform vec4 uRingColor;
out vec4 outColor;

void main() {
  vec2 p = gl_PointCoord * 2.0 - 1.0;
  float r = length(p);
  if (r > 1.0) discard;
  float edge = min(0.5, 1.5 / max(vSize, 1.0));
  float alpha = vColor.a * (1.0 - smoothstep(1.0 - edge, 1.0, r));
  vec3 rgb = vColor.rgb;
  if (vRing == 1) {
    float ring = smoothstep(0.55, 0.62, r);
    rgb = mix(rgb, uRingColor.rgb, ring);
  }
  outColor = vec4(rgb * alpha, alpha);
}
`;

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
  const s = gl.createShader(type);
  if (!s) throw new Error("cannot create a shader");
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) {
    const log = gl.getShaderInfoLog(s);
    gl.deleteShader(s);
    throw new Error(`shader compile error: ${log}`);
  }
  return s;
}

const norm = (c: RGBA): [number, number, number, number] => [c[0] / 255, c[1] / 255, c[2] / 255, c[3] / 255];

export const DEFAULT_STYLE: PointStyle = {
  pointSize: 3,
  sizeRange: [2, 12],
  opacity: 0.85,
  dimOpacity: 0.18,
  ringColor: "#111111",
};

export class PointRenderer implements Renderer {
  readonly canvas: HTMLCanvasElement;
  private gl: WebGL2RenderingContext;
  private program: WebGLProgram;
  private vao: WebGLVertexArrayObject;
  private loc: Record<string, WebGLUniformLocation | null> = {};
  private attr: Record<string, number> = {};
  private buffers: Record<string, WebGLBuffer | null> = { x: null, y: null, code: null, value: null, size: null, sel: null, selIdx: null };
  /** Number of selected rows in the `selIdx` element buffer. */
  private selCount = 0;
  /** The bitmask to upload at the next draw (the caller does not modify it meanwhile). */
  private pendingSel: Uint8Array | null = null;
  private selDirty = false;
  private paletteTex: WebGLTexture;
  private rampTex: WebGLTexture;
  private n = 0;
  private color: ColorSpec = { kind: "none", color: "#4e79a7" };
  private paletteSize = 0;
  private hasSize = false;
  private hasSel = false;
  private hover = -1;
  private style: PointStyle = { ...DEFAULT_STYLE };
  private dpr = 1;
  /** Frames drawn so far. */
  frames = 0;
  /** The context was lost (GPU reset); draw() does nothing until the page reloads the view. */
  lost = false;

  /** Whether this browser gives a WebGL2 context. */
  static supported(): boolean {
    try {
      return document.createElement("canvas").getContext("webgl2") !== null;
    } catch {
      return false;
    }
  }

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
    const gl = canvas.getContext("webgl2", { antialias: false, alpha: true, premultipliedAlpha: true, preserveDrawingBuffer: false, depth: false, stencil: false });
    if (!gl) throw new Error("WebGL2 is not available in this browser");
    this.gl = gl;
    canvas.addEventListener("webglcontextlost", (ev) => {
      ev.preventDefault();
      this.lost = true;
    });
    const vs = compile(gl, gl.VERTEX_SHADER, VERTEX);
    const fs = compile(gl, gl.FRAGMENT_SHADER, FRAGMENT);
    const program = gl.createProgram();
    if (!program) throw new Error("cannot create a WebGL program");
    gl.attachShader(program, vs);
    gl.attachShader(program, fs);
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`program link error: ${gl.getProgramInfoLog(program)}`);
    gl.deleteShader(vs);
    gl.deleteShader(fs);
    this.program = program;
    for (const name of ["uXf", "uColorMode", "uPalette", "uPaletteSize", "uRamp", "uRange", "uBaseColor", "uMissing", "uHasSel", "uPass", "uPointSize", "uSizeRange", "uHasSize", "uOpacity", "uDim", "uRingColor"]) {
      this.loc[name] = gl.getUniformLocation(program, name);
    }
    for (const name of ["aX", "aY", "aCode", "aValue", "aSize", "aSel"]) this.attr[name] = gl.getAttribLocation(program, name);
    const vao = gl.createVertexArray();
    if (!vao) throw new Error("cannot create a vertex array");
    this.vao = vao;
    this.paletteTex = this.texture(gl.NEAREST);
    this.rampTex = this.texture(gl.LINEAR);
    gl.pixelStorei(gl.UNPACK_ALIGNMENT, 1);
    gl.bindTexture(gl.TEXTURE_2D, this.rampTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, 256, 1, 0, gl.RGBA, gl.UNSIGNED_BYTE, rampBytes(256));
    this.uploadSelection(null);
    this.uploadPalette([]);
  }

  private texture(filter: number): WebGLTexture {
    const gl = this.gl;
    const t = gl.createTexture();
    if (!t) throw new Error("cannot create a texture");
    gl.bindTexture(gl.TEXTURE_2D, t);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MIN_FILTER, filter);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_MAG_FILTER, filter);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE);
    gl.texParameteri(gl.TEXTURE_2D, gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE);
    return t;
  }

  get pointCount(): number {
    return this.n;
  }

  private floatBuffer(key: string, attr: string, data: Float32Array | null): void {
    const gl = this.gl;
    const loc = this.attr[attr];
    if (data === null) {
      if (this.buffers[key]) gl.deleteBuffer(this.buffers[key]);
      this.buffers[key] = null;
      if (loc >= 0) {
        gl.disableVertexAttribArray(loc);
        gl.vertexAttrib1f(loc, NaN);
      }
      return;
    }
    const buf = this.buffers[key] ?? gl.createBuffer();
    this.buffers[key] = buf;
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
    if (loc >= 0) {
      gl.enableVertexAttribArray(loc);
      gl.vertexAttribPointer(loc, 1, gl.FLOAT, false, 0, 0);
    }
  }

  /** New points (coordinates, colour, size). Drops the selection and the hover. */
  setData(data: PointData): void {
    const gl = this.gl;
    gl.bindVertexArray(this.vao);
    const n = Math.min(data.x.length, data.y.length);
    this.n = n;
    this.floatBuffer("x", "aX", data.x.length === n ? data.x : data.x.subarray(0, n));
    this.floatBuffer("y", "aY", data.y.length === n ? data.y : data.y.subarray(0, n));
    this.setColor(data.color);
    this.hasSize = data.size !== null && data.size.length >= n;
    this.floatBuffer("size", "aSize", this.hasSize ? data.size : null);
    gl.bindVertexArray(null);
    this.hover = -1;
    this.hasSel = false;
    this.pendingSel = null;
    this.selDirty = false;
    this.uploadSelection(null);
  }

  /** New colouring of the same points. */
  setColor(color: ColorSpec): void {
    const gl = this.gl;
    gl.bindVertexArray(this.vao);
    this.color = color;
    const codeLoc = this.attr.aCode;
    if (color.kind === "category" && color.codes.length >= this.n) {
      const buf = this.buffers.code ?? gl.createBuffer();
      this.buffers.code = buf;
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, color.codes, gl.STATIC_DRAW);
      gl.enableVertexAttribArray(codeLoc);
      gl.vertexAttribIPointer(codeLoc, 1, color.codes instanceof Uint8Array ? gl.UNSIGNED_BYTE : gl.UNSIGNED_SHORT, 0, 0);
      this.uploadPalette(color.colors);
    } else if (codeLoc >= 0) {
      gl.disableVertexAttribArray(codeLoc);
      gl.vertexAttribI4ui(codeLoc, 0, 0, 0, 0);
    }
    this.floatBuffer("value", "aValue", color.kind === "value" && color.values.length >= this.n ? color.values : null);
    gl.bindVertexArray(null);
  }

  private uploadPalette(colors: readonly string[]): void {
    const gl = this.gl;
    const n = Math.max(1, colors.length);
    const w = Math.min(n, 4096);
    const h = Math.ceil(n / 4096);
    const bytes = new Uint8Array(w * h * 4);
    colors.forEach((c, i) => bytes.set(parseColor(c), i * 4));
    gl.bindTexture(gl.TEXTURE_2D, this.paletteTex);
    gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA8, w, h, 0, gl.RGBA, gl.UNSIGNED_BYTE, bytes);
    this.paletteSize = colors.length;
  }

  /** The selection flags (a byte per point) and the selected rows (the element buffer). */
  private uploadSelection(bits: Uint8Array | null): void {
    const gl = this.gl;
    const loc = this.attr.aSel;
    gl.bindVertexArray(this.vao);
    const { flags, rows } = selectionArrays(bits, this.n);
    this.selCount = rows.length;
    if (flags === null) {
      if (loc >= 0) {
        gl.disableVertexAttribArray(loc);
        gl.vertexAttribI4ui(loc, 0, 0, 0, 0);
      }
    } else {
      const buf = this.buffers.sel ?? gl.createBuffer();
      this.buffers.sel = buf;
      gl.bindBuffer(gl.ARRAY_BUFFER, buf);
      gl.bufferData(gl.ARRAY_BUFFER, flags, gl.DYNAMIC_DRAW);
      if (loc >= 0) {
        gl.enableVertexAttribArray(loc);
        gl.vertexAttribIPointer(loc, 1, gl.UNSIGNED_BYTE, 0, 0);
      }
    }
    const idx = this.buffers.selIdx ?? gl.createBuffer();
    this.buffers.selIdx = idx;
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, idx); // part of the vertex array's state
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, rows.length > 0 ? rows : new Uint32Array(1), gl.DYNAMIC_DRAW);
    gl.bindVertexArray(null);
  }

  /** The packed selection bitmask over the points (null or all-zero: nothing selected). */
  setSelection(bits: Uint8Array | null, any: boolean): void {
    this.hasSel = bits !== null && any;
    // uploaded by the next draw: a burst of selections uploads once, and an upload never waits
    // (blocking the page) for a frame the GPU is still drawing
    this.pendingSel = this.hasSel ? bits : null;
    this.selDirty = true;
  }

  /** The hovered point (-1: none). */
  setHover(i: number): void {
    this.hover = i >= 0 && i < this.n ? i : -1;
  }

  setStyle(style: Partial<PointStyle>): void {
    this.style = { ...this.style, ...style };
  }

  /** Match the drawing buffer to the canvas' CSS size. */
  resize(cssWidth: number, cssHeight: number, dpr: number): void {
    this.dpr = dpr;
    const w = Math.max(1, Math.round(cssWidth * dpr));
    const h = Math.max(1, Math.round(cssHeight * dpr));
    if (this.canvas.width !== w) this.canvas.width = w;
    if (this.canvas.height !== h) this.canvas.height = h;
  }

  draw(t: ViewTransform): void {
    if (this.lost) return;
    const gl = this.gl;
    const { style, dpr } = this;
    if (this.selDirty) {
      this.selDirty = false;
      this.uploadSelection(this.pendingSel);
      this.pendingSel = null;
    }
    gl.viewport(0, 0, this.canvas.width, this.canvas.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    this.frames++;
    if (this.n === 0) return;
    gl.useProgram(this.program);
    gl.bindVertexArray(this.vao);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    const L = this.loc;
    const c = t.clip();
    gl.uniform4f(L.uXf, c.sx, c.sy, c.ox, c.oy);
    const mode = this.color.kind === "category" ? 1 : this.color.kind === "value" ? 2 : 0;
    gl.uniform1i(L.uColorMode, mode);
    gl.uniform1i(L.uPaletteSize, this.paletteSize);
    const base = this.color.kind === "none" ? this.color.color : "#4e79a7";
    gl.uniform4fv(L.uBaseColor, norm(parseColor(base)));
    gl.uniform4fv(L.uMissing, norm(parseColor(this.color.kind === "none" ? base : this.color.missing)));
    if (this.color.kind === "value") {
      const [lo, hi] = this.color.range;
      gl.uniform2f(L.uRange, lo, hi > lo ? 1 / (hi - lo) : 0);
    }
    gl.uniform1f(L.uPointSize, style.pointSize * dpr);
    gl.uniform2f(L.uSizeRange, style.sizeRange[0] * dpr, style.sizeRange[1] * dpr);
    gl.uniform1i(L.uHasSize, this.hasSize ? 1 : 0);
    gl.uniform1f(L.uOpacity, style.opacity);
    gl.uniform1f(L.uDim, style.dimOpacity);
    gl.uniform4fv(L.uRingColor, norm(parseColor(style.ringColor)));
    gl.uniform1i(L.uHasSel, this.hasSel ? 1 : 0);
    gl.activeTexture(gl.TEXTURE1);
    gl.bindTexture(gl.TEXTURE_2D, this.paletteTex);
    gl.uniform1i(L.uPalette, 1);
    gl.activeTexture(gl.TEXTURE2);
    gl.bindTexture(gl.TEXTURE_2D, this.rampTex);
    gl.uniform1i(L.uRamp, 2);

    gl.uniform1i(L.uPass, 0);
    gl.drawArrays(gl.POINTS, 0, this.n);
    if (this.hasSel && this.selCount > 0) {
      gl.uniform1i(L.uPass, 1);
      gl.drawElements(gl.POINTS, this.selCount, gl.UNSIGNED_INT, 0);
    }
    if (this.hover >= 0) {
      gl.uniform1i(L.uHasSel, 0); // the hovered point shows whatever its state
      gl.uniform1i(L.uPass, 2);
      gl.drawArrays(gl.POINTS, this.hover, 1);
    }
    gl.bindVertexArray(null);
  }

  /**
   * Draw, then count the drawing buffer's lit (non-transparent) pixels: a test hook that proves
   * points reached the screen (the buffer is not preserved, so it must be read in the same task).
   */
  litPixels(t: ViewTransform): number {
    this.draw(t);
    const gl = this.gl;
    const w = this.canvas.width;
    const h = this.canvas.height;
    const px = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
    let lit = 0;
    for (let i = 3; i < px.length; i += 4) if (px[i] > 0) lit++;
    return lit;
  }

  destroy(): void {
    const gl = this.gl;
    for (const b of Object.values(this.buffers)) if (b) gl.deleteBuffer(b);
    gl.deleteTexture(this.paletteTex);
    gl.deleteTexture(this.rampTex);
    gl.deleteVertexArray(this.vao);
    gl.deleteProgram(this.program);
    gl.getExtension("WEBGL_lose_context")?.loseContext();
  }
}
