"""The real city frame under the synthetic panel: which cities enter, when they became pilots.

Everything here is real structure taken from the reference tables shipped with bayescity
(``data/reference/cities.csv`` and ``data/reference/innovative_city_pilots.csv``); the numbers
attached to these cities by :mod:`bayescity.data.simulate` are synthetic.

Unit rule
    A unit is a row of ``cities.csv`` whose ``unit_type`` is ``prefecture_level_city`` or
    ``municipality``, unless its ``admin_note`` records that it was created (``设立 YYYY``) or
    upgraded to a prefecture-level city (``...→地级市 YYYY``) after :data:`FIRST_YEAR`. This drops
    Sansha (2012), Danzhou (2015), Bijie and Tongren (2011), Shigatse, Qamdo (2014), Nyingchi
    (2015), Shannan (2016), Nagqu (2017), Haidong (2013), Turpan (2015) and Hami (2016), leaving
    285 units (281 prefecture-level cities and the 4 municipalities). Boundary changes of existing
    prefectures (Hefei, Wuhu and Ma'anshan absorbing Chaohu in 2011, Jinan absorbing Laiwu in 2019)
    and renamings (Xiangyang, Pu'er) keep the unit; the abolished prefectures Chaohu and Laiwu are
    ``historical_prefecture_level_city`` rows and are not units.

Pilot rule
    Each pilot row is mapped to its prefecture through ``prefecture_adcode``: the municipal-district
    pilots (Haidian, Binhai New Area, Yangpu, Shapingba) count for Beijing, Tianjin, Shanghai and
    Chongqing. County-level pilots whose prefecture is not a unit are dropped: Changji (its
    prefecture, the Changji Hui Autonomous Prefecture, is not a prefecture-level city) and Shihezi
    (directly administered, no prefecture). A prefecture with several pilot rows takes the earliest
    year. ``pilot_year_uncertain`` flags rows whose ``year_confidence`` starts with "unknown".
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files

import pandas as pd

#: The first year of the synthetic economy; a unit must be prefecture-level from this year on.
FIRST_YEAR = 2003

UNIT_TYPES = ("prefecture_level_city", "municipality")

#: English four-region code of China's statistical regions.
REGION4 = {"东部": "East", "中部": "Central", "西部": "West", "东北": "Northeast"}

#: Province-level capitals (the four municipalities count as capitals as well).
PROVINCIAL_CAPITALS = frozenset({
    110000, 120000, 310000, 500000,
    130100, 140100, 150100, 210100, 220100, 230100, 320100, 330100, 340100, 350100,
    360100, 370100, 410100, 420100, 430100, 440100, 450100, 460100, 510100, 520100,
    530100, 540100, 610100, 620100, 630100, 640100, 650100,
})

#: Cities of the coastal provinces whose territory borders the sea (Bohai, Yellow, East China or
#: South China Sea, including the Hangzhou Bay and Pearl River estuary shores).
COASTAL_CITIES = frozenset({
    120000, 310000,
    130200, 130300, 130900,
    210200, 210600, 210700, 210800, 211100, 211400,
    320600, 320700, 320900,
    330100, 330200, 330300, 330400, 330600, 330900, 331000,
    350100, 350200, 350300, 350500, 350600, 350900,
    370200, 370500, 370600, 370700, 371000, 371100, 371600,
    440100, 440300, 440400, 440500, 440700, 440800, 440900, 441300, 441500, 441700,
    441900, 442000, 445100, 445200,
    450500, 450600, 450700,
    460100, 460200,
})

_LATE_UNIT = re.compile(r"(?:设立|→地级市)\s*(\d{4})")


def read_reference(filename: str) -> pd.DataFrame:
    """Read one of the reference CSV tables shipped in ``bayescity/data/reference``."""
    resource = files("bayescity").joinpath("data").joinpath("reference").joinpath(filename)
    with resource.open("rb") as handle:
        return pd.read_csv(handle)


def became_unit_year(admin_note: object) -> int | None:
    """The year an ``admin_note`` says the city was created or upgraded to prefecture level."""
    if not isinstance(admin_note, str):
        return None
    match = _LATE_UNIT.search(admin_note)
    return int(match.group(1)) if match else None


def _english_names(cities: pd.DataFrame) -> pd.Series:
    """Unique English names; duplicates get the province appended, e.g. ``Taizhou (Jiangsu)``."""
    duplicated = cities["city_en"].duplicated(keep=False)
    with_province = cities["city_en"] + " (" + cities["province_en"] + ")"
    return with_province.where(duplicated, cities["city_en"])


def select_units(cities: pd.DataFrame) -> pd.DataFrame:
    """Apply the unit rule to the reference city table; one row per unit, sorted by adcode."""
    is_unit = cities["unit_type"].isin(UNIT_TYPES)
    late = cities["admin_note"].map(became_unit_year).astype("float")
    kept = cities[is_unit & ~(late > FIRST_YEAR)].sort_values("adcode").reset_index(drop=True)
    return pd.DataFrame({
        "adcode": kept["adcode"].astype("int64"),
        "city": _english_names(kept),
        "city_cn": kept["city_cn"],
        "province": kept["province_en"],
        "region3": kept["region3"],
        "region4": kept["region4_cn"].map(REGION4),
        "north_south": kept["north_south"],
        "provincial_capital": kept["adcode"].isin(PROVINCIAL_CAPITALS).astype("int64"),
        "coastal": kept["adcode"].isin(COASTAL_CITIES).astype("int64"),
    })


def pilot_designations(pilots: pd.DataFrame, adcodes: pd.Series) -> pd.DataFrame:
    """The earliest pilot designation of each unit, indexed by adcode.

    Columns: ``cohort`` (first approval year), ``pilot_batch`` (batch label),
    ``pilot_year_uncertain`` (0/1) and ``pilot_units`` (the designated units, ``;``-joined).
    """
    rows = pilots.dropna(subset=["prefecture_adcode"]).copy()
    rows["adcode"] = rows["prefecture_adcode"].astype("int64")
    rows = rows[rows["adcode"].isin(set(adcodes))]
    rows["uncertain"] = rows["year_confidence"].str.startswith("unknown").astype("int64")
    rows = rows.sort_values(["adcode", "first_year"], kind="stable")
    grouped = rows.groupby("adcode", sort=True)
    first = grouped.first()
    return pd.DataFrame({
        "cohort": first["first_year"].astype("int64"),
        "pilot_batch": first["batch"].astype(str),
        "pilot_year_uncertain": first["uncertain"].astype("int64"),
        "pilot_units": grouped["unit_en"].agg(";".join),
    })


def dropped_pilots(pilots: pd.DataFrame, adcodes: pd.Series) -> list[str]:
    """The pilot units that map to no unit of the sample (documented, not silently lost)."""
    code = pd.to_numeric(pilots["prefecture_adcode"], errors="coerce")
    lost = code.isna() | ~code.isin(set(adcodes))
    return pilots.loc[lost, "unit_en"].tolist()


@lru_cache(maxsize=1)
def _city_units() -> pd.DataFrame:
    units = select_units(read_reference("cities.csv"))
    designations = pilot_designations(read_reference("innovative_city_pilots.csv"), units["adcode"])
    merged = units.merge(designations, left_on="adcode", right_index=True, how="left")
    merged["cohort"] = merged["cohort"].fillna(0).astype("int64")
    merged["pilot_batch"] = merged["pilot_batch"].fillna("").astype(str)
    merged["pilot_year_uncertain"] = merged["pilot_year_uncertain"].fillna(0).astype("int64")
    merged["pilot_units"] = merged["pilot_units"].fillna("").astype(str)
    return merged.reset_index(drop=True)


def city_units() -> pd.DataFrame:
    """The unit table: identifiers, real traits and the real pilot designation.

    ``cohort`` is the first approval year (0 = never designated).

    It is the real approval year even when it falls after the simulated window (the 2022
    batch); :func:`bayescity.data.simulate.simulate_city_panel` turns it into ``pilot_year``.
    """
    return _city_units().copy()
