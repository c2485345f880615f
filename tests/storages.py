"""A storage backend for tests that behaves as object storage does: files kept away from
this disk, and no `path()` (django-storages' S3Storage has none either: Storage.path
raises NotImplementedError)."""

from django.core.files.storage import InMemoryStorage, Storage


class PathlessStorage(Storage):
    def __init__(self) -> None:
        self._memory = InMemoryStorage()

    def _open(self, name, mode="rb"):
        return self._memory._open(name, mode)

    def _save(self, name, content):
        return self._memory._save(name, content)

    def exists(self, name):
        return self._memory.exists(name)

    def delete(self, name):
        self._memory.delete(name)

    def size(self, name):
        return self._memory.size(name)

    def listdir(self, path):
        return self._memory.listdir(path)

    def url(self, name):
        return self._memory.url(name)
