import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { buildModel } from "../../../src/model/architectures.js";
import {
  availableBackends,
  BACKEND_NAMES,
  BackendUnavailableError,
  selectBackend,
  type BackendName,
} from "../../../src/model/backend.js";

describe("selectBackend", () => {
  it("selects a named backend and returns its name", async () => {
    expect(await selectBackend("cpu")).toBe("cpu");
    expect(tf.getBackend()).toBe("cpu");
    expect(await selectBackend("wasm")).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
  });

  it("auto picks node when it loads, else wasm", async () => {
    const available = await availableBackends();
    const chosen = await selectBackend("auto");
    expect(chosen).toBe(available.includes("node") ? "node" : "wasm");
  });

  it("refuses an unknown name with a ConfigError", async () => {
    await expect(selectBackend("gpu")).rejects.toThrow(ConfigError);
    await expect(selectBackend("gpu")).rejects.toMatchObject({ code: "BACKEND_UNKNOWN" });
  });

  it("forcing node when it is not installed is a clear error, not a fallback", async () => {
    const available = await availableBackends();
    if (available.includes("node")) return; // installed here: nothing to check
    await selectBackend("wasm");
    const err = await selectBackend("node").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err).toMatchObject({ code: "BACKEND_UNAVAILABLE" });
    expect(String((err as Error).message)).toMatch(/npm install @tensorflow\/tfjs-node/);
    expect(tf.getBackend()).toBe("wasm");
  });

  it("availableBackends always has cpu and wasm here and restores the current backend", async () => {
    await selectBackend("cpu");
    const available = await availableBackends();
    expect(available).toEqual(expect.arrayContaining(["cpu", "wasm"]));
    expect(tf.getBackend()).toBe("cpu");
  });
});

describe("wasm conv2d gradients (registered by selectBackend)", () => {
  async function grads(backend: BackendName, k: [number, number], pad: "same" | "valid", stride: 1 | 2) {
    await selectBackend(backend);
    let result: { dx: Float32Array; dw: Float32Array | null } | null = null;
    tf.tidy(() => {
      const x = tf.tensor4d(Array.from({ length: 2 * 9 * 7 * 3 }, (_, i) => Math.sin(i)), [2, 9, 7, 3]);
      const w = tf.tensor4d(Array.from({ length: k[0] * k[1] * 15 }, (_, i) => Math.cos(i)), [k[0], k[1], 3, 5]);
      const f = (xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.square(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, pad)));
      const dx = tf.grad((xx: tf.Tensor) => f(xx, w))(x).dataSync() as Float32Array;
      const dw = stride === 1 ? (tf.grad((ww: tf.Tensor) => f(x, ww))(w).dataSync() as Float32Array) : null;
      result = { dx, dw };
    });
    return result as unknown as { dx: Float32Array; dw: Float32Array | null };
  }
  const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let worst = 0;
    let scale = 1;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
      scale = Math.max(scale, Math.abs(a[i] as number));
    }
    return worst / scale;
  };

  for (const [k, pad] of [
    [[3, 3], "same"],
    [[4, 2], "same"],
    [[1, 1], "same"],
    [[4, 3], "valid"],
  ] as const) {
    it(`agree with the cpu backend for a ${k.join("x")} '${pad}' convolution`, async () => {
      const cpu = await grads("cpu", [...k], pad, 1);
      const wasm = await grads("wasm", [...k], pad, 1);
      expect(close(cpu.dx, wasm.dx)).toBeLessThan(1e-5);
      expect(close(cpu.dw as Float32Array, wasm.dw as Float32Array)).toBeLessThan(1e-5);
    });
  }

  it("fall back to wasm's own input gradient for strided convolutions", async () => {
    const cpu = await grads("cpu", [2, 2], "same", 2);
    const wasm = await grads("wasm", [2, 2], "same", 2);
    expect(close(cpu.dx, wasm.dx)).toBeLessThan(1e-5);
  });

  it("refuse a strided filter gradient with a message saying what to do", async () => {
    await selectBackend("wasm");
    const x = tf.ones([1, 4, 4, 1]);
    const w = tf.ones([2, 2, 1, 1]);
    expect(() => tf.grad((ww: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, ww as tf.Tensor4D, 2, "same")))(w)).toThrow(
      /stride 1 only|downsample with pooling/,
    );
  });
});

describe("backend agreement", () => {
  it("the same model with the same weights gives the same outputs on every available backend", async () => {
    const available = await availableBackends();
    const skipped = BACKEND_NAMES.filter((b) => !available.includes(b));
    // Printed so a CI log shows what was not compared.
    console.info(`backend agreement: comparing ${available.join(", ")}; skipped ${skipped.join(", ") || "none"}`);
    expect(available.length).toBeGreaterThanOrEqual(2);

    const cases = [
      { arch: "egru" as const, shape: [7, 4] },
      { arch: "gru" as const, shape: [7, 4] },
      { arch: "rescnn" as const, shape: [12, 8, 1] },
    ];
    for (const { arch, shape } of cases) {
      const inputs = Array.from({ length: 3 * shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(0.37 * i));
      let weights: { values: Float32Array; shape: number[] }[] | null = null;
      const outputs: { backend: BackendName; values: Float32Array }[] = [];
      for (const backend of available) {
        await selectBackend(backend);
        // dropout 0 so that the training-mode pass below is deterministic.
        const model = buildModel(arch, { inputShape: shape, numClasses: 4, units: 6, seed: 9, dropout: 0 });
        if (weights === null) {
          weights = model.getWeights().map((w) => ({ values: w.dataSync() as Float32Array, shape: w.shape }));
        } else {
          model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
        }
        // Inference, and for the egru also a training-mode pass (batch norm with batch statistics).
        const x = tf.tensor(inputs, [3, ...shape]);
        const p = model.predict(x) as tf.Tensor;
        let values = Float32Array.from([...p.dataSync()]);
        if (arch === "egru") {
          const trained = (model.layers[1] as tf.layers.Layer).apply(x, { training: true }) as tf.Tensor;
          values = Float32Array.from([...values, ...trained.dataSync()]);
        }
        outputs.push({ backend, values });
        model.dispose();
      }
      const first = outputs[0] as { backend: BackendName; values: Float32Array };
      for (const other of outputs.slice(1)) {
        for (let i = 0; i < first.values.length; i++) {
          expect(Math.abs((first.values[i] as number) - (other.values[i] as number)), `${arch} ${first.backend} vs ${other.backend}`).toBeLessThan(1e-4);
        }
      }
    }
  });
});
