/**
 * The danger-first output layer (issue #15 §1): a danger-vs-rest head trained jointly with the
 * emotion classes, in one tfjs layer that replaces the dense softmax.
 *
 * Input: the network's representation x ([batch, n]). Output: a distribution over the classes, as
 * the dense softmax gives, but factored through a danger head:
 *
 *   z = x K + b                          (one logit per class, as the softmax layer)
 *   h = σ(x k_d + b_d)                   (the danger head: P(danger | window))
 *   q_i = h · softmax_D(z)_i             for the danger classes D
 *   q_i = (1 − h) · softmax_S(z)_i       for the other classes S
 *
 * softmax_D is the softmax over the danger classes' logits only (0 elsewhere). So Σ_D q = h
 * exactly: the danger score the detector sums over the danger classes *is* the head, and the
 * emotion read from q is the head's decision shared out by the emotion logits within each side.
 * Categorical cross-entropy on q splits into the head's binary cross-entropy (danger vs rest,
 * every sound and every calm voice a negative) plus a cross-entropy within the label's side:
 * training with the usual loss trains both jointly, and nothing downstream (bundle, quantisation,
 * detector, emotion sensor, reports) needs to know the head exists.
 *
 * Why: the detector reads the sum of the danger classes' probabilities, while a softmax trained on
 * six or nine classes spends its capacity telling sad from neutral and happy from surprised; the
 * head gives danger-vs-rest its own unit and its own loss (docs/detection.md, issue 15).
 *
 * Keras serialisation conventions (STYLE.md §12): `className`, `getConfig` spreading the base
 * config, registered; a save → load round trip is tested. The lean engine computes the same
 * (src/model/lean-gru.ts with `mixDangerHead` of src/model/danger-mix.ts, which does not load tfjs).
 */
import * as tf from "@tensorflow/tfjs";
import { checkDangerClasses } from "./danger-mix.js";
import type { LayerArgs } from "./egru-cell.js";

export interface DangerHeadArgs extends LayerArgs {
  /** Number of classes. */
  units: number;
  /** Indices of the danger classes: at least one, and at least one class outside them. */
  dangerClasses: number[];
  seed?: number;
}

type LayerVariable = ReturnType<tf.layers.Layer["addWeight"]>;

/** Logit given to the other side's classes in each side's softmax: exp underflows to exactly 0. */
const MASKED = -1e9;

export class DangerHead extends tf.layers.Layer {
  static className = "DangerHead";

  readonly units: number;
  readonly dangerClasses: number[];
  readonly seed: number | undefined;
  /** 1 for a danger class, 0 for the others. */
  private readonly mask: number[];
  private kernel: LayerVariable | null = null;
  private bias: LayerVariable | null = null;
  private dangerKernel: LayerVariable | null = null;
  private dangerBias: LayerVariable | null = null;

  constructor(args: DangerHeadArgs) {
    super(args);
    checkDangerClasses(args.units, args.dangerClasses);
    this.units = args.units;
    this.dangerClasses = [...args.dangerClasses].sort((a, b) => a - b);
    this.mask = Array.from({ length: this.units }, (_, i) => (this.dangerClasses.includes(i) ? 1 : 0));
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const n = shape[shape.length - 1];
    if (shape.length !== 2 || typeof n !== "number") throw new Error(`DangerHead expects input [batch, features] (got [${shape.join(", ")}])`);
    const init = (k: number): ReturnType<typeof tf.initializers.glorotUniform> => tf.initializers.glorotUniform(this.seed === undefined ? {} : { seed: this.seed + k });
    this.kernel = this.addWeight("kernel", [n, this.units], "float32", init(0), undefined, true);
    this.bias = this.addWeight("bias", [this.units], "float32", tf.initializers.zeros(), undefined, true);
    this.dangerKernel = this.addWeight("danger_kernel", [n, 1], "float32", init(1), undefined, true);
    this.dangerBias = this.addWeight("danger_bias", [1], "float32", tf.initializers.zeros(), undefined, true);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [shape[0]!, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor2D;
      const z = tf.add(tf.matMul(x, this.kernel!.read() as tf.Tensor2D), this.bias!.read());
      const h = tf.sigmoid(tf.add(tf.matMul(x, this.dangerKernel!.read() as tf.Tensor2D), this.dangerBias!.read()));
      const isDanger = tf.tensor1d(this.mask);
      const pDanger = tf.softmax(tf.add(z, tf.mul(tf.sub(1, isDanger), MASKED)));
      const pSafe = tf.softmax(tf.add(z, tf.mul(isDanger, MASKED)));
      return tf.add(tf.mul(h, pDanger), tf.mul(tf.sub(1, h), pSafe));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { units: this.units, dangerClasses: this.dangerClasses };
    if (this.seed !== undefined) config["seed"] = this.seed;
    return { ...super.getConfig(), ...config };
  }
}

tf.serialization.registerClass(DangerHead);
