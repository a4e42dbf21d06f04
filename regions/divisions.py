"""The administrative tree's reference data.

Source of the county-level tree and its history: the GB/T 2260 list shipped with python-stdnum
(``stdnum/cn/loc.dat``, compiled from the published code lists with each code's years of
validity), so a package upgrade brings the national updates. Codes newer than that list are
added from ``data/supplement.csv``. Streets and communities of the demonstration district come
from ``data/xihu_divisions.csv``; production loads the statistical division list of each area
with ``load_regions --file``.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

from regions.choices import RegionLevel

DATA_DIR = Path(__file__).resolve().parent / "data"
ZHEJIANG = "33"
_PERIOD = re.compile(r"\[(?P<start>\d{4})?-(?P<end>\d{4})?\](?P<name>[^,]+)")


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str
    parent_code: str | None
    valid_from_year: int | None
    valid_to_year: int | None
    source: str

    @property
    def is_active(self) -> bool:
        return self.valid_to_year is None


def _parse_name(raw: str) -> tuple[str, int | None, int | None]:
    """'[1985-1986]滨海区,[1987-]北仑区' → ('北仑区', 1985, None); '浙江省' → ('浙江省', None, None)."""
    periods = list(_PERIOD.finditer(raw))
    if not periods:
        return raw, None, None
    first, last = periods[0], periods[-1]
    start = int(first["start"]) if first["start"] else None
    end = int(last["end"]) if last["end"] else None
    return last["name"], start, end


@cache
def gb2260_codes() -> dict[str, tuple[str, int | None, int | None]]:
    """Every six-digit code of the national list (all provinces, current and historical)."""
    text = (files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    codes: dict[str, tuple[str, int | None, int | None]] = {}
    province = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line.split()[0]
            continue
        suffix, _, rest = line.strip().partition(" ")
        raw = rest.split("=", 1)[1].strip('"')
        codes[province + suffix] = _parse_name(raw)
    with open(DATA_DIR / "supplement.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            codes[row["code"]] = (
                row["name"],
                int(row["valid_from_year"]) if row["valid_from_year"] else None,
                int(row["valid_to_year"]) if row["valid_to_year"] else None,
            )
    return codes


def is_known_region_code(code: str) -> bool:
    """A current or historical GB/T 2260 code (used to validate ID numbers' first six digits)."""
    return code in gb2260_codes()


def zhejiang_divisions() -> list[Division]:
    """Province, cities (and former prefectures) and counties of Zhejiang, parents first."""
    source = "GB/T 2260 (python-stdnum cn/loc.dat)"
    divisions = []
    codes = gb2260_codes()
    for code in sorted(c for c in codes if c.startswith(ZHEJIANG)):
        name, start, end = codes[code]
        if code[4:] == "01" or name.endswith("市辖区"):
            continue  # "municipal districts" placeholders are not administrative units
        if code[2:] == "0000":
            level, parent = RegionLevel.PROVINCE, None
        elif code[4:] == "00":
            level, parent = RegionLevel.CITY, ZHEJIANG + "0000"
        else:
            level = RegionLevel.COUNTY
            parent = code[:4] + "00" if code[:4] + "00" in codes else ZHEJIANG + "0000"
        divisions.append(Division(code, name, level, parent, start, end, source))
    return divisions


def file_divisions(path: Path, source: str) -> list[Division]:
    """Rows of a CSV with columns code,name,level,parent_code (streets, communities, grids)."""
    with open(path, encoding="utf-8-sig") as handle:
        return [
            Division(
                code=row["code"].strip(),
                name=row["name"].strip(),
                level=row["level"].strip(),
                parent_code=row["parent_code"].strip() or None,
                valid_from_year=None,
                valid_to_year=None,
                source=source,
            )
            for row in csv.DictReader(handle)
        ]
