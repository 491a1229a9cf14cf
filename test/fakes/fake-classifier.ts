import type { AdaptedStats } from "../../src/features/normalise.js";
import { staticDims, type FeatureSpec } from "../../src/features/spec.js";
import type { WindowClassifier } from "../../src/pipeline.js";

/**
 * A hand-written stand-in for the network: "angry" probability rises with the window's mean
 * high-band energy (top quarter of the mel bands) relative to its low bands. Deterministic and
 * a pure function of the steps, so pipeline behaviour (chunking, gating, decisions) can be
 * tested without a trained model.
 */
export class FakeClassifier implements WindowClassifier {
  readonly labels = ["angry", "fear", "neutral"];
  calls = 0;
  windowsSeen = 0;

  constructor(readonly spec: FeatureSpec) {}

  predict(stepsWindows: Float32Array[], _adapted?: AdaptedStats | null): Float32Array[] {
    this.calls++;
    this.windowsSeen += stepsWindows.length;
    const S = staticDims(this.spec);
    const M = this.spec.melBands;
    return stepsWindows.map((w) => {
      const T = w.length / S;
      let hi = 0, lo = 0;
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < M / 4; b++) lo += w[t * S + b]!;
        for (let b = (3 * M) / 4; b < M; b++) hi += w[t * S + b]!;
      }
      const d = (hi - lo) / (T * (M / 4));
      const angry = 1 / (1 + Math.exp(-(d - 1.5) * 3));
      return Float32Array.from([angry * 0.9, angry * 0.1, 1 - angry]);
    });
  }
}

/**
 * A hand-written stand-in for a home model's scream branch: "scream" probability rises with the
 * window's low-band energy relative to its high bands — the mirror of FakeClassifier, so on the
 * pipeline test's audio the murmur is a "scream" and the hiss is "angry" speech, and the two
 * branches can be told apart. `spec` may differ from the audio's, to test the mismatch check.
 */
export class FakeScreamClassifier implements WindowClassifier {
  readonly labels: string[];
  calls = 0;
  windowsSeen = 0;

  constructor(
    readonly spec: FeatureSpec,
    labels: string[] = ["scream", "speech", "sound"],
  ) {
    this.labels = labels;
  }

  predict(stepsWindows: Float32Array[], _adapted?: AdaptedStats | null): Float32Array[] {
    this.calls++;
    this.windowsSeen += stepsWindows.length;
    const S = staticDims(this.spec);
    const M = this.spec.melBands;
    return stepsWindows.map((w) => {
      const T = w.length / S;
      let hi = 0, lo = 0;
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < M / 4; b++) lo += w[t * S + b]!;
        for (let b = (3 * M) / 4; b < M; b++) hi += w[t * S + b]!;
      }
      const d = (lo - hi) / (T * (M / 4));
      const scream = 1 / (1 + Math.exp(-(d - 1.5) * 3));
      const out = new Float32Array(this.labels.length);
      out[0] = scream;
      if (out.length > 1) out[1] = 1 - scream;
      return out;
    });
  }
}
