"""The platform's own tables: API tokens (the rest of the domain lives in annotation, inference
and training)."""

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
