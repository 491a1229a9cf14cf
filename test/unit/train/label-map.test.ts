import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { LABEL_VOCABULARY } from "../../../src/constants.js";
import { classSet, dangerEmotionsOf, isDangerLabel, labelKind, SOUND_LABELS } from "../../../src/label-map.js";

describe("label map", () => {
  it("knows every label of every corpus manifest in ../shared/data", async () => {
    const dir = path.resolve("../shared/data/manifests");
    let files: string[];
    try {
      files = (await import("node:fs")).readdirSync(dir).filter((f) => f.endsWith(".csv"));
    } catch {
      console.warn(`SKIPPED: ${dir} is not here; the label map is checked against its own lists only`);
      return;
    }
    expect(files.length).toBeGreaterThan(10);
    const unknown = new Set<string>();
    for (const f of files) {
      const lines = (await readFile(path.join(dir, f), "utf8")).split(/\r?\n/).filter(Boolean);
      const iLabel = lines[0]!.split(",").indexOf("label");
      for (const l of lines.slice(1)) {
        const label = l.split(",")[iLabel]!;
        if (labelKind(label) === null) unknown.add(`${f}: ${label}`);
      }
    }
    expect([...unknown]).toEqual([]);
  });

  it("sorts labels into kinds; unknown labels are null, not silently sounds", () => {
    for (const l of LABEL_VOCABULARY) expect(labelKind(l)).toBe("emotion");
    expect(labelKind("arousal_high")).toBe("arousal");
    expect(labelKind("scream")).toBe("scream");
    expect(labelKind("laughter")).toBe("sound");
    expect(labelKind("none")).toBe("unlabelled");
    expect(labelKind("angy")).toBeNull();
    expect(new Set(SOUND_LABELS).size).toBe(SOUND_LABELS.length);
  });

  it("emotions: the labels given, each its own class; others left out", () => {
    const s = classSet("emotions");
    expect(s.classes).toEqual(["angry", "disgust", "fear", "happy", "neutral", "sad"]);
    expect(s.danger).toEqual(["angry", "fear"]);
    expect(s.classOf("fear")).toBe("fear");
    expect(s.classOf("calm")).toBeNull();
    expect(s.classOf("laughter")).toBeNull();
    expect(classSet("emotions", ["angry", "calm"]).classOf("calm")).toBe("calm");
  });

  it("home: calm and boredom are neutral, every sound is sound, screams are danger, arousal is left out", () => {
    const s = classSet("home");
    expect(s.danger).toEqual(["angry", "fear", "scream"]);
    expect(s.classOf("calm")).toBe("neutral");
    expect(s.classOf("boredom")).toBe("neutral");
    expect(s.classOf("surprised")).toBe("surprised");
    expect(s.classOf("infant_cry")).toBe("sound");
    expect(s.classOf("gun_shot")).toBe("sound");
    expect(s.classOf("scream")).toBe("scream");
    expect(s.classOf("arousal_high")).toBeNull();
    for (const c of s.classes) expect(s.classes.includes(s.classOf(c === "sound" ? "cough" : c)!)).toBe(true);
  });

  it("danger: danger vs safe", () => {
    const s = classSet("danger");
    expect(s.classes).toEqual(["danger", "safe"]);
    expect(["angry", "fear", "scream"].map((l) => s.classOf(l))).toEqual(["danger", "danger", "danger"]);
    expect(["happy", "calm", "laughter", "siren"].map((l) => s.classOf(l))).toEqual(["safe", "safe", "safe", "safe"]);
    expect(s.classOf("arousal_low")).toBeNull();
  });

  it("danger labels for streams: the given emotions and screams, never a sound", () => {
    expect(isDangerLabel("angry", ["angry", "fear"])).toBe(true);
    expect(isDangerLabel("scream", ["angry", "fear"])).toBe(true);
    expect(isDangerLabel("sad", ["angry", "fear"])).toBe(false);
    expect(isDangerLabel("gun_shot", ["angry", "fear"])).toBe(false);
  });

  it("the emotions a model's danger classes stand for: a danger-vs-rest model's class means angry and fear", () => {
    expect(dangerEmotionsOf(["angry", "fear"])).toEqual(["angry", "fear"]);
    expect(dangerEmotionsOf(["danger"])).toEqual(["angry", "fear"]);
    expect(dangerEmotionsOf(["angry", "fear", "scream"])).toEqual(["angry", "fear"]);
    expect(dangerEmotionsOf(["fear"])).toEqual(["fear"]);
  });
});
