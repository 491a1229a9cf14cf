import * as tf from "@tensorflow/tfjs";
import { BundleError } from "../errors.js";

/**
 * uint8 affine quantization in the format of tfjs's weight manifest (`quantization: {dtype,
 * min, scale}`), so `tf.loadLayersModel` dequantizes it unchanged. As tfjs-converter's
 * quantize_weights does, the range is nudged so that 0.0 is exactly representable (zero
 * padding and biases initialised at zero stay exact).
 */
export interface QuantizedWeight {
  bytes: Uint8Array;
  min: number;
  scale: number;
}

export function quantizeUint8(values: Float32Array): QuantizedWeight {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i]! < lo) lo = values[i]!;
    if (values[i]! > hi) hi = values[i]!;
  }
  lo = Math.min(lo, 0);
  hi = Math.max(hi, 0);
  let scale = (hi - lo) / 255;
  if (scale === 0) scale = 1;
  // Nudge so that zero maps to an integer level.
  const zeroPoint = Math.round(-lo / scale);
  const min = -zeroPoint * scale;
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const q = Math.round((values[i]! - min) / scale);
    bytes[i] = q < 0 ? 0 : q > 255 ? 255 : q;
  }
  return { bytes, min, scale };
}

export function dequantizeUint8(q: QuantizedWeight): Float32Array {
  return Float32Array.from(q.bytes, (b) => b * q.scale + q.min);
}

/**
 * Rewrites float32 weight data as uint8 where a tensor has at least `minElements` values. Small
 * tensors (biases, batch-norm statistics) stay float32: they are a few hundred bytes in all, and
 * a batch-norm variance quantized to 8 bits can shift every activation of a layer.
 */
export function quantizeArtifacts(
  specs: tf.io.WeightsManifestEntry[],
  data: ArrayBuffer,
  minElements = 256,
): { specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer } {
  const tensors = tf.io.decodeWeights(data, specs);
  const outSpecs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const spec of specs) {
    const t = tensors[spec.name]!;
    const values = t.dataSync() as Float32Array;
    // A diverged training leaves NaN or ±Infinity; quantized they would become ordinary levels and
    // ship a model that looks fine and outputs nonsense.
    if (spec.dtype === "float32" && !values.every(Number.isFinite)) {
      Object.values(tensors).forEach((x) => x.dispose());
      throw new BundleError("NON_FINITE_WEIGHTS", `weight ${spec.name} holds NaN or infinite values (the training diverged); lower the learning rate and train again`);
    }
    if (spec.dtype === "float32" && values.length >= minElements) {
      const q = quantizeUint8(values);
      outSpecs.push({ name: spec.name, shape: spec.shape, dtype: "float32", quantization: { dtype: "uint8", min: q.min, scale: q.scale } });
      parts.push(q.bytes);
    } else {
      outSpecs.push({ name: spec.name, shape: spec.shape, dtype: spec.dtype });
      parts.push(new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength)));
    }
  }
  Object.values(tensors).forEach((t) => t.dispose());
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return { specs: outSpecs, data: out.buffer };
}
