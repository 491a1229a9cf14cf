/**
 * Which tfjs backend runs the model: wasm (default: portable, SIMD, no native build — what the
 * Raspberry Pi uses), node (`@tensorflow/tfjs-node`, libtensorflow, fastest where it installs) or
 * cpu (pure JS, slow, always there).
 *
 * `@tensorflow/tfjs-node` is an optional dependency that is not installed by default (its install
 * downloads libtensorflow), so it is imported dynamically and only when asked for or on `auto`.
 * It brings its own `@tensorflow/tfjs`; if that resolves to a different copy of tfjs-core than the
 * one this program uses, its backend is registered in the other copy's engine and is useless here —
 * that is detected and reported instead of silently running on another backend.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError, EarwitnessError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";

export type BackendName = "wasm" | "node" | "cpu";
export type BackendRequest = BackendName | "auto";

export const BACKEND_NAMES: readonly BackendName[] = ["wasm", "node", "cpu"];
/** The order `auto` tries. */
const AUTO_ORDER: readonly BackendName[] = ["node", "wasm", "cpu"];

/** tfjs's registry name of each backend. */
const TFJS_NAME: Record<BackendName, string> = { wasm: "wasm", node: "tensorflow", cpu: "cpu" };

/** Why a backend could not be used; thrown when it was asked for by name. */
export class BackendUnavailableError extends EarwitnessError {}

/**
 * Makes the named backend's kernels known to tfjs (imports its package). Throws when the package
 * cannot be loaded.
 */
async function loadBackend(name: BackendName): Promise<void> {
  if (name === "cpu") return; // registered by @tensorflow/tfjs itself
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    registerWasmTrainingKernels();
    return;
  }
  // A variable specifier keeps TypeScript from requiring the optional package's types.
  const spec = "@tensorflow/tfjs-node";
  await import(spec);
  if (tf.findBackendFactory(TFJS_NAME.node) === null) {
    throw new Error(
      "@tensorflow/tfjs-node loaded but registered no 'tensorflow' backend with this program's tfjs-core: " +
        `its @tensorflow/tfjs must be the same version as ours (${tf.version.tfjs}) and deduplicated`,
    );
  }
}

/** Loads and initialises one backend and makes it current; throws with the reason on failure. */
async function activate(name: BackendName): Promise<void> {
  try {
    await loadBackend(name);
  } catch (cause) {
    const hint =
      name === "node"
        ? "install it with `npm install @tensorflow/tfjs-node` (downloads libtensorflow) or use EARWITNESS_BACKEND=wasm"
        : "reinstall dependencies with `npm install`, or use EARWITNESS_BACKEND=cpu";
    throw new BackendUnavailableError("BACKEND_UNAVAILABLE", `tfjs backend '${name}' cannot be loaded; ${hint}`, {
      cause,
    });
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(TFJS_NAME[name]);
  } catch (cause) {
    throw new BackendUnavailableError("BACKEND_INIT_FAILED", `tfjs backend '${name}' failed to initialise`, { cause });
  }
  if (!ok) {
    throw new BackendUnavailableError(
      "BACKEND_INIT_FAILED",
      `tfjs backend '${name}' failed to initialise (tf.setBackend returned false); try EARWITNESS_BACKEND=cpu`,
    );
  }
  await tf.ready();
}

/**
 * Selects the tfjs backend and makes it current. `auto` tries node, then wasm, then cpu, and logs
 * which it chose and why the others were skipped; a named backend that cannot be used is an error
 * (BackendUnavailableError, code BACKEND_UNAVAILABLE or BACKEND_INIT_FAILED), never a silent
 * fallback. An unknown name is a ConfigError (BACKEND_UNKNOWN).
 */
