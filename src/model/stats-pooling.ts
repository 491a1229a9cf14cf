/**
 * Statistics pooling over time: [batch, T, n] → [batch, 2n], the mean of each feature over the
 * window's steps followed by its standard deviation (√(var + ε)).
 *
 * Why: measured on corpora, languages and microphones a model had never heard (the detector issue,
 * #15), a logistic regression on utterance statistics of log-mel bands (means and spreads) beat
 * the last-state GRU by 25 points; x-vector speaker and emotion models pool the same way (Snyder
 * et al., "X-vectors: robust DNN embeddings for speaker recognition", ICASSP 2018, §2.2). A
 * window's statistics do not depend on where in the window a shout falls, and they average out
 * the frame-to-frame noise a recurrent state must carry.
 *
 * Keras serialisation conventions (STYLE.md §12): `className`, `getConfig` spreading the base
 * config, registered; a save → load round trip is tested.
 */
import * as tf from "@tensorflow/tfjs";
import { STATS_POOLING_EPSILON } from "../constants.js";
import type { LayerArgs } from "./egru-cell.js";

export { STATS_POOLING_EPSILON };

export class StatsPooling extends tf.layers.Layer {
  static className = "StatsPooling";

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const n = s[2];
    return [s[0]!, n == null ? null : 2 * n];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const mean = tf.mean(x, 1);
      const variance = tf.mean(tf.square(tf.sub(x, tf.expandDims(mean, 1))), 1);
      return tf.concat([mean, tf.sqrt(tf.add(variance, STATS_POOLING_EPSILON))], 1);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig() };
  }
}

tf.serialization.registerClass(StatsPooling);
