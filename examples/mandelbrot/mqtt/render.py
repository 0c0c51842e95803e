#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Subscribe to the Mandelbrot demo's pixel topic and write the PNG.

Understands both message shapes the workers publish: one pixel per message
(`{"event_type": "Pixel", "x", "y", "iterations", ...}`, the seed's programs) and one column of a
tile per message (`{"event_type": "PixelColumn", "x", "y", "iterations": [250 ints]}`, columns.vpl).

    python examples/mandelbrot/mqtt/render.py --broker localhost:1883 --out mandelbrot.png
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mandelbrot_png import CHECKSUM, PIXELS, SIZE, write_png  # noqa: E402  (examples is not a package)

TOPIC = "mandelbrot/pixels"


class Renderer:
    """An MQTT subscriber that paints every pixel it receives into an iteration image."""

    def __init__(self, host: str, port: int, topic: str = TOPIC):
        self.image = bytearray(PIXELS)
        self.pixels = self.messages = self.checksum = self.malformed = 0
        self.last_message = time.monotonic()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda c, *_: c.subscribe(topic, qos=0)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect(host, port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            self.close()
            raise TimeoutError(f"no subscription to {topic} on {host}:{port}")

    def _on_message(self, _client, _userdata, message) -> None:
        self.messages += 1
        self.last_message = time.monotonic()
        try:
            m = json.loads(message.payload)
            x, y, iterations = m["x"], m["y"], m["iterations"]
            column = iterations if isinstance(iterations, list) else [iterations]
        except (ValueError, KeyError, TypeError):
            self.malformed += 1
            return
        for dy, iters in enumerate(column):
            self.image[(y + dy) * SIZE + x] = min(iters, 255)
            self.checksum += iters
        self.pixels += len(column)

    def wait(self, pixels: int = PIXELS, idle_timeout: float = 10) -> bool:
        """Wait until `pixels` arrived (True) or nothing came for `idle_timeout` seconds (False)."""
        while self.pixels < pixels:
            if time.monotonic() - self.last_message > idle_timeout:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", default="localhost:1883", help="HOST:PORT of the MQTT broker")
    parser.add_argument("--out", default="mandelbrot.png")
    args = parser.parse_args()
    host, _, port = args.broker.rpartition(":")
    renderer = Renderer(host, int(port))
    print(f"subscribed to {TOPIC} on {args.broker}; waiting for {PIXELS:,} pixels")
    try:
        complete = renderer.wait(idle_timeout=3600)
    finally:
        renderer.close()
    write_png(Path(args.out), renderer.image)
    print(f"{renderer.pixels:,} pixels in {renderer.messages:,} messages, checksum {renderer.checksum:,}"
          f" ({'OK' if renderer.checksum == CHECKSUM else f'expected {CHECKSUM:,}'}); image: {args.out}")
    return 0 if complete and renderer.checksum == CHECKSUM else 1


if __name__ == "__main__":
    sys.exit(main())
