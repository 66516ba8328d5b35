"""Rebuild Calls.Export.example.zip from the example exports beside this script.

The zip is byte-for-byte reproducible: fixed member order, timestamps and
permissions. Run: ``python examples/make_zip.py``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ZIP = HERE / "Calls.Export.example.zip"
MEMBERS = ("PSTN.calls.2026-10-01.csv", "DirectRouting.calls.2026-10-01.csv")
PARAMETERS = {
    "reportName": "PSTN and Direct Routing usage",
    "startDate": "2026-10-01T00:00:00Z",
    "endDate": "2026-11-01T00:00:00Z",
    "tenantId": "4f6c2a1e-0b7d-4e2a-9c1f-3a5b7d9e1f20",
    "exportedAt": "2026-11-01T08:00:00Z",
}
STAMP = (2026, 11, 1, 8, 0, 0)


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def main() -> None:
    with zipfile.ZipFile(ZIP, "w") as archive:
        for name in MEMBERS:
            _add(archive, name, (HERE / name).read_bytes())
        _add(archive, "parameters.json", (json.dumps(PARAMETERS, indent=2) + "\n").encode("utf-8"))
    print(ZIP)


if __name__ == "__main__":
    main()
