"""Tasks reach the broker through the outbox (`PendingTask`): written with the caller's rows, handed
over once they commit, and kept for the sweep while the broker cannot take them. The broker that
refuses is a Redis client aimed at a port nobody listens on; the one that takes is the ORM broker on
the test database."""

import pytest
from django.db import transaction
from django_q import tasks
from django_q.brokers.orm import ORM
from django_q.conf import Conf

from annotation.models import UploadBatch
from faune_platform.jobs import pending_tasks_hand_over, task_enqueue_on_commit
from faune_platform.models import PendingTask
from tests.conftest import client_for, closed_port
from tests.factories import jpeg_bytes, upload

pytestmark = pytest.mark.django_db(transaction=True)  # hand-overs run when a transaction commits
PROBE = "faune_platform.jobs.pending_tasks_hand_over"  # any task path: none of them runs here


@pytest.fixture
def stopped_redis() -> object:
    """A Redis broker whose server is not running (the redis client is an optional extra: `.ci/run`
    installs it, and runs these tests in its integration pass)."""
    redis = pytest.importorskip("redis")
    from django_q.brokers.redis_broker import Redis

    broker = Redis.__new__(Redis)
    broker.list_key, broker.cache, broker._info = "django_q:outbox-test:q", None, None
    broker.connection = redis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1)
    return broker


@pytest.fixture
def use_broker(monkeypatch):
    """Switch the broker `async_task` queues on; tasks are queued, not run on the spot."""
    monkeypatch.setattr(Conf, "SYNC", False)
    current: dict[str, object] = {}
    monkeypatch.setattr(tasks, "get_broker", lambda *args, **kwargs: current["broker"])
    return lambda broker: current.update(broker=broker)


@pytest.fixture
def orm_broker() -> ORM:
    return ORM(list_key="outbox-test")


def test_a_committed_task_is_handed_over_at_once_and_forgotten(use_broker, orm_broker):
    use_broker(orm_broker)
    with transaction.atomic():
        task_enqueue_on_commit(PROBE, 7, [1, 2], name="probe")
        assert PendingTask.objects.count() == 1  # written with the caller's rows
        assert orm_broker.queue_size() == 0  # and not queued before they commit
    assert orm_broker.queue_size() == 1
    assert not PendingTask.objects.exists()


def test_a_rolled_back_task_leaves_nothing(use_broker, orm_broker):
    use_broker(orm_broker)
    with pytest.raises(RuntimeError), transaction.atomic():
        task_enqueue_on_commit(PROBE, 7)
        raise RuntimeError("the caller's work failed")
    assert not PendingTask.objects.exists() and orm_broker.queue_size() == 0


def test_a_task_the_broker_refuses_waits_for_the_sweep(use_broker, orm_broker, stopped_redis):
    use_broker(stopped_redis)
    with transaction.atomic():
        task_enqueue_on_commit(PROBE, 7, name="probe", timeout_s=30)  # no error reaches the caller
    waiting = PendingTask.objects.get()
    assert (waiting.func, waiting.args) == (PROBE, [7])
    assert waiting.options == {"task_name": "probe", "timeout": 30}
    assert pending_tasks_hand_over(older_than_s=0) == 0  # still down: kept for the next sweep
    use_broker(orm_broker)
    # a young row may still have its own hand-over on the way: the sweep leaves it
    assert pending_tasks_hand_over() == 0
    assert pending_tasks_hand_over(older_than_s=0) == 1
    assert not PendingTask.objects.exists() and orm_broker.queue_size() == 1


def test_an_upload_succeeds_with_the_broker_down_and_its_prelabelling_waits(
    use_broker, stopped_redis, partner, settings
):
    settings.FAUNE = {**settings.FAUNE, "AFTER_INGEST_TASKS": ["inference.tasks.prelabel_batch"]}
    use_broker(stopped_redis)
    response = client_for(partner).post(
        "/api/images/",
        {"files": [upload("a.jpg", jpeg_bytes())], "deployment_name": "cam"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    batch = UploadBatch.objects.get()
    assert batch.images.count() == 1
    assert list(PendingTask.objects.values_list("func", "args")) == [
        ("inference.tasks.prelabel_batch", [batch.pk])
    ]
