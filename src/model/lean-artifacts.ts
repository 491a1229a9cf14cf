/**
 * A bundle's tfjs layers-model files read into the lean engine without tfjs: model.json's Keras
 * topology (layer classes, configs, how they connect) and its weight manifest, the weights
 * dequantised exactly as tfjs does. The daemon runs every bundle but the image CNNs' this way
 * (recurrent, lr, cnnp), so that its process never imports tfjs or its wasm for them — about 20 MB
 * of its resident memory (docs/performance.md).
 *
 * Only the layout earwitness's own bundles have is read (saveBundle of a buildModel network: a
 * functional model that is a chain input → GRU/EnhancedGRU … or Conv1D/MaxPooling1D … →
 * [StatsPooling] → [Dropout] → [Dense] … → Dense or DangerHead, every weight stored float32 or
 * uint8/uint16-quantised); what each layer's config may say is lean-gru.ts's to check. Anything else throws LeanUnsupportedError and
 * the caller loads the bundle with tfjs, which either runs it or says why not: this reader may
 * refuse what tfjs accepts, never compute something other than tfjs would from the same files.
 * The weights it yields are bit-identical to the ones tfjs loads into its variables
 * (test/unit/model/lean-artifacts.test.ts).
 *
 * What it follows of tfjs 4.22 (node_modules/@tensorflow/tfjs-layers and tfjs-core):
 *  - configs: tfjs converts model.json's snake_case keys and string values to camelCase before a
 *    layer sees them (convertPythonicToTs in tfjs-layers' utils/serialization_utils.ts); the
 *    `name` key is kept as is. The lean engine reads configs in that form.
 *  - weights: stored one after another in the manifest's order, each `prod(shape)` values of its
 *    quantisation dtype if quantised, else of its dtype; a quantised value is `q * scale + min`
 *    computed in double precision and stored as float32 (decodeWeight in tfjs-core's
 *    io/io_utils.ts). A weight is matched to its layer by the name before the last "/", as
 *    LayersModel.loadWeights matches originalName; loading is strict: every weight of every layer
 *    must be there, and no other.
 *  - initialisers, regularisers and constraints do not take part in inference and are not read.
 */
import type { ModelArtifacts, WeightSpec } from "./bundle-files.js";
import { LeanGruNetwork, shortWeightName, unsupported, type LayerView, type LeanWeight } from "./lean-gru.js";

/** tfjs-layers' toCamelCase (utils/generic_utils.ts). */
function toCamelCase(identifier: string): string {
  if (identifier.length <= 1 || !identifier.includes("_")) return identifier;
  return identifier.replace(/[_]+(\w|$)/g, (_m, p1: string) => p1.toUpperCase());
}

/**
 * tfjs-layers' convertPythonicToTs for a layer's config: keys and string values to camelCase,
 * except the value of `name`. (The special case for layer names inside inbound_nodes does not
 * arise: connections are read from the topology, not from converted configs.)
 */
