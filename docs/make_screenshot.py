"""Regenerate docs/screenshot.svg: the real app (engine, model) replaying the bundled sample logs.

    python docs/make_screenshot.py [--seconds 25] [--size 160x50]
"""
from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from trafficwatch.app.app import TrafficWatchApp
from trafficwatch.engine.engine import Engine, EngineConfig
from trafficwatch.resources import sample_logs_dir


async def main(seconds: float, size: tuple[int, int], out: Path) -> None:
    cfg = EngineConfig(paths=[str(sample_logs_dir())], replay=True, speed=3600 * 24 * 7,
                       fine_tune=False)
    app = TrafficWatchApp(lambda cb: Engine(cfg, cb))
    async with app.run_test(size=size) as pilot:
        await pilot.pause(seconds)  # the replay reaches the end; the model has predicted
        app.save_screenshot(filename=out.name, path=str(out.parent))
        await pilot.press("q")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--size", default="160x50")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    asyncio.run(main(a.seconds, (w, h), Path(__file__).resolve().parent / "screenshot.svg"))
