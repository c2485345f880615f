"""Named places where a fault test stops a job, so that it can kill the worker exactly there.

`FAUNE_FAILPOINTS=name,...` names the points to stop at (empty, the default, in every real
deployment). A worker that reaches a named point writes `DATA_DIR/failpoints/<name>` (the test waits
for that file) and then sleeps until it is killed. The points sit where a crash would hurt most:
between a job's work and its record."""

import os
import time
from pathlib import Path

from django.conf import settings


def failpoint(name: str) -> None:
    if name not in settings.FAUNE["FAILPOINTS"]:
        return
    marker = Path(settings.DATA_DIR) / "failpoints" / name
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(str(os.getpid()))
    time.sleep(
        settings.FAUNE["JOB_TIMEOUT_S"] * 2
    )  # killed long before; a worker nobody kills times out


def failpoint_reached(name: str) -> bool:
    return (Path(settings.DATA_DIR) / "failpoints" / name).exists()
