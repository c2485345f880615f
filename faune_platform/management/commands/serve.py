"""Run the web server and a django-q2 worker together; Ctrl-C stops both.

Either process dying stops the other, so a half-running platform (pages up, jobs never processed)
cannot go unnoticed."""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandParser

from faune_platform.blas import kernels_report


class Command(BaseCommand):
    help = (
        "Start the web server (waitress) and the background worker (qcluster); Ctrl-C stops both."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=os.environ.get("FAUNE_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("FAUNE_PORT", "8000")))
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args: object, **options: object) -> None:
        web = [
            sys.executable,
            "-m",
            "waitress",
            f"--host={options['host']}",
            f"--port={options['port']}",
            f"--threads={options['threads']}",
            "--max-request-body-size=4294967296",
            "faune_platform.wsgi:application",
        ]
        worker = [sys.executable, "manage.py", "qcluster"]
        # Children get their own session so a terminal's Ctrl-C reaches only this process, which
        # then stops them in order; otherwise each would print its own KeyboardInterrupt traceback.
        processes = [
            subprocess.Popen(command, start_new_session=True)  # noqa: S603
            for command in (web, worker)
        ]
        # Ctrl-C stops it even when started from a shell script's background job, whose children
        # inherit SIGINT ignored (Python then installs no KeyboardInterrupt of its own)
        signal.signal(signal.SIGINT, _raise_interrupt)
        signal.signal(signal.SIGTERM, _raise_interrupt)
        # From here on a Ctrl-C stops both children, even one pressed while the start-up report is
        # written (the children's own sessions would otherwise outlive this process).
        try:
            # slow similarity search on some CPUs starts here: see blas.py
            self.stdout.write(kernels_report())
            self.stdout.write(
                f"Faune is running at http://{options['host']}:{options['port']}/ (Ctrl-C stops it)"
            )
            while all(process.poll() is None for process in processes):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self._stop(processes)

    def _stop(self, processes: list[subprocess.Popen]) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        self.stdout.write("Faune stopped.")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
