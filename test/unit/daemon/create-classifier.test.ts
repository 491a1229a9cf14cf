import * as tf from "@tensorflow/tfjs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClassifier } from "../../../src/assemble/model.js";
import { staticDims } from "../../../src/features/spec.js";
import { selectBackend } from "../../../src/model/backend.js";
import { loadBundle } from "../../../src/model/bundle.js";
import { EmotionClassifier } from "../../../src/model/classifier.js";
import { writeConstantBundle } from "../../fixtures/constant-bundle.js";
import { makeTinyBundle, TINY_SPEC } from "../../fixtures/tiny-bundle.js";

let dir: string;
beforeAll(async () => {
  await selectBackend("cpu");
  dir = await mkdtemp(path.join(tmpdir(), "earwitness-clf-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("createClassifier", () => {
  it("runs a GRU bundle on the lean engine, with tfjs's outputs", async () => {
    await makeTinyBundle(path.join(dir, "tiny"));
    const bundle = await loadBundle(path.join(dir, "tiny"));
    const ref = new EmotionClassifier(bundle);
    const S = staticDims(TINY_SPEC);
    const steps = [Float32Array.from({ length: TINY_SPEC.windowSteps * S }, (_, i) => Math.cos(0.3 * i))];
    const expected = ref.predict(steps)[0]!;
    const made = createClassifier(bundle);
    expect(made.engine).toBe("lean");
    const got = made.classifier.predict(steps)[0]!;
    got.forEach((p, k) => expect(Math.abs(p - expected[k]!)).toBeLessThan(1e-4));
    const before = tf.memory().numTensors;
    made.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
  });

  it("falls back to tfjs for a model the lean engine does not cover", async () => {
    // The constant bundle is a pooling + dense network: not a GRU stack.
    await writeConstantBundle(path.join(dir, "const"));
    const bundle = await loadBundle(path.join(dir, "const"));
    const made = createClassifier(bundle);
    expect(made.engine).toBe("tfjs");
    expect(made.classifier).toBeInstanceOf(EmotionClassifier);
    made.dispose();
  });
});
