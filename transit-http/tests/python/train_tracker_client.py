"""An open-source Train Tracker client, python-cta (PyPI, MIT: github.com/wd60622/cta),
pointed at the dashboard instead of CTA: it reads arrivals, positions and a followed train.

    python train_tracker_client.py http://127.0.0.1:3000

python-cta keeps CTA's address in the class attribute `CTAClient.url`; setting it on the
instance is the client's own way to reach another server (no patching of its code). Prints a
JSON summary on success; exits non-zero on failure.
"""

import json
import sys

from cta.client import CTAClient
from cta.route import Route


def main():
    base = sys.argv[1].rstrip("/")
    client = CTAClient(key="any-key-will-do")
    client.url = base + "/api"

    # Clark/Lake, where the Blue and Green Lines meet.
    arrivals = client.arrivals(mapid=40380).to_frame()
    if arrivals.empty or set(arrivals["staId"]) != {"40380"}:
        sys.exit(f"arrivals: {arrivals}")
    for column in ("rn", "rt", "trDr", "destNm", "isApp", "lat", "lon", "heading"):
        if column not in arrivals.columns:
            sys.exit(f"arrivals: no {column}")
    if not set(arrivals["trDr"]) <= {"1", "5"}:
        sys.exit(f"arrivals: trDr {set(arrivals['trDr'])}")
    if arrivals["arrT"].isna().any():
        sys.exit("arrivals: an arrival time pandas cannot read")

    positions = client.locations(route=[Route.BLUE, Route.RED, Route.GREEN]).to_frame()
    if set(positions["train"]) != {"blue", "red", "g"}:
        sys.exit(f"positions: routes {set(positions['train'])}")

    run = arrivals["rn"].iloc[0]
    followed = client.follow(runnumber=run).to_frame()
    if set(followed["rn"]) != {run}:
        sys.exit(f"follow {run}: {followed}")

    # The client raises on CTA's error codes, as it does against CTA.
    try:
        client.arrivals(mapid=49999)
        sys.exit("an unknown station was not an error")
    except ValueError as error:
        bad_station = str(error).split()[2]

    print(json.dumps({
        "arrivals": len(arrivals),
        "positions": len(positions),
        "followed": run,
        "followed_stops": len(followed),
        "bad_station": bad_station,
    }))


if __name__ == "__main__":
    main()
