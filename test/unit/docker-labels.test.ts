// pooltuner's own backups are recognised by a name that carries the container's own id: any other container,
// whatever its name, is never taken for one (recovery would rename or remove it).
import { describe, expect, it } from "vitest";
import { backupName, isBackup, parseBackupName } from "../../src/docker/labels.js";

const ID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";

describe("backup names", () => {
  it("round-trips the original name and state for the container whose id it carries", () => {
    expect(backupName("lineage-app-1", true, ID)).toBe("lineage-app-1_pooltuner-prev-running-0123456789ab");
    expect(parseBackupName(backupName("lineage-app-1", true, ID), ID)).toEqual({
      original: "lineage-app-1",
      wasRunning: true,
    });
    expect(parseBackupName(backupName("a_pooltuner-prev-x", false, ID), ID)).toEqual({
      original: "a_pooltuner-prev-x",
      wasRunning: false,
    });
  });

  it("is nobody's backup under another container's id, without an id, or with a near miss", () => {
    expect(isBackup(backupName("lineage-app-1", true, OTHER), ID)).toBe(false);
    expect(isBackup("lineage-app-1_pooltuner-prev-running", ID)).toBe(false);
    expect(isBackup("lineage-app-1_pooltuner-prev-running-0123456789AB", ID)).toBe(false);
    expect(isBackup("lineage-app-1_pooltuner-prev-paused-0123456789ab", ID)).toBe(false);
    expect(isBackup("_pooltuner-prev-running-0123456789ab", ID)).toBe(false);
    expect(isBackup("lineage-app-1", ID)).toBe(false);
  });
});
