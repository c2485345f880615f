"""Undo and observations: decisions group the label events one person wrote in one go (so that an undo, itself
a decision, can withdraw them with events of source `undo`); Camtrap DP's lifeStage, sex and behavior on label
events; a review verdict keeps several boxes, each with its taxon, and counts per taxon."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def boxes_from_box(apps, schema_editor) -> None:
    """A verdict's one box becomes the first of its boxes (of the frame's own taxon)."""
    ReviewVerdict = apps.get_model("annotation", "ReviewVerdict")
    for verdict in ReviewVerdict.objects.exclude(box=None).iterator():
        verdict.boxes = [{**verdict.box, "taxon": None}]
        verdict.save(update_fields=["boxes"])


def box_from_boxes(apps, schema_editor) -> None:
    ReviewVerdict = apps.get_model("annotation", "ReviewVerdict")
    for verdict in ReviewVerdict.objects.exclude(boxes=[]).iterator():
        first = dict(verdict.boxes[0])
        first.pop("taxon", None)
        verdict.box = first
        verdict.save(update_fields=["box"])


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0009_deployment_metadata_and_class_mapping"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Decision",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("verdict", "review verdict"),
                            ("label", "label"),
                            ("accept", "accepted pre-labels"),
                            ("resolve", "conflict resolved"),
                            ("proposal", "new taxon proposed"),
                            ("proposal_accept", "new taxon accepted"),
                            ("undo", "undo"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "summary",
                    models.CharField(
                        help_text="What was saved, as the person was told.", max_length=300
                    ),
                ),
                (
                    "task_before",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="The task's fields before this decision, which an undo restores.",
                    ),
                ),
                (
                    "task_after",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="The task's fields after it: an undo checks nothing moved the task since.",
                    ),
                ),
                (
                    "verdict",
                    models.JSONField(
                        blank=True,
                        help_text="The review verdict given (kept after an undo).",
                        null=True,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "author",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="decisions",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="annotation.reviewtask",
                    ),
                ),
                (
                    "undoes",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="undone_by",
                        to="annotation.decision",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
            },
        ),
        migrations.AddField(
            model_name="annotation",
            name="behavior",
            field=models.CharField(
                blank=True, help_text="What the animal does (Camtrap DP behavior).", max_length=500
            ),
        ),
        migrations.AddField(
            model_name="annotation",
            name="life_stage",
            field=models.CharField(
                blank=True,
                choices=[("adult", "adult"), ("subadult", "subadult"), ("juvenile", "juvenile")],
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="annotation",
            name="sex",
            field=models.CharField(
                blank=True, choices=[("female", "female"), ("male", "male")], max_length=8
            ),
        ),
        migrations.AddField(
            model_name="annotation",
            name="undoes",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="undone_by",
                to="annotation.annotation",
            ),
        ),
        migrations.AddField(
            model_name="annotation",
            name="decision",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="annotations",
                to="annotation.decision",
            ),
        ),
        migrations.AlterField(
            model_name="annotation",
            name="source",
            field=models.CharField(
                choices=[
                    ("partner", "partner"),
                    ("expert", "expert"),
                    ("import", "import"),
                    ("model_accepted", "model accepted"),
                    ("undo", "undo"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="annotation",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("source", "undo"), ("undoes__isnull", False)),
                    models.Q(models.Q(("source", "undo"), _negated=True), ("undoes__isnull", True)),
                    _connector="OR",
                ),
                name="undo_events_undo_an_event",
            ),
        ),
        migrations.AddField(
            model_name="reviewverdict",
            name="boxes",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="[{frame, x, y, w, h, taxon}] drawn or fixed by the expert (taxon: null for the frame's own).",
            ),
        ),
        migrations.AddField(
            model_name="reviewverdict",
            name="observations",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="[{taxon, count, life_stage, sex, behavior}]: how many of each taxon and what they were like.",
            ),
        ),
        migrations.RunPython(boxes_from_box, box_from_boxes),
        migrations.RemoveField(
            model_name="reviewverdict",
            name="box",
        ),
    ]
