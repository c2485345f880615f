"""The platform's own tables: API tokens and tasks on their way to the broker (the rest of the
domain lives in annotation, inference and training)."""

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A named, expiring API token. Only the SHA-256 of its secret is kept: the secret is shown
    once, when it is made. `password_stamp` ties the token to the password its owner had then: a new
    password voids it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(
        max_length=12
    )  # the secret's first characters, to tell tokens apart in lists
    key_hash = models.CharField(max_length=64, unique=True)
    password_stamp = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class PendingTask(models.Model):
    """A task written in the same transaction as the rows it works on, and deleted once the broker
    has taken it (the outbox). A row that stays, because the broker was down (Redis stopped) or the
    process died between the commit and the hand-over, is handed over by the periodic sweep: a task
    is never lost with the rows committed. It may at worst run twice, which every task allows (jobs
    claim their row by token; the other tasks are checks that can repeat)."""

    func = models.CharField(max_length=255)  # the task's dotted path
    args = models.JSONField(default=list)
    options = models.JSONField(default=dict)  # django-q options: task_name, timeout
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.func}{tuple(self.args)}"
