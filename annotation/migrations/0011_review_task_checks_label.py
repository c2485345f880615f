"""A review task that checks a label (a partner's correction) points at it, so the desk shows that label first.
Tasks opened before this point get the partner label they were opened for: the newest partner label on their
frame or sequence given before the task."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Q


def link_partner_corrections(apps, schema_editor) -> None:
    ReviewTask = apps.get_model("annotation", "ReviewTask")
    Annotation = apps.get_model("annotation", "Annotation")
    for task in ReviewTask.objects.filter(
        origin="correction", checks_label__isnull=True
    ).iterator():
        label = (
            Annotation.objects.filter(
                Q(image_id=task.image_id) | Q(sequence_id=task.sequence_id),
                source="partner",
                created_at__lte=task.created_at,
            )
            .order_by("-created_at", "-pk")
            .first()
        )
        if label is not None:
            ReviewTask.objects.filter(pk=task.pk).update(checks_label=label)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0010_undo_and_observations"),
    ]

    operations = [
        migrations.AddField(
            model_name="reviewtask",
            name="checks_label",
            field=models.ForeignKey(
                blank=True,
                help_text="The label this task checks (a partner's correction): shown first.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="annotation.annotation",
            ),
        ),
        migrations.RunPython(link_partner_corrections, migrations.RunPython.noop),
    ]
