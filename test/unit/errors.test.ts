import { describe, expect, it } from "vitest";
import { BundleError, describeError, EarwitnessError } from "../../src/errors.js";

describe("errors", () => {
  it("carry a code, a message and their cause", () => {
    const cause = new Error("ENOENT");
    const err = new BundleError("MISSING_FILE", "weights.bin is missing; re-export the bundle", { cause });
    expect(err).toBeInstanceOf(EarwitnessError);
    expect(err.name).toBe("BundleError");
    expect(err.code).toBe("MISSING_FILE");
    expect(err.cause).toBe(cause);
    expect(describeError(err)).toBe("MISSING_FILE: weights.bin is missing; re-export the bundle");
    expect(describeError("plain")).toBe("plain");
  });
});
