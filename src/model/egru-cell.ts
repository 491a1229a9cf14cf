/**
 * The enhanced GRU of Sepeda, Santos & Mahusay, "An Enhancement of Gated Recurrent Unit (GRU) for
 * Speech Emotion Recognition in the Implementation of Voice-Based Danger Recognition System"
 * (IJPREMS 2025; /work/shared/seeds/000_*.txt, §II.B): a GRU with
 *
 *   1. batch normalisation after every linear transform inside the cell — the input projections
 *      and the recurrent projections of the update gate, the reset gate and the candidate — before
 *      the sigmoid/tanh;
 *   2. dropout on the gates and on the hidden state (the paper's best rate is 20 %);
 *   3. Xavier/Glorot initialisation.
 *
 * Each can be switched off on its own; with all three off the layer computes exactly tfjs's stock
 * `tf.layers.gru({recurrentActivation: "sigmoid"})` (same weight layout, gate order z, r, h and the
 * "reset before" convention that tfjs uses — tfjs has no `resetAfter`):
 *
 *   z_t  = σ(BN(x_t W_z) + BN(h_{t-1} U_z) + b_z)
 *   r_t  = σ(BN(x_t W_r) + BN(h_{t-1} U_r) + b_r)
 *   h̃_t  = tanh(BN(x_t W_h) + BN((r_t ⊙ h_{t-1}) U_h) + b_h)
 *   h_t  = z_t ⊙ h_{t-1} + (1 − z_t) ⊙ h̃_t
 *
 * Why this is one layer that runs its own loop rather than a cell inside `tf.layers.RNN`: the
 * stock RNN machinery multiplies x_t by W at every step and slices the input per step. Here the
 * input projection of all three gates is one matMul over all time steps before the loop, the bias
 * and input batch norm are applied to that one tensor, and at inference batch norm is folded into
 * a scale and an offset (BN with fixed statistics is itself an affine map), so inference costs one
 * multiply per step, and one over the whole input projection, more than a plain GRU. The per-step training graph is what tfjs's autograd
 * records, so no hand-written gradient can drift from the forward pass.
 *
 * Batch normalisation inside the recurrence — the choice, and why:
 *  - Training normalises with the statistics of the current batch *at each time step*, as in
 *    Cooijmans et al., "Recurrent Batch Normalization" (ICLR 2017, arXiv:1603.09025), §3.
 *  - Inference uses population statistics. For the recurrent projections they are kept *per time
 *    step* ([T, 3u], T fixed at build from the input shape; step t uses row min(t, T − 1)), as
 *    Cooijmans et al. do: h starts at 0 and its spread grows over the first steps, so one mean and
 *    variance shared by all steps mis-scales every step. The symptom that showed it: on CREMA-D
 *    (60 × 82, 64 units, dropout 0.2) inference accuracy stayed at chance (15–20 % validation,
 *    24 % on the training clips) while training-mode accuracy reached 35 %. On synthetic data
 *    (test "keeps per-step recurrent statistics…") the inference/training gap at steps 1–5 was
 *    0.09–0.10 in h with shared statistics and is at the sampling-noise level (≤ 0.03) per step.
 *  - The input projections keep per-step statistics too ([T, 3u]). They once shared one set over
 *    all steps, on the grounds that windows are random crops whose distribution does not depend
 *    on t. It does: 83 % of CREMA-D clips are shorter than the 3 s window, so the window is the
 *    whole clip padded symmetrically with quiet noise (train/augment.ts padTo), and under norm
 *    speaker the edge steps are far below the speaker mean. Measured on a CREMA-D model (6 epochs,
 *    dropout 0.2, fold 0): per-step means of x·W sat up to 1.2 shared-sd from the shared mean at
 *    the edges (a third of the variance was between steps), and with shared statistics
 *    validation accuracy was 24.6 % — 438 of 611 windows called "happy" — against 41.6 % with
 *    per-step input statistics on the same weights (training mode: 34 %). Training normalises
 *    per step, so inference has to as well; calibration measured the recurrent statistics on the
 *    per-step-normalised network too, so shared input statistics also mis-matched those.
 *  - The moving averages (momentum, updated once per training batch) measure the network *with*
 *    dropout, whose state has other variances than at inference — measured, the same gap as above
 *    (0.12). With dropout > 0, call calibrateBatchNorm (below) after training and before each
 *    validation: it recomputes the statistics without dropout ("precise BN").
 *  - The initial state is zero, so the recurrent projections at t = 0 are an all-zero batch whose
 *    batch-normalised value is exactly 0. That term is defined as 0 in both modes (and the step is
 *    skipped); row 0 of the recurrent statistics is therefore unused (unless T = 1).
 *  - At inference, batch norm is folded: the input side into a per-step scale of x·W and a
 *    per-step offset joining the bias, the recurrent side into a per-step offset added to the
 *    input side and a per-step scale applied after h·U (one multiply per step more than a plain
 *    GRU, plus one over the input projection).
 *  - As in Cooijmans et al. each BN has a scale γ (initialised to 0.1, their recommendation to keep
 *    the sigmoid/tanh out of saturation early on) and no shift: the gate bias is the shift.
 *  - Keras defaults for the rest: momentum 0.99, ε = 1e-3. Moving statistics are non-trainable
 *    weights, so they are saved with the model.
 *
 * Dropout — where, and why there. The paper applies it "after each GRU layer's computations,
 * including the input gate, update gate, reset gate, candidate memory cell, and final hidden
 * state". Here, all with the one configured rate, inverted (scaled by 1/(1−p)), in training only,
 * with one mask per sequence (Gal & Ghahramani, "A Theoretically Grounded Application of Dropout in
 * Recurrent Neural Networks", NeurIPS 2016 — resampling per step would also cost ops per step):
 *  - on the input features entering the gates' input projections ("input gate");
 *  - on the update- and reset-gate pre-activations, after batch norm and before the sigmoid:
 *    dropping the gate *value* z_t instead would, with inverted scaling, push z above 1 and make
 *    h_t = z h_{t-1} + (1 − z) h̃ an extrapolation that compounds over 75 steps;
 *  - on the candidate h̃_t after the tanh (Semeniuta et al., "Recurrent Dropout without Memory
 *    Loss", COLING 2016: the state stays a convex combination, so it cannot blow up);
 *  - on the hidden state the layer outputs (each h_t with `returnSequences`, else the last one);
 *    not on the state carried to the next step, where a per-sequence mask scaled by 1/(1−p)
 *    would compound.
 *
 * Measured: ms per training batch (Adam, + dense softmax), 64 units, 75 steps, 40 features, batch
 * 64, wasm backend in Node 20, one busy 2-core VM, after 2 warm-up batches, mean of 5:
 *   stock tf.layers.gru (sigmoid)        ~850 ms train, ~240 ms predict
 *   EnhancedGRU, all optimisations off   ~340 ms train, ~105 ms predict
 *   EnhancedGRU, paper's best (BN, 0.2)  ~490 ms train,  ~95 ms predict
 * (one-off script: a Sequential of the layer + dense(6), timing model.trainOnBatch.) Per-step
 * recurrent statistics did not change it: 60 steps × 82 features, same script, median of 7,
 * 452 ms before and 456 ms after (bn=true), predict 113 → 126 ms. The gains over
 * the stock layer come from matMulPlainGrad, splitSteps and batchNormTraining below, each named
 * after the wasm cost it avoids.
 */
