import { readFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { shippedModelArch, shippedModelDir } from "../../../src/assemble/paths.js";
import { ARCHITECTURES, buildModel, effectiveOptions } from "../../../src/model/architectures.js";
import { selectBackend } from "../../../src/model/backend.js";
import { runTitle, trainingPlots, type EpochRecord } from "../../../src/train/trainer.js";
import { parseSvg, pointsOf, withAttr } from "../../fixtures/svg-check.js";

const history: EpochRecord[] = [0, 1, 2, 3, 4].map((i) => ({
  epoch: i + 1,
  loss: 1.6 - 0.25 * i,
  acc: 0.3 + 0.1 * i,
  // validation worsens at the end, close to the top right where the legend used to sit
  val_loss: [1.65, 1.4, 1.3, 1.35, 1.5][i]!,
  val_acc: [0.28, 0.35, 0.4, 0.41, 0.4][i]!,
  val_macro_recall: 0.3,
  seconds: 10,
}));
const labels = ["angry", "disgust", "fear", "happy", "neutral", "sad"];
const test = { confusion: { labels, matrix: labels.map((_, i) => labels.map((__, j) => (i === j ? 5 : 1))) } };
const asked = { arch: "gru" as const, protocol: "speaker" as const, testCorpora: [], dropout: 0.2, batchNorm: true, glorot: true, seed: 1 };

describe("training plots", () => {
  const plots = trainingPlots(runTitle(asked), history, test);

  it("writes accuracy, loss and the confusion matrix, each with its series", () => {
    expect(Object.keys(plots).sort()).toEqual(["accuracy.svg", "confusion.svg", "loss.svg"]);
    for (const name of ["accuracy.svg", "loss.svg"]) {
      const svg = parseSvg(plots[name]!);
      expect(withAttr(svg, "data-series").map((s) => s.attrs["data-series"])).toEqual(["training", "validation"]);
      expect(pointsOf(withAttr(svg, "data-series", "validation")[0]!)).toHaveLength(5);
    }
    expect(withAttr(parseSvg(plots["confusion.svg"]!), "data-count")).toHaveLength(36);
  });

  it("no axis goes below zero; accuracy spans 0 to 1", () => {
    const ticks = (name: string): number[] => withAttr(parseSvg(plots[name]!), "data-tick-y").map((t) => Number(t.attrs["data-tick-y"]));
    expect(ticks("accuracy.svg")).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(Math.min(...ticks("loss.svg"))).toBe(0);
  });

  it("the legend is beside the plot, never over the validation curve", () => {
    const svg = parseSvg(plots["loss.svg"]!);
    const right = Number(withAttr(svg, "data-role", "x-axis")[0]!.attrs.x2);
    const curveMaxX = Math.max(...pointsOf(withAttr(svg, "data-series", "validation")[0]!).map((p) => p[0]));
    const legendXs = withAttr(svg, "data-role", "legend")[0]!.children.map((e) => Number(e.attrs.x ?? e.attrs.x1));
    expect(Math.min(...legendXs)).toBeGreaterThan(Math.max(right, curveMaxX));
  });

  it("the confusion matrix's title fits its canvas", () => {
    const svg = parseSvg(plots["confusion.svg"]!);
    const title = withAttr(svg, "data-role", "title")[0]!;
    expect(title.text).toBe("Confusion matrix (test) — gru (speaker, seed 1)");
    expect(Number(svg.attrs.width)).toBeGreaterThanOrEqual(title.text.length * 15 * 0.6);
  });
});

describe("what run.json records of a network", () => {
  beforeAll(async () => {
    await selectBackend("wasm");
  });

  it("a plain GRU: no dropout, no batch norm, Glorot kernels — as the network built is", () => {
    expect(effectiveOptions("gru", { dropout: 0.2, batchNorm: true, glorot: false })).toEqual({ dropout: 0, batchNorm: false, glorot: true });
    const model = buildModel("gru", { inputShape: [8, 5], numClasses: 3, dropout: 0.2, batchNorm: true, glorot: false });
    const cfg = model.getLayer("gru_1").getConfig() as { kernelInitializer: { className: string; config: Record<string, unknown> }; dropout: number; recurrentDropout: number };
    // Glorot normal is variance scaling over the average fan, scale 1 (how tfjs serialises it)
    expect(cfg.kernelInitializer).toMatchObject({ className: "VarianceScaling", config: { scale: 1, mode: "fanAvg", distribution: "normal" } });
    expect(cfg.dropout + cfg.recurrentDropout).toBe(0);
    expect(model.layers.some((l) => /batch/i.test(l.getClassName()) || /batch/i.test(l.name))).toBe(false);
    model.dispose();
  });

  it("the enhanced GRU records what was asked; the title names dropout only when the network has it", () => {
    expect(effectiveOptions("egru", { dropout: 0.3, batchNorm: false, glorot: true })).toEqual({ dropout: 0.3, batchNorm: false, glorot: true });
    expect(runTitle({ ...asked, arch: "egru" })).toBe("egru (speaker, dropout 0.2, seed 1)");
    expect(runTitle({ ...asked, testCorpora: ["ravdess"] })).toBe("gru (corpora ravdess left out, seed 1)");
  });
});

describe("train's default architecture", () => {
  it("is the shipped model's, read from its bundle", async () => {
    const meta = JSON.parse(await readFile(`${shippedModelDir()}/bundle.json`, "utf8")) as { architecture: { arch: string } };
    const arch = await shippedModelArch();
    expect(arch).toBe(meta.architecture.arch);
    expect(ARCHITECTURES).toContain(arch);
  });
});
