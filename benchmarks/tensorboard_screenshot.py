"""Screenshot of TensorBoard's scalar overlay of a ``semgame bench`` folder, with headless Chromium.

    python benchmarks/tensorboard_screenshot.py reports/bench-mnist --runs "undefended/" --tag eve/acc \\
        --out benchmarks/results/bench-mnist-quick/tensorboard.png

Starts ``tensorboard --logdir DIR --host 127.0.0.1 --port 0``, waits until it lists the runs, opens the
SCALARS dashboard filtered to ``--runs`` (a regex) and ``--tag`` in Debian's ``chromium --headless``
(``apt-get install chromium``), writes the PNG and stops the server.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("logdir", type=Path)
    p.add_argument("--runs", default="", help="regex of the runs to show (default: all)")
    p.add_argument("--tag", default="eve/acc", help="tag filter (default eve/acc)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", default="1400,900")
    args = p.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(args.logdir), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = None
        while url is None:
            line = server.stdout.readline()
            if not line and server.poll() is not None:
                sys.exit("tensorboard exited before printing its address")
            match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
            url = match.group(1) if match else None
        for _ in range(120):  # the first scan of the log folder takes a moment
            if json.loads(urllib.request.urlopen(f"{url}/data/runs", timeout=30).read()):
                break
            time.sleep(1)
        time.sleep(5)
        query = urllib.parse.urlencode({"regexInput": args.runs, "tagFilter": args.tag, "_smoothingWeight": "0"})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "chromium",
                "--headless",
                "--no-sandbox",
                "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader",
                f"--screenshot={args.out.resolve()}",
                f"--window-size={args.size}",
                "--virtual-time-budget=20000",
                f"{url}/?darkMode=false#scalars&{query}",
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        print(f"wrote {args.out}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
