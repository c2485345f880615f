"""Start Django for a benchmark in a throw-away data dir, so benchmarks never touch var/."""

import os
import tempfile
from pathlib import Path


def setup_django() -> Path:
    data_dir = Path(tempfile.mkdtemp(prefix="faune-bench-"))
    os.environ["FAUNE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "faune_platform.settings.base")
    os.environ.setdefault("FAUNE_ALLOWED_HOSTS", "testserver,localhost")
    os.environ.setdefault("FAUNE_LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    from faune_platform.settings.secret import secret_key_ensure

    secret_key_ensure(data_dir)  # before settings load, as manage.py bootstrap does

    django.setup()
    call_command("bootstrap", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    return data_dir