import * as tf from "@tensorflow/tfjs";

/** Arguments of a tfjs layer (name, inputShape, trainable, …), taken from the layer's constructor. */
export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export interface EnhancedGRUArgs extends LayerArgs {
  /** Width of the hidden state. */
  units: number;
  /** Output every h_t ([batch, T, units]) rather than the last ([batch, units]). Default false. */
  returnSequences?: boolean;
  /** Dropout rate on input, gates, candidate and output hidden state; 0 switches it off. Default 0.2. */
  dropout?: number;
  /** Batch normalisation of every linear transform in the cell. Default true. */
  batchNorm?: boolean;
  /**
   * Xavier/Glorot uniform initialisation of the input and recurrent kernels. When false, tfjs's
   * stock GRU initialisers: Glorot normal kernel, orthogonal recurrent kernel. Default true.
   */
  glorot?: boolean;
  /** Seed for the weight initialisers (dropout masks stay random). */
  seed?: number;
  /** Moving-average momentum of the batch-norm statistics. Default 0.99 (Keras). */
  momentum?: number;
  /** Batch-norm ε. Default 1e-3 (Keras). */
  epsilon?: number;
  /** Initial batch-norm scale γ. Default 0.1 (Cooijmans et al. 2017). */
  gammaInit?: number;
}

