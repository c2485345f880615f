"""python manage.py rebuild_index [--backbone KEY]: rebuild FAISS indexes from the
stored embeddings."""

import json
import time

from django.core.management.base import BaseCommand, CommandParser

from inference.models import Embedding
from inference.services.index import index_path, index_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild the similarity index of each backbone (or one) from the embeddings in the "
        "database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--backbone", help="backbone key; default: every backbone with embeddings"
        )

    def handle(self, *args: object, **options: object) -> None:
        keys = (
            [options["backbone"]]
            if options["backbone"]
            else list(Embedding.objects.values_list("backbone_key", flat=True).distinct())
        )
        for key in keys:
            start = time.perf_counter()
            index = index_rebuild(key)
            size, kind = (index.size, index.kind) if index else (0, "none")
            self.stdout.write(
                json.dumps(
                    {
                        "backbone": key,
                        "vectors": size,
                        "kind": kind,
                        "path": str(index_path(key)),
                        "seconds": round(time.perf_counter() - start, 2),
                    }
                )
            )
