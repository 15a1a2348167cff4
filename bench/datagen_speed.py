"""How long the `bench` dataset takes to generate and load into the JAGGAER sandbox (budget: 10 s together),
and how many list pages per second the sandbox then serves over HTTP.

    python bench/datagen_speed.py [--scale 1.0] [--seed 42] [--pages 300]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests  # noqa: E402

from sandbox.common.http import SandboxServer  # noqa: E402
from sandbox.datagen import generate  # noqa: E402
from sandbox.jaggaer import ENTITIES, TOKEN_PATH, JaggaerApp  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pages", type=int, default=300, help="list pages to fetch for the HTTP rate")
    args = parser.parse_args()

    started = time.perf_counter()
    ds = generate("bench", seed=args.seed, scale=args.scale)
    generated = time.perf_counter()
    app = JaggaerApp(ds)
    loaded = time.perf_counter()
    sizes = ", ".join(f"{k}={v}" for k, v in ds.sizes().items())
    print(f"bench scale={args.scale} seed={args.seed}: {sizes}")
    print(f"generate {generated - started:.2f} s, load {loaded - generated:.2f} s, "
          f"total {loaded - started:.2f} s (budget 10 s)")

    with SandboxServer(app) as server, requests.Session() as http:
        token = http.post(server.url + TOKEN_PATH, data={"grant_type": "client_credentials",
                                                         "client_id": "ml-sandbox-jaggaer",
                                                         "client_secret": "ml-sandbox-jaggaer-secret"}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        path = server.url + ENTITIES["invoices"].path
        total = app.count("invoices")
        for cold in (True, False):
            t0 = time.perf_counter()
            for i in range(args.pages):
                start = 1 + (i * 200) % max(total - 200, 1)
                resp = http.get(path, params={"start": start, "size": 200}, headers=headers)
                resp.raise_for_status()
            dt = time.perf_counter() - t0
            print(f"{'first' if cold else 'repeat'} read: {args.pages / dt:.0f} invoice pages/s of 200 rows "
                  f"({dt / args.pages * 1000:.1f} ms a page)")
    return 0 if loaded - started < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
