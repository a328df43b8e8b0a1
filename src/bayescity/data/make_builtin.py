"""Regenerate the shipped SYNTHETIC built-in panel: ``python -m bayescity.data.make_builtin``.

The file ``data/builtin/china_cities.csv.gz`` is ``simulate_city_panel(BUILTIN_SEED).data``
written as UTF-8 CSV with floats rounded to six decimals, ``\\n`` line ends and a gzip header
without file name or time stamp, so the same code and seed give byte-identical output.
``--out DIR`` writes into another directory instead of the package.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import pandas as pd

from bayescity.data.builtin import builtin_filename
from bayescity.data.simulate import BUILTIN_SEED, simulate_city_panel

#: How floats are written to the shipped CSV.
FLOAT_FORMAT = "%.6f"


def builtin_csv_text(data: pd.DataFrame) -> str:
    """The deterministic CSV text of a panel as shipped."""
    return data.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")


def write_gzip_text(text: str, path: Path) -> Path:
    """Write UTF-8 text gzip-compressed with mtime 0 and no stored file name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return path


def package_builtin_dir() -> Path:
    """The ``data/builtin`` directory of the installed package."""
    return Path(__file__).resolve().parent / "builtin"


def write_builtin(directory: Path | str | None = None) -> Path:
    """Simulate the built-in panel with the shipped seed and write it; returns the file path."""
    target = package_builtin_dir() if directory is None else Path(directory)
    data = simulate_city_panel(BUILTIN_SEED).data
    return write_gzip_text(builtin_csv_text(data), target / builtin_filename("china_cities"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="directory to write into (default: the package data/builtin)")
    args = parser.parse_args(argv)
    path = write_builtin(args.out)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
