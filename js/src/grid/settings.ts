/** The grid's settings: what the toolbar shows and the traits it mirrors (see
 * `widgets/image_grid.ts` for the trait of each field). */

import type { ColorBy } from "./palette";

export interface GridSettings {
  title: string;
  level: "sample" | "object";
  task: string;
  classNames: string[];
  sortOptions: string[];
  sortBy: string | null;
  ascending: boolean;
  threshold: number;
  showGt: boolean;
  showPred: boolean;
  hiddenClasses: string[];
  colorBy: ColorBy;
  thumbSize: number;
  height: number;
  hasBoxes: boolean;
  hasPredictions: boolean;
  hasEvaluation: boolean;
  hasMasks: boolean;
  showMasks: boolean;
  showBoxes: boolean;
  /** Fill opacity of masks, [0, 1]. */
  maskOpacity: number;
  selectedOnly: boolean;
}

export const DEFAULT_SETTINGS: GridSettings = {
  title: "",
  level: "sample",
  task: "",
  classNames: [],
  sortOptions: [],
  sortBy: null,
  ascending: true,
  threshold: 0,
  showGt: true,
  showPred: true,
  hiddenClasses: [],
  colorBy: "class",
  thumbSize: 128,
  height: 520,
  hasBoxes: false,
  hasPredictions: false,
  hasEvaluation: false,
  hasMasks: false,
  showMasks: true,
  showBoxes: true,
  maskOpacity: 0.45,
  selectedOnly: false,
};
