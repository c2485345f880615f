from django.db import migrations, models
from django.utils import timezone


def fail_all_but_the_first_queued(apps, schema_editor) -> None:
    """Before the constraint: requests queued together (a double click) leave the first waiting."""
    requests = apps.get_model("training", "ReleaseRequest")
    queued = requests.objects.filter(status="queued").order_by("created_at", "pk")
    extra = list(queued.values_list("pk", flat=True))[1:]
    requests.objects.filter(pk__in=extra).update(
        status="failed",
        error="made at the same time as another request to publish; that one goes on",
        finished_at=timezone.now(),
    )


class Migration(migrations.Migration):
    dependencies = [("training", "0004_release_requests")]

    operations = [
        migrations.RunPython(fail_all_but_the_first_queued, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="releaserequest",
            constraint=models.UniqueConstraint(
                condition=models.Q(status__in=["queued", "running"]),
                fields=("status",),
                name="one_active_release_request",
            ),
        ),
    ]