export async function selectBackend(
  requested: string = process.env["EARWITNESS_BACKEND"] ?? "auto",
  log: Logger = silentLogger(),
): Promise<BackendName> {
  const wanted = requested.trim().toLowerCase();
  if (wanted !== "auto" && !(BACKEND_NAMES as readonly string[]).includes(wanted)) {
    throw new ConfigError(
      "BACKEND_UNKNOWN",
      `EARWITNESS_BACKEND must be one of auto, ${BACKEND_NAMES.join(", ")} (got '${requested}')`,
    );
  }
  if (wanted !== "auto") {
    const name = wanted as BackendName;
    await activate(name);
    log.info({ backend: name }, "tfjs backend selected");
    return name;
  }
  const skipped: Record<string, string> = {};
  for (const name of AUTO_ORDER) {
    try {
      await activate(name);
      log.info({ backend: name, skipped }, "tfjs backend selected (auto)");
      return name;
    } catch (err) {
      skipped[name] = err instanceof Error ? err.message : String(err);
    }
  }
  // Unreachable in practice: cpu ships with @tensorflow/tfjs.
  throw new BackendUnavailableError("BACKEND_UNAVAILABLE", `no tfjs backend could be initialised: ${JSON.stringify(skipped)}`);
}

/**
 * The backends that load and initialise on this machine, in the order of BACKEND_NAMES. Leaves
 * the current backend as it found it (tfjs's own default if none was set yet).
 */
export async function availableBackends(): Promise<BackendName[]> {
  const previous = tf.getBackend();
  const found: BackendName[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      await activate(name);
      found.push(name);
    } catch {
      // not available here
    }
  }
  if (previous) await tf.setBackend(previous);
  return found;
}

interface WasmTensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

interface KernelBackend {
  disposeData(dataId: object): void;
}

/** Marks the kernels below as ours, so registration is idempotent. */
const PATCHED = Symbol.for("earwitness.wasmConvGradients");

/**
 * Makes conv2d layers trainable, and fast to train, on the wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel at all (training any conv2d fails with
 * "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'"), and its
 * `Conv2DBackpropInput` is a plain loop: measured on a 64×50×20×8 batch with 8×8×8×16 filters it
 * took 1.2 s, against 70 ms for the forward conv, which goes through XNNPACK. Both gradients of a
 * stride-1 convolution are themselves convolutions, so both are computed with the forward Conv2D
 * kernel (see e.g. Dumoulin & Visin, "A guide to convolution arithmetic", arXiv:1603.07285, §4):
 *
 *  - input gradient: dy zero-padded by (k − 1 − pad) on each side, convolved ('valid') with the
 *    filter flipped in space and with its in/out channels swapped;
 *  - filter gradient: the padded input with batch and channels swapped, [ci, h, w, b], convolved
 *    ('valid') with dy used as a filter [ho, wo, b, co], which gives [ci, kh, kw, co].
 *
 * Strided or dilated convolutions fall back to wasm's own input-gradient kernel and are refused for
 * the filter gradient (our CNNs downsample with pooling). Checked against the cpu backend in
 * test/unit/model/backend.test.ts. Idempotent; a no-op until the wasm backend is loaded.
 */