type LayerVariable = ReturnType<tf.layers.Layer["addWeight"]>;

const DEFAULT_DROPOUT = 0.2;
const DEFAULT_MOMENTUM = 0.99;
const DEFAULT_EPSILON = 1e-3;
const DEFAULT_GAMMA = 0.1;

/**
 * One inverted-dropout mask (values 0 or 1/(1−rate)); not seeded, so that every training batch
 * draws fresh masks.
 */
function dropoutMask(shape: number[], rate: number): tf.Tensor {
  return tf.tidy(() => tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(shape), rate), "float32"), 1 - rate));
}

/**
 * Splits a time-major [T, batch, n] tensor into T tensors [batch, n].
 *
 * Why not `tf.unstack`: the wasm backend's Slice kernel copies the *whole* input out of the heap
 * for every slice (`backend.readSync(x.dataId)` in tfjs-backend-wasm/src/kernels/Slice.ts), so
 * unstacking T steps costs T full copies — measured 260 ms for [75, 64, 192], a third of a training
 * batch. Splitting in a tree of fan-out 3 costs about 3·log₃T ≈ 12 full copies instead, and its
 * gradient is a concat per node.
 */
function splitSteps(x: tf.Tensor): tf.Tensor[] {
  const steps = x.shape[0] ?? 0;
  if (steps === 1) return [tf.reshape(x, x.shape.slice(1))];
  const parts = Math.min(3, steps);
  const sizes = Array.from({ length: parts }, (_, i) => Math.floor(steps / parts) + (i < steps % parts ? 1 : 0));
  return tf.split(x, sizes, 0).flatMap((part) => splitSteps(part));
}

/**
 * a·b (2-D) whose gradient uses only untransposed matMuls, given bᵀ precomputed once.
 *
 * Why: the wasm backend's BatchMatMul with `transposeA`/`transposeB` — which tfjs's MatMul
 * gradient uses — runs 4–5× slower than without (measured for [64,64]·[64,128]: 165 µs plain,
 * ~1 ms transposed), and the backward pass has two of them per matMul per time step. An explicit
 * transpose plus a plain matMul is cheaper, and bᵀ of the recurrent kernel is shared by all steps.
 */
function matMulPlainGrad(a: tf.Tensor, b: tf.Tensor, bT: tf.Tensor): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([x, bT]);
    return {
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, swT] = saved as [tf.Tensor2D, tf.Tensor2D];
        return [tf.matMul(dy as tf.Tensor2D, swT), tf.matMul(tf.transpose(sx), dy as tf.Tensor2D)];
      },
    };
  });
  return f(a, b);
}

/**
 * Training-mode batch norm without shift: y = γ·(a − μ)/√(σ² + ε), μ and σ² taken over axis 0 (the
 * batch), γ broadcast over the last axis. The batch statistics are `tf.keep`-ed and pushed onto
 * `stats` (when given) for the moving averages; the caller disposes them.
 *
 * Why a hand-written gradient: autograd through mean/sub/square/rsqrt/mul records about 25 small
 * kernels per use, and this runs twice per time step; the closed form (Ioffe & Szegedy 2015, §3)
 * needs 10. It is checked against autograd in test/unit/model/egru-cell.test.ts.
 */