function pythonicToTs(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return toCamelCase(value);
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map(pythonicToTs);
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key === "name" && typeof v === "string") out[key] = v;
    else out[toCamelCase(key)] = pythonicToTs(v);
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Bytes per value of the dtypes read here (tfjs-core's DTYPE_VALUE_SIZE_MAP). */
const BYTES: Record<string, number> = { float32: 4, uint8: 1, uint16: 2 };

/**
 * Every weight of the manifest, by its full name, as tfjs-core's decodeWeights decodes it into
 * the float32 values its variables then hold.
 */
export function decodeWeights(specs: readonly WeightSpec[], data: ArrayBuffer): Map<string, LeanWeight> {
  const out = new Map<string, LeanWeight>();
  let offset = 0;
  for (const spec of specs) {
    if (!isObject(spec) || typeof spec.name !== "string" || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw unsupported(`weight manifest entry ${JSON.stringify(spec).slice(0, 80)} has no name or no shape`);
    }
    if (spec.dtype !== "float32") throw unsupported(`weight ${spec.name} is ${String(spec.dtype)} (float32 only)`);
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const stored = q === undefined ? "float32" : q.dtype;
    const bytes = BYTES[stored];
    if (bytes === undefined || (q !== undefined && stored === "float32")) throw unsupported(`weight ${spec.name} is stored as ${String(stored)} (float32, uint8 or uint16 only)`);
    const byteLength = size * bytes;
    if (offset + byteLength > data.byteLength) {
      throw unsupported(`weight ${spec.name} ends at byte ${offset + byteLength} of ${data.byteLength} bytes of weight data`);
    }
    // A copy, as tfjs slices: typed arrays need an aligned, exactly sized buffer.
    const chunk = data.slice(offset, offset + byteLength);
    offset += byteLength;
    let values: Float32Array;
    if (q === undefined) {
      values = new Float32Array(chunk);
    } else {
      const { min, scale } = q;
      if (typeof min !== "number" || typeof scale !== "number") throw unsupported(`weight ${spec.name} is quantised without min and scale`);
      const levels = stored === "uint8" ? new Uint8Array(chunk) : new Uint16Array(chunk);
      values = new Float32Array(levels.length);
      for (let i = 0; i < levels.length; i++) values[i] = levels[i]! * scale + min;
    }
    if (out.has(spec.name)) throw unsupported(`weight ${spec.name} appears twice in the manifest`);
    out.set(spec.name, { shape: spec.shape.slice(), data: values });
  }
  return out;
}

/** The weights tfjs creates for a layer of class `cls` with (camelCase) `config`, by short name; null for a class not read here. */
function expectedWeights(cls: string, config: Record<string, unknown>, name: string): string[] | null {
  const useBias = (): boolean => {
    if (config["useBias"] === undefined) return true; // tfjs's default for GRU, Dense and Conv1D
    if (typeof config["useBias"] !== "boolean") throw unsupported(`layer ${name} has use_bias ${JSON.stringify(config["useBias"])}`);
    return config["useBias"];
  };
  switch (cls) {
    case "GRU":
      return ["kernel", "recurrent_kernel", ...(useBias() ? ["bias"] : [])];
    case "EnhancedGRU": {
      // egru-cell.ts defaults batchNorm to true; saved configs always state it.
      if (typeof config["batchNorm"] !== "boolean") throw unsupported(`layer ${name} does not state batch_norm`);
      const bn = ["input_gamma", "recurrent_gamma", "input_moving_mean", "input_moving_variance", "recurrent_moving_mean", "recurrent_moving_variance"];
      return ["kernel", "recurrent_kernel", "bias", ...(config["batchNorm"] ? bn : [])];
    }
    case "Dense":
    case "Conv1D":
      return ["kernel", ...(useBias() ? ["bias"] : [])];
    case "StatsPooling":
    case "MaxPooling1D":
    case "Dropout":
      return [];
    case "DangerHead":
      return ["kernel", "bias", "danger_kernel", "danger_bias"];
    default:
      return null;
  }
}

/** [layer name, node index, tensor index] of a connection, or null when it is not one. */
function connection(v: unknown): [string, number, number] | null {
  if (!Array.isArray(v) || v.length < 3 || typeof v[0] !== "string" || v[1] !== 0 || v[2] !== 0) return null;
  if (v.length > 4 || (v.length === 4 && !(isObject(v[3]) && Object.keys(v[3]).length === 0))) return null;
  return [v[0], 0, 0];
}

/**
 * The input shape and the chain of layers (without the input layer) of a model.json topology,
 * with their weights; LeanUnsupportedError for any other topology.
 */
export function readLayerChain(artifacts: ModelArtifacts): { inShape: (number | null)[]; layers: LayerView[] } {
  const topo = artifacts.modelTopology;
  if (topo["class_name"] !== "Model" && topo["class_name"] !== "Functional") {
    throw unsupported(`the topology is a ${JSON.stringify(topo["class_name"])} (a functional Model only)`);
  }
  const cfg = topo["config"];
  if (!isObject(cfg) || !Array.isArray(cfg["layers"]) || !Array.isArray(cfg["input_layers"]) || !Array.isArray(cfg["output_layers"])) {
    throw unsupported("the topology has no layers, input_layers and output_layers");
  }
  const raw = cfg["layers"] as unknown[];
  const names = new Set<string>();
  const layers = raw.map((l, i) => {
    if (!isObject(l) || typeof l["class_name"] !== "string" || typeof l["name"] !== "string" || !isObject(l["config"])) {
      throw unsupported(`layer ${i} of the topology has no class_name, name or config`);
    }
    if (names.has(l["name"])) throw unsupported(`two layers are named ${l["name"]}`);
    names.add(l["name"]);
    return { className: l["class_name"], name: l["name"], config: pythonicToTs(l["config"]) as Record<string, unknown>, inbound: l["inbound_nodes"] };
  });
  // A chain: the first layer is the only input, each other layer reads the one before it, the last is the only output.
  const input = layers[0];
  if (!input || input.className !== "InputLayer") throw unsupported("the first layer is not an InputLayer");
  if (cfg["input_layers"].length !== 1 || connection(cfg["input_layers"][0])?.[0] !== input.name) throw unsupported("the model does not have one input, its first layer");
  const last = layers[layers.length - 1]!;
  if (cfg["output_layers"].length !== 1 || connection(cfg["output_layers"][0])?.[0] !== last.name) throw unsupported("the model does not have one output, its last layer");
  layers.forEach((l, i) => {
    if (i === 0) {
      if (!Array.isArray(l.inbound) || l.inbound.length !== 0) throw unsupported(`input layer ${l.name} has inbound nodes`);
      return;
    }
    const nodes = l.inbound;
    const ok = Array.isArray(nodes) && nodes.length === 1 && Array.isArray(nodes[0]) && nodes[0].length === 1 && connection(nodes[0][0])?.[0] === layers[i - 1]!.name;
    if (!ok) throw unsupported(`layer ${l.name} does not read the output of layer ${layers[i - 1]!.name} alone (not a chain)`);
  });
  if (input.config["sparse"] === true) throw unsupported(`input layer ${input.name} is sparse`);
  const shape = input.config["batchInputShape"];
  if (!Array.isArray(shape) || !shape.every((d) => d === null || (Number.isInteger(d) && (d as number) > 0))) {
    throw unsupported(`input layer ${input.name} has no batch_input_shape`);
  }

  // Weights to layers, strictly (LayersModel.loadWeights with strict = true).
  const decoded = decodeWeights(artifacts.weightSpecs, artifacts.weightData);
  const byLayer = new Map<string, Map<string, LeanWeight>>(layers.map((l) => [l.name, new Map()]));
  for (const [full, w] of decoded) {
    const slash = full.lastIndexOf("/");
    const own = slash < 0 ? undefined : byLayer.get(full.slice(0, slash));
    if (!own) throw unsupported(`weight ${full} belongs to no layer of the topology`);
    const short = shortWeightName(full);
    if (own.has(short)) throw unsupported(`weight ${full} is a second '${short}' of its layer`);
    own.set(short, w);
  }
  const views: LayerView[] = layers.slice(1).map((l) => {
    const weights = byLayer.get(l.name)!;
    // tfjs refuses reset_after; a layer returning its state would give the model a second output.
    if (l.config["resetAfter"] === true || l.config["returnState"] === true) throw unsupported(`layer ${l.name} has reset_after or return_state`);
    const expected = expectedWeights(l.className, l.config, l.name);
    if (expected !== null) {
      const have = [...weights.keys()].sort();
      if (JSON.stringify(have) !== JSON.stringify([...expected].sort())) {
        throw unsupported(`layer ${l.name} (${l.className}) has weights ${have.join(", ") || "none"}, expected ${expected.join(", ") || "none"}`);
      }
    }
    return { className: l.className, name: l.name, config: l.config, weights };
  });
  if (byLayer.get(input.name)!.size > 0) throw unsupported(`input layer ${input.name} has weights`);
  return { inShape: shape as (number | null)[], layers: views };
}

/** The lean network of a bundle's model artifacts, read without tfjs; LeanUnsupportedError when this reader does not cover them. */
export function leanNetworkFromArtifacts(artifacts: ModelArtifacts): LeanGruNetwork {
  const { inShape, layers } = readLayerChain(artifacts);
  return LeanGruNetwork.fromLayers(inShape, layers);
}