export function registerWasmTrainingKernels(): void {
  const existing = tf.getKernel("Conv2DBackpropFilter", "wasm") as (tf.KernelConfig & { [PATCHED]?: true }) | undefined;
  if (existing?.[PATCHED] === true) return;
  const conv = tf.getKernel("Conv2D", "wasm");
  const pad = tf.getKernel("PadV2", "wasm");
  const transpose = tf.getKernel("Transpose", "wasm");
  const reverse = tf.getKernel("Reverse", "wasm");
  const nativeInputGrad = tf.getKernel("Conv2DBackpropInput", "wasm");
  if (!conv || !pad || !transpose || !reverse || !nativeInputGrad) return; // wasm backend not loaded

  let nativeReady = false;
  type Attrs = Record<string, unknown>;
  const run = (k: tf.KernelConfig, backend: unknown, inputs: Record<string, WasmTensorInfo>, attrs: Attrs) =>
    k.kernelFunc({
      inputs: inputs as unknown as tf.NamedTensorInfoMap,
      backend: backend as tf.KernelBackend,
      attrs: attrs as unknown as tf.NamedAttrMap,
    }) as unknown as WasmTensorInfo;
  const free = (backend: unknown, ...infos: WasmTensorInfo[]) => {
    for (const info of infos) (backend as KernelBackend).disposeData(info.dataId);
  };
  const isUnit = (v: unknown) => v === undefined || v === 1 || (Array.isArray(v) && v.every((n) => n === 1));
  const padInfo = (xShape: number[], filterShape: number[], padding: unknown) =>
    tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      1,
      1,
      padding as "same" | "valid",
    ).padInfo;

  const filterGrad: tf.KernelConfig = {
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = inputs["x"] as unknown as WasmTensorInfo;
      const dy = inputs["dy"] as unknown as WasmTensorInfo;
      const a = attrs as Attrs;
      const filterShape = a["filterShape"] as [number, number, number, number];
      if (a["dataFormat"] !== "NHWC" || !isUnit(a["strides"]) || (a["pad"] !== "same" && a["pad"] !== "valid")) {
        throw new Error(
          "Conv2DBackpropFilter on wasm supports NHWC, stride 1, 'same'/'valid' padding only " +
            `(got ${String(a["dataFormat"])}, strides ${JSON.stringify(a["strides"])}, pad ${JSON.stringify(a["pad"])}); ` +
            "downsample with pooling or train on the cpu backend",
        );
      }
      const p = padInfo(x.shape, filterShape, a["pad"]);
      const xp = run(pad, backend, { x }, {
        paddings: [[0, 0], [p.top, p.bottom], [p.left, p.right], [0, 0]],
        constantValue: 0,
      });
      const xT = run(transpose, backend, { x: xp }, { perm: [3, 1, 2, 0] });
      const dyT = run(transpose, backend, { x: dy }, { perm: [1, 2, 0, 3] });
      const r = run(conv, backend, { x: xT, filter: dyT }, {
        strides: 1,
        pad: "valid",
        dilations: 1,
        dataFormat: "NHWC",
        dimRoundingMode: undefined,
      });
      const dw = run(transpose, backend, { x: r }, { perm: [1, 2, 0, 3] });
      free(backend, xp, xT, dyT, r);
      return dw as unknown as tf.TensorInfo;
    },
  };
  const inputGrad: tf.KernelConfig = {
    kernelName: "Conv2DBackpropInput",
    backendName: "wasm",
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const dy = inputs["dy"] as unknown as WasmTensorInfo;
      const filter = inputs["filter"] as unknown as WasmTensorInfo;
      const a = attrs as Attrs;
      const inputShape = a["inputShape"] as number[];
      if (a["dataFormat"] !== "NHWC" || !isUnit(a["strides"]) || (a["pad"] !== "same" && a["pad"] !== "valid")) {
        // The replaced kernel's setup (binding its wasm function) ran only if it was still
        // registered when the backend initialised; run it once here.
        if (!nativeReady) {
          nativeInputGrad.setupFunc?.(backend as tf.KernelBackend);
          nativeReady = true;
        }
        return nativeInputGrad.kernelFunc(args);
      }
      const [kh, kw] = filter.shape as [number, number, number, number];
      const p = padInfo(inputShape, filter.shape, a["pad"]);
      const dyp = run(pad, backend, { x: dy }, {
        paddings: [[0, 0], [kh - 1 - p.top, kh - 1 - p.bottom], [kw - 1 - p.left, kw - 1 - p.right], [0, 0]],
        constantValue: 0,
      });
      const flipped = run(reverse, backend, { x: filter }, { dims: [0, 1] });
      const swapped = run(transpose, backend, { x: flipped }, { perm: [0, 1, 3, 2] });
      const dx = run(conv, backend, { x: dyp, filter: swapped }, {
        strides: 1,
        pad: "valid",
        dilations: 1,
        dataFormat: "NHWC",
        dimRoundingMode: undefined,
      });
      free(backend, dyp, flipped, swapped);
      return dx as unknown as tf.TensorInfo;
    },
  };
  for (const k of [filterGrad, inputGrad]) {
    if (tf.getKernel(k.kernelName, "wasm") !== undefined) tf.unregisterKernel(k.kernelName, "wasm");
    tf.registerKernel(Object.assign(k, { [PATCHED]: true as const }));
  }
}
