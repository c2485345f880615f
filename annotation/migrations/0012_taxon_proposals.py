"""'A species not in the list': experts propose a taxon with the frames that show it; the task waits (state
`proposed`, so its sequence gets no second task) until a coordinator accepts or declines the proposal."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0011_review_task_checks_label"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TaxonProposal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120)),
                ("scientific_name", models.CharField(blank=True, max_length=160)),
                (
                    "labels_stamp",
                    models.BigIntegerField(
                        default=0,
                        help_text="The newest label event on the frames when proposed: a frame labelled since is left alone.",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "pending"),
                            ("accepted", "accepted"),
                            ("declined", "declined"),
                            ("withdrawn", "withdrawn"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                (
                    "note",
                    models.CharField(
                        blank=True,
                        help_text="The coordinator's word to the expert.",
                        max_length=500,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "decided_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "frames",
                    models.ManyToManyField(related_name="taxon_proposals", to="annotation.image"),
                ),
                (
                    "proposed_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="proposals",
                        to="annotation.reviewtask",
                    ),
                ),
                (
                    "taxon",
                    models.ForeignKey(
                        blank=True,
                        help_text="The taxon it was accepted as.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="annotation.taxon",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-pk"],
            },
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
                    ("proposed", "proposed"),
                ],
                default="open",
                max_length=8,
            ),
        ),
        migrations.RemoveConstraint(
            model_name="reviewtask",
            name="one_open_review_per_sequence",
        ),
        migrations.AddConstraint(
            model_name="reviewtask",
            constraint=models.UniqueConstraint(
                condition=models.Q(("state__in", ("open", "conflict", "proposed"))),
                fields=("sequence", "opened_for"),
                name="one_open_review_per_sequence",
            ),
        ),
    ]