export function batchNormTraining(
  a: tf.Tensor,
  gamma: tf.Tensor,
  epsilon: number,
  stats: { means: tf.Tensor[]; variances: tf.Tensor[] } | null = null,
): tf.Tensor {
  const reduceGammaAxes = Array.from({ length: a.rank - 1 }, (_, i) => i);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, g, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const mean = tf.mean(x, 0);
    const centred = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centred), 0);
    const inv = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(centred, inv);
    if (stats !== null) {
      stats.means.push(tf.keep(mean));
      stats.variances.push(tf.keep(variance));
    }
    save([xhat, inv, g]);
    return {
      value: tf.mul(xhat, g),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sxhat, sinv, sg] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dxhat = tf.mul(dy, sg);
        const dx = tf.mul(
          sinv,
          tf.sub(tf.sub(dxhat, tf.mean(dxhat, 0)), tf.mul(sxhat, tf.mean(tf.mul(dxhat, sxhat), 0))),
        );
        const dgamma = tf.sum(tf.mul(dy, sxhat), reduceGammaAxes);
        return [dx, dgamma];
      },
    };
  });
  return f(a, gamma);
}

/**
 * The enhanced GRU as one tfjs layer. Input [batch, T, features]; output [batch, units] or, with
 * `returnSequences`, [batch, T, units]. Initial state is zero; masking is not supported.
 */
export class EnhancedGRU extends tf.layers.Layer {
  static className = "EnhancedGRU";

  readonly units: number;
  readonly returnSequences: boolean;
  readonly dropout: number;
  readonly batchNorm: boolean;
  readonly glorot: boolean;
  readonly seed: number | undefined;
  readonly momentum: number;
  readonly epsilon: number;
  readonly gammaInit: number;

  private kernel: LayerVariable | null = null;
  private recurrentKernel: LayerVariable | null = null;
  private bias: LayerVariable | null = null;
  private inputGamma: LayerVariable | null = null;
  private recurrentGamma: LayerVariable | null = null;
  private inputMovingMean: LayerVariable | null = null;
  private inputMovingVariance: LayerVariable | null = null;
  private recurrentMovingMean: LayerVariable | null = null;
  private recurrentMovingVariance: LayerVariable | null = null;
  /** While calibrating (see calibrateBatchNorm): inference calls so far. */
  private calibrationCalls: number | null = null;

