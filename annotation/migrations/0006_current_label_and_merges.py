"""Materialised current labels (filled from the label events), review tasks that survive sequence merges."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import Case, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

RANK = {
    "expert": 3,
    "partner": 2,
    "model_accepted": 2,
    "import": 1,
}  # SOURCE_RANK when this was written


def fill_opened_for(apps, schema_editor) -> None:
    apps.get_model("annotation", "ReviewTask").objects.update(opened_for=F("sequence_id"))


def fill_current_labels(apps, schema_editor) -> None:
    image_model, annotation_model = (
        apps.get_model("annotation", "Image"),
        apps.get_model("annotation", "Annotation"),
    )
    rank = Case(
        *(When(source=source, then=Value(value)) for source, value in RANK.items()),
        output_field=IntegerField(),
    )
    winner = (
        annotation_model.objects.filter(
            Q(image=OuterRef("pk")) | Q(sequence=OuterRef("sequence_id"))
        )
        .annotate(rank=rank)
        .order_by("-rank", "-created_at", "-pk")
    )
    image_model.objects.update(
        current_label_id=Subquery(winner.values("pk")[:1]),
        current_taxon_id=Subquery(winner.values("taxon_id")[:1]),
        current_source=Coalesce(Subquery(winner.values("source")[:1]), Value("")),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0005_review_verdicts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="reviewtask",
            name="one_open_review_per_sequence",
        ),
        migrations.AddField(
            model_name="image",
            name="current_label",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="annotation.annotation",
            ),
        ),
        migrations.AddField(
            model_name="image",
            name="current_source",
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name="image",
            name="current_taxon",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="annotation.taxon",
            ),
        ),
        migrations.AddField(
            model_name="reviewtask",
            name="opened_for",
            field=models.BigIntegerField(
                default=0,
                help_text="The sequence this task was opened for (it may since have merged into `sequence`).",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(fill_opened_for, migrations.RunPython.noop),
        migrations.AddField(
            model_name="uploadbatch",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True, help_text="Last sign of life of the worker.", null=True
            ),
        ),
        migrations.AddField(
            model_name="uploadbatch",
            name="resumes",
            field=models.PositiveSmallIntegerField(
                default=0, help_text="Times the job was queued again after its worker stopped."
            ),
        ),
        migrations.AddField(
            model_name="uploadbatch",
            name="token",
            field=models.CharField(
                blank=True, help_text="Only the task carrying it may work the job.", max_length=32
            ),
        ),
        migrations.AlterField(
            model_name="annotation",
            name="sequence",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="annotations",
                to="annotation.sequence",
            ),
        ),
        migrations.AlterField(
            model_name="reviewtask",
            name="sequence",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="review_tasks",
                to="annotation.sequence",
            ),
        ),
        migrations.AlterField(
            model_name="reviewtask",
            name="state",
            field=models.CharField(
                choices=[
                    ("open", "open"),
                    ("done", "done"),
                    ("skipped", "skipped"),
                    ("conflict", "conflict"),
                    ("merged", "merged"),
                ],
                default="open",
                max_length=8,
            ),
        ),
        migrations.AlterField(
            model_name="uploadbatch",
            name="status",
            field=models.CharField(
                choices=[
                    ("open", "open"),
                    ("queued", "queued"),
                    ("running", "running"),
                    ("done", "done"),
                    ("failed", "failed"),
                ],
                default="open",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="reviewtask",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ("open", "conflict"))),
                fields=("sequence", "opened_for"),
                name="one_open_review_per_sequence",
            ),
        ),
        migrations.RunPython(fill_current_labels, migrations.RunPython.noop),
    ]
