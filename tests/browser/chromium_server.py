"""One Chromium for a whole pytest session, launched by Playwright's own driver as a server
that each browser test module connects to (conftest.py's `chromium` and `browser`).

Run as a program by the `chromium` fixture: `python chromium_server.py CONFIG` starts
`python -m playwright launch-server --browser chromium --config CONFIG` (the driver's
`browserType.launchServer`: the same launch as `chromium.launch()`, Playwright's own
switches included, such as the --hide-scrollbars the screenshot widths depend on), prints
its WebSocket endpoint, then waits for its standard input to close: the fixture closes it
at the session's end, and so does the kernel when pytest dies, so no Chromium outlives the
session. Then SIGTERM to the driver, which closes Chromium before it exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

_STOP_SECONDS = 15.0  # the driver closes Chromium in well under a second when idle


def main(config: str) -> int:
    launch = ["launch-server", "--browser", "chromium", "--config", config]
    driver = subprocess.Popen(
        [sys.executable, "-m", "playwright", *launch],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # `python -m playwright` runs node as its child: one group
    )
    assert driver.stdout is not None
    endpoint = driver.stdout.readline().strip()  # "" if the driver exited without one
    print(endpoint, flush=True)
    if endpoint:
        sys.stdin.read()  # until the fixture, or pytest's death, closes it
    _signal_group(driver.pid, signal.SIGTERM)
    driver.wait()  # the Python wrapper, at once; node closes Chromium first
    # Until node is gone too (Chromium runs in a session of its own, which node ends).
    deadline = time.monotonic() + _STOP_SECONDS
    while _signal_group(driver.pid, 0) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the condition itself, bounded by the deadline
    if _signal_group(driver.pid, signal.SIGKILL):
        return 1  # node did not stop in time
    return 0


def _signal_group(group: int, signal_number: int) -> bool:
    """Sends the signal (0: none, a check) to the process group; False if none is left."""
    try:
        os.killpg(group, signal_number)
    except ProcessLookupError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