  constructor(args: EnhancedGRUArgs) {
    super(args);
    if (!Number.isInteger(args.units) || args.units <= 0) {
      throw new Error(`EnhancedGRU units must be a positive integer (got ${String(args.units)})`);
    }
    const dropout = args.dropout ?? DEFAULT_DROPOUT;
    if (!(dropout >= 0 && dropout < 1)) {
      throw new Error(`EnhancedGRU dropout must be in [0, 1) (got ${dropout})`);
    }
    this.units = args.units;
    this.returnSequences = args.returnSequences ?? false;
    this.dropout = dropout;
    this.batchNorm = args.batchNorm ?? true;
    this.glorot = args.glorot ?? true;
    this.seed = args.seed;
    this.momentum = args.momentum ?? DEFAULT_MOMENTUM;
    this.epsilon = args.epsilon ?? DEFAULT_EPSILON;
    this.gammaInit = args.gammaInit ?? DEFAULT_GAMMA;
    this.supportsMasking = false;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const features = shape[shape.length - 1];
    if (shape.length !== 3 || typeof features !== "number") {
      throw new Error(`EnhancedGRU expects input [batch, time, features] (got [${shape.join(", ")}])`);
    }
    const u = this.units;
    const seed = this.seed;
    const sub = (k: number): { seed?: number } => (seed === undefined ? {} : { seed: seed + k });
    const kernelInit = this.glorot ? tf.initializers.glorotUniform(sub(0)) : tf.initializers.glorotNormal(sub(0));
    const recurrentInit = this.glorot
      ? tf.initializers.glorotUniform(sub(1))
      : tf.initializers.orthogonal({ gain: 1, ...sub(1) });
    this.kernel = this.addWeight("kernel", [features, 3 * u], "float32", kernelInit, undefined, true);
    this.recurrentKernel = this.addWeight("recurrent_kernel", [u, 3 * u], "float32", recurrentInit, undefined, true);
    this.bias = this.addWeight("bias", [3 * u], "float32", tf.initializers.zeros(), undefined, true);
    if (this.batchNorm) {
      const gamma = tf.initializers.constant({ value: this.gammaInit });
      this.inputGamma = this.addWeight("input_gamma", [3 * u], "float32", gamma, undefined, true);
      this.recurrentGamma = this.addWeight("recurrent_gamma", [3 * u], "float32", gamma, undefined, true);
      const zeros = tf.initializers.zeros();
      const ones = tf.initializers.ones();
      // Per-time-step population statistics of the input and the recurrent projections: row t for
      // step t (recurrent row 0 is unused unless T = 1: the recurrent term is 0 at t = 0), steps
      // ≥ T use row T − 1.
      const steps = shape[1];
      if (typeof steps !== "number" || !Number.isInteger(steps) || steps < 1) {
        throw new Error(
          `EnhancedGRU with batchNorm needs a fixed number of time steps (got input [${shape.join(", ")}]): ` +
            "its recurrent batch norm keeps statistics per step; give the input layer a fixed shape",
        );
      }
      this.inputMovingMean = this.addWeight("input_moving_mean", [steps, 3 * u], "float32", zeros, undefined, false);
      this.inputMovingVariance = this.addWeight("input_moving_variance", [steps, 3 * u], "float32", ones, undefined, false);
      this.recurrentMovingMean = this.addWeight("recurrent_moving_mean", [steps, 3 * u], "float32", zeros, undefined, false);
      this.recurrentMovingVariance = this.addWeight(
        "recurrent_moving_variance",
        [steps, 3 * u],
        "float32",
        ones,
        undefined,
        false,
      );
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return this.returnSequences ? [shape[0] ?? null, shape[1] ?? null, this.units] : [shape[0] ?? null, this.units];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (x === undefined || x.rank !== 3) throw new Error("EnhancedGRU expects one input [batch, time, features]");
      const training = kwargs["training"] === true;
      // Batch statistics in training, and in inference while calibrating (no dropout, no tape).
      const calibrating = !training && this.batchNorm && this.calibrationCalls !== null;
      const batchStats = training || calibrating;
      let momentum = this.momentum;
      if (calibrating) {
        // Running mean over the calibration calls: call k weighs 1/k.
        this.calibrationCalls = (this.calibrationCalls ?? 0) + 1;
        momentum = 1 - 1 / this.calibrationCalls;
      }
      const [batch, steps, features] = x.shape as [number, number, number];
      const u = this.units;
      const drop = training && this.dropout > 0;
      const W = this.weight(this.kernel);
      const U = this.weight(this.recurrentKernel);
      const b = this.weight(this.bias);

      // Input projections of all three gates for every time step: one matMul.
      const xIn = drop ? tf.mul(x, dropoutMask([batch, 1, features], this.dropout)) : x;
      const flat = tf.reshape(xIn, [batch * steps, features]);

      let xProj: tf.Tensor; // [batch, T, 3u], bias, input BN and (inference) recurrent BN offset applied
      let Uzr: tf.Tensor; // [u, 2u]
      let Uh: tf.Tensor; // [u, u]
      // Inference: per-step scale of the recurrent projections, [T, 2u] and [T, u] split by step.
      let recScaleZR: tf.Tensor[] | null = null;
      let recScaleH: tf.Tensor[] | null = null;
      let recurrentStats: { means: tf.Tensor[]; variances: tf.Tensor[] } | null = null;
      const recurrentGamma = this.batchNorm ? this.weight(this.recurrentGamma) : null;

      // In training, matMuls whose gradient is needed use matMulPlainGrad (see there).
      const project = (v: tf.Tensor, w: tf.Tensor): tf.Tensor =>
        training ? matMulPlainGrad(v, w, tf.transpose(w)) : tf.matMul(v, w);

      if (!this.batchNorm) {
        xProj = tf.reshape(tf.add(project(flat, W), b), [batch, steps, 3 * u]);
        Uzr = tf.slice(U, [0, 0], [u, 2 * u]);
        Uh = tf.slice(U, [0, 2 * u], [u, u]);
      } else if (batchStats) {
        const a = tf.reshape(project(flat, W), [batch, steps, 3 * u]);
        // Per-time-step statistics over the batch axis: [T, 3u] each.
        const inputStats = { means: [] as tf.Tensor[], variances: [] as tf.Tensor[] };
        xProj = tf.add(batchNormTraining(a, this.weight(this.inputGamma), this.epsilon, inputStats), b);
        this.updateMovingPerStep(this.inputMovingMean, inputStats.means[0] as tf.Tensor, momentum, 0);
        this.updateMovingPerStep(this.inputMovingVariance, inputStats.variances[0] as tf.Tensor, momentum, 0);
        tf.dispose([...inputStats.means, ...inputStats.variances]);
        Uzr = tf.slice(U, [0, 0], [u, 2 * u]);
        Uh = tf.slice(U, [0, 2 * u], [u, u]);
        recurrentStats = { means: [], variances: [] };
      } else {
        // Inference: BN(v·M) = (v·M)·s + o with s = γ/√(σ²+ε), o = −μ·s, one (s_t, o_t) per step on
        // both sides. The input side's s_t scales x·W after the one matMul and its o_t joins the
        // bias; the recurrent side's o_t joins the input side of step t (0 at t = 0, where the
        // recurrent term is 0), its s_t scales h·U after the matMul.
        const [inScale, inOffset] = this.foldedBatchNorm(this.inputGamma, this.inputMovingMean, this.inputMovingVariance);
        const [recScale, recOffset] = this.foldedBatchNorm(
          this.recurrentGamma,
          this.recurrentMovingMean,
          this.recurrentMovingVariance,
        );
        const rows = recScale.shape[0] ?? 1;
        const rowOf = tf.tensor1d(
          Array.from({ length: steps }, (_, t) => Math.min(t, rows - 1)),
          "int32",
        );
        const notFirst = tf.tensor2d(Array.from({ length: steps }, (_, t) => (t === 0 ? 0 : 1)), [steps, 1]);
        const stepOffset = tf.mul(tf.gather(recOffset, rowOf), notFirst); // [T, 3u]
        const inputSide = tf.mul(tf.reshape(tf.matMul(flat, W), [batch, steps, 3 * u]), tf.gather(inScale, rowOf));
        xProj = tf.add(inputSide, tf.add(tf.add(tf.gather(inOffset, rowOf), stepOffset), b));
        const [sZR, sH] = tf.split(tf.gather(recScale, rowOf), [2 * u, u], 1) as [tf.Tensor, tf.Tensor];
        recScaleZR = splitSteps(sZR);
        recScaleH = splitSteps(sH);
        Uzr = tf.slice(U, [0, 0], [u, 2 * u]);
        Uh = tf.slice(U, [0, 2 * u], [u, u]);
      }

      // Time-major per-step slices.
      const timeMajor = tf.transpose(xProj, [1, 0, 2]);
      const [zrPart, hPart] = tf.split(timeMajor, [2 * u, u], 2) as [tf.Tensor, tf.Tensor];
      const xZR = splitSteps(zrPart);
      const xH = splitSteps(hPart);
      const gateMask = drop ? dropoutMask([batch, 2 * u], this.dropout) : null;
      const candMask = drop ? dropoutMask([batch, u], this.dropout) : null;
      const gammaZR = recurrentGamma === null ? null : tf.slice(recurrentGamma, [0], [2 * u]);
      const gammaH = recurrentGamma === null ? null : tf.slice(recurrentGamma, [2 * u], [u]);

      const UzrT = training ? tf.transpose(Uzr) : null;
      const UhT = training ? tf.transpose(Uh) : null;
      const recurrent = (v: tf.Tensor, w: tf.Tensor, wT: tf.Tensor | null): tf.Tensor =>
        wT === null ? tf.matMul(v, w) : matMulPlainGrad(v, w, wT);

      const outputs: tf.Tensor[] = [];
      let h: tf.Tensor | null = null;
      for (let t = 0; t < steps; t++) {
        let preZR = xZR[t] as tf.Tensor;
        const preH = xH[t] as tf.Tensor;
        if (h === null) {
          // h_0 = 0: z = σ(x_z), h_1 = (1 − z) ⊙ h̃. r does not matter.
          if (gateMask !== null) preZR = tf.mul(preZR, gateMask);
          const z = tf.sigmoid(tf.slice(preZR, [0, 0], [batch, u]));
          let hh = tf.tanh(preH);
          if (candMask !== null) hh = tf.mul(hh, candMask);
          h = tf.sub(hh, tf.mul(z, hh));
        } else {
          let recZR = recurrent(h, Uzr, UzrT);
          if (recurrentStats !== null && gammaZR !== null) {
            recZR = batchNormTraining(recZR, gammaZR, this.epsilon, recurrentStats);
          } else if (recScaleZR !== null) {
            recZR = tf.mul(recZR, recScaleZR[t] as tf.Tensor);
          }
          preZR = tf.add(preZR, recZR);
          if (gateMask !== null) preZR = tf.mul(preZR, gateMask);
          const zr = tf.sigmoid(preZR);
          const z = tf.slice(zr, [0, 0], [batch, u]);
          const r = tf.slice(zr, [0, u], [batch, u]);
          let recH: tf.Tensor = recurrent(tf.mul(r, h), Uh, UhT);
          if (recurrentStats !== null && gammaH !== null) {
            recH = batchNormTraining(recH, gammaH, this.epsilon, recurrentStats);
          } else if (recScaleH !== null) {
            recH = tf.mul(recH, recScaleH[t] as tf.Tensor);
          }
          let hh: tf.Tensor = tf.tanh(tf.add(preH, recH));
          if (candMask !== null) hh = tf.mul(hh, candMask);
          // z ⊙ h + (1 − z) ⊙ h̃, rearranged to save an op.
          h = tf.add(hh, tf.mul(z, tf.sub(h, hh)));
        }
        if (this.returnSequences) outputs.push(h);
      }
      if (h === null) throw new Error("EnhancedGRU needs at least one time step");

      if (recurrentStats !== null && recurrentStats.means.length > 0) {
        // Statistics were pushed as [zr, h, zr, h, …] for t = 1, 2, …; one [3u] row per step.
        const perStep = (list: tf.Tensor[]): tf.Tensor =>
          tf.stack(
            list.filter((_, i) => i % 2 === 0).map((zr, i) => tf.concat([zr, list[2 * i + 1] as tf.Tensor], 0)),
          );
        this.updateMovingPerStep(this.recurrentMovingMean, perStep(recurrentStats.means), momentum);
        this.updateMovingPerStep(this.recurrentMovingVariance, perStep(recurrentStats.variances), momentum);
      }
      if (recurrentStats !== null) tf.dispose([...recurrentStats.means, ...recurrentStats.variances]);

      let out = this.returnSequences ? tf.stack(outputs, 1) : h;
      if (drop) {
        const shape = this.returnSequences ? [batch, 1, u] : [batch, u];
        out = tf.mul(out, dropoutMask(shape, this.dropout));
      }
      return out;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {
      units: this.units,
      returnSequences: this.returnSequences,
      dropout: this.dropout,
      batchNorm: this.batchNorm,
      glorot: this.glorot,
      momentum: this.momentum,
      epsilon: this.epsilon,
      gammaInit: this.gammaInit,
    };
    if (this.seed !== undefined) config["seed"] = this.seed;
    return { ...super.getConfig(), ...config };
  }

  /**
   * Starts a calibration: until endBatchNormCalibration, inference calls normalise with their own
   * batch statistics (as training does, but without dropout) and set the moving statistics to the
   * running mean of those. Use calibrateBatchNorm rather than calling this directly.
   */
  beginBatchNormCalibration(): void {
    this.calibrationCalls = 0;
  }

  /** Ends a calibration; inference uses the (now calibrated) moving statistics again. */
  endBatchNormCalibration(): void {
    this.calibrationCalls = null;
  }

  private weight(v: LayerVariable | null): tf.Tensor {
    if (v === null) throw new Error(`EnhancedGRU ${this.name} used before build()`);
    return v.read();
  }

  /** Scale and offset that apply a frozen batch norm: BN(a) = a·s + o. */
  private foldedBatchNorm(
    gamma: LayerVariable | null,
    movingMean: LayerVariable | null,
    movingVariance: LayerVariable | null,
  ): [tf.Tensor, tf.Tensor] {
    const scale = tf.mul(tf.rsqrt(tf.add(this.weight(movingVariance), this.epsilon)), this.weight(gamma));
    return [scale, tf.neg(tf.mul(this.weight(movingMean), scale))];
  }

  /**
   * Moving-average update of per-step statistics [rows, 3u] from `value` [n, 3u], the batch
   * statistics of steps t = firstStep … firstStep + n − 1 (firstStep 1 for the recurrent side,
   * whose step 0 has no term; 0 for the input side). Step t belongs to row min(t, rows − 1), so
   * rows beyond the sequence are left as they are and the last row takes the mean of the steps ≥ it.
   */
  private updateMovingPerStep(v: LayerVariable | null, value: tf.Tensor, momentum: number, firstStep = 1): void {
    if (v === null) return;
    const rows = v.shape[0] ?? 1;
    tf.tidy(() => {
      const current = v.read();
      const first = Math.min(firstStep, rows - 1);
      const last = Math.min(firstStep + (value.shape[0] ?? 1) - 1, rows - 1); // row of the last step
      const lastStart = Math.max(last - firstStep, 0); // index in `value` of the first step in row `last`
      const block = tf.concat([
        tf.slice(value, [0, 0], [last - first, -1]),
        tf.mean(tf.slice(value, [lastStart, 0], [-1, -1]), 0, true),
      ]);
      const old = tf.slice(current, [first, 0], [last - first + 1, -1]);
      const updated = tf.sub(old, tf.mul(tf.sub(old, block), 1 - momentum));
      const parts = [
        ...(first > 0 ? [tf.slice(current, [0, 0], [first, -1])] : []),
        updated,
        ...(last + 1 < rows ? [tf.slice(current, [last + 1, 0], [-1, -1])] : []),
      ];
      v.write(parts.length === 1 ? updated : tf.concat(parts));
    });
  }

}

tf.serialization.registerClass(EnhancedGRU);

/**
 * Recomputes the population statistics of every EnhancedGRU with batch norm in `model` from
 * `batches` (inputs [batch, T, features], e.g. 20–50 unaugmented training batches of ≥ 64 clips),
 * run in inference mode — no dropout — with batch statistics: "precise BN" (Wu & Johnson,
 * "Rethinking 'Batch' in BatchNorm", 2021, arXiv:2105.07576, §3). Stacked layers are calibrated in
 * the one pass, each on the outputs its predecessor gives with batch statistics, as in training.
 *
 * Why it is needed with dropout: the moving averages kept during training measure the network
 * *with* dropout, whose hidden state has another distribution (inverted dropout on the input and
 * the candidate inflates the variances; the "variance shift" of Li et al., "Understanding the
 * Disharmony between Dropout and Batch Normalization", CVPR 2019). Call it after training, and
 * before each validation, whenever dropout > 0; the weights it changes are the non-trainable
 * moving statistics only. Returns the number of layers calibrated.
 */
export function calibrateBatchNorm(model: tf.LayersModel, batches: Iterable<tf.Tensor>): number {
  const layers = model.layers.filter((l): l is EnhancedGRU => l instanceof EnhancedGRU && l.batchNorm);
  if (layers.length === 0) return 0;
  layers.forEach((l) => l.beginBatchNormCalibration());
  try {
    for (const x of batches) {
      // One call per batch: batch statistics are taken over exactly the batch given.
      tf.dispose(model.predict(x, { batchSize: x.shape[0] ?? 1 }) as tf.Tensor | tf.Tensor[]);
    }
  } finally {
    layers.forEach((l) => l.endBatchNormCalibration());
  }
  return layers.length;
}
